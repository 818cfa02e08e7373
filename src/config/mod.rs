//! Configuration: every environment variable once, with its default, parser and meaning.
//!
//! Values come from an env file (`--config PATH`, else `/etc/sentinel/sentinel.env` when it
//! exists; the original's `.env` works as is) and from the process environment, which wins
//! (SPEC §9). The table in `vars` declares each variable once: its name, default, parser,
//! secrecy and meaning. [`Config::from_source`] fills the typed [`Config`] from it (`read`),
//! `sentinel check-config` prints it ([`describe`]), and [`VARS`] is its list. Unlike the
//! original, a bad value is an error that names the variable, the value and what is expected.
//!
//! - `source`: the env file and the environment, as strings ([`Source`]).
//! - `vars`: the table; `parse`: the parsers its entries name.
//! - `read`: composes [`Config`] from the entries; `cron`: the original's `CRON_*` schedule.
//! - `describe`: the `check-config` report and the start-up warnings.
//! - `instance`: `--instance NAME` (issue 29): its env file and its data directory.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use jiff::SignedDuration;
use jiff::civil::Time;

use crate::domain::ai::Redaction;
use crate::domain::calendar::Calendar;
use crate::domain::event::VoicemailCallback;

mod bucket_url;
mod cron;
mod describe;
pub mod instance;
mod parse;
mod read;
mod source;
mod vars;

pub use bucket_url::BucketUrl;
pub use cron::{CronNote, CronSchedule};
pub use describe::{describe, warnings};
pub use parse::parse_clock;
pub use read::db_path_here;
pub use source::{Origin, Source, parse_env_file};
pub use vars::{VARS, VarDef};

/// The env file read when `--config` is not given, if it exists.
pub const DEFAULT_ENV_FILE: &str = "/etc/sentinel/sentinel.env";

/// Prefix of the original's schedule variables (`CRON_*`): hours of the day, mapped onto the
/// internal schedule. Accepted with any suffix so that an existing `.env` keeps working.
pub const CRON_PREFIX: &str = "CRON_";

/// The shortest `OFFBOX_ENCRYPTION_KEY` accepted.
pub const OFFBOX_KEY_MIN_CHARS: usize = 16;

/// The manual test clock (see `time`): known, so an env file may carry it without a warning.
const TEST_CLOCK_VAR: &str = "SENTINEL_TEST_NOW";

/// A secret value: printed masked, never in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself, for comparing and sending; never for logging.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.0))
    }
}

/// Masks a secret for display: its length and last two characters at most.
pub fn mask(value: &str) -> String {
    let count = value.chars().count();
    if count == 0 {
        return String::new();
    }
    if count < 12 {
        return "****".to_string();
    }
    let tail: String = value.chars().skip(count - 2).collect();
    format!("****{tail} ({count} chars)")
}

/// The typed, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The shared webhook secret; `None` until [`crate::secret::ensure_webhook_secret`] fills it.
    pub webhook_secret: Option<Secret>,
    /// Webhook listener address.
    pub listen_addr: SocketAddr,
    /// Admin listener address.
    pub admin_listen_addr: SocketAddr,
    /// `PUBLIC_URL`, without a trailing slash: where GHL's workflows reach the webhook listener
    /// through the tunnel (`sentinel doctor` proves it with a probe).
    pub public_url: Option<String>,
    /// The SQLite file.
    pub db_path: PathBuf,
    /// `--instance NAME` (issue 29): the location `sentinel@NAME.service` runs; `None` for the
    /// main `sentinel.service`.
    pub instance: Option<String>,
    /// The original's Docker-era `DB_PATH` (under `/data`), set aside under systemd for the
    /// state directory; `warnings` says so.
    pub docker_db_path: Option<PathBuf>,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Longest a client may stall, and the deadline for a whole body.
    pub http_timeout: std::time::Duration,
    /// The header a local tunnel reports the client's address in, if it is to be believed.
    pub client_ip_header: Option<String>,
    /// Everything about talking to GHL.
    pub ghl: GhlConfig,
    /// Managers' GHL contact ids, in order.
    pub manager_contact_ids: Vec<String>,
    /// Staff contact ids (commands, never issues).
    pub internal_contact_ids: Vec<String>,
    /// When non-empty, the only user ids that count as staff.
    pub internal_user_ids: Vec<String>,
    /// The business calendar.
    pub calendar: Calendar,
    /// Response target for texts.
    pub sms_sla: SignedDuration,
    /// Response target for missed calls.
    pub call_sla: SignedDuration,
    /// Business age at which an OPEN issue is escalated.
    pub escalation: SignedDuration,
    /// Digest slots, in time order.
    pub summary_slots: Vec<SummarySlot>,
    /// Lines per digest section.
    pub summary_max_items: usize,
    /// Raw event retention.
    pub raw_events_retention_days: u32,
    /// `DATA_MAX_MB` in bytes, when set; else derived from the data partition's size.
    pub data_max_bytes: Option<u64>,
    /// How far before a CALL issue a callback still counts.
    pub call_resolve_lookback: SignedDuration,
    /// Whether a callback that reached only the voicemail answers a missed call.
    pub call_voicemail: VoicemailCallback,
    /// Whether `/webhook/ghl/unanswered_call` needs a missed-call marker.
    pub call_require_missed_marker: bool,
    /// Keys that mark a missed call.
    pub call_missed_marker_keys: Vec<String>,
    /// Whether acknowledgements after a staff reply open no issue.
    pub ack_close_enabled: bool,
    /// Longest acknowledgement, in characters.
    pub ack_close_max_len: usize,
    /// How long after a staff reply an acknowledgement still closes the thread.
    pub ack_close_window: crate::domain::classify::AckWindow,
    /// Cadence of the resolver's checks of OPEN issues.
    pub resolver_interval: SignedDuration,
    /// Catch-up after gaps (SPEC §12).
    pub catchup: CatchUpConfig,
    /// Status LED directory.
    pub led_path: PathBuf,
    /// When the wall clock is believed.
    pub clock_sync: ClockSync,
    /// The tunnel's readiness endpoint.
    pub tunnel_ready_url: Option<String>,
    /// The optional AI check (SPEC §10).
    pub ai_gate: AiGateConfig,
    /// The days digests go out on (`CRON_DOW`); `None` is every business day.
    pub digest_days: Option<crate::domain::cron::Weekdays>,
    /// How the original's `CRON_*` variables were read and mapped, for `check-config`.
    pub cron: Vec<CronNote>,
    /// Whether the digest slots came from the `CRON_*` digest hours.
    pub slots_from_cron: bool,
    /// Whether the resolver's cadence came from `CRON_POLL_RESOLVER_EVERY_MINUTES`.
    pub resolver_from_cron: bool,
    /// The optional off-box copy of the nightly backup (issue 15).
    pub offbox: OffboxConfig,
    /// Webhooks told of events besides the managers' SMS (issue 18).
    pub notify: NotifyConfig,
    /// The managers' console (issue 17).
    pub console: ConsoleConfig,
    /// How long a version on trial has to become healthy (`UPDATE_TRIAL_MINUTES`, issue 16).
    pub update_trial: std::time::Duration,
    /// The release manifest checked nightly for automatic updates (`UPDATE_URL`, issue 16).
    pub update_url: Option<String>,
    /// The env file this configuration was read from, if any: the off-box copy carries it.
    pub env_file: Option<PathBuf>,
}

/// Catch-up after gaps (SPEC §12).
#[derive(Debug, Clone)]
pub struct CatchUpConfig {
    /// `WEBHOOKS`: false when the office runs on catch-up alone.
    pub webhooks: bool,
    /// `CATCHUP_INTERVAL_MINUTES`: the cadence in business hours.
    pub interval: SignedDuration,
    /// `CATCHUP_LOOKBACK_HOURS`: the farthest back a pass looks.
    pub lookback: SignedDuration,
    /// `CATCHUP_ALERT_AFTER`: found customer messages in a business day before managers are
    /// told; 0 never.
    pub alert_after: u32,
}

impl CatchUpConfig {
    /// The cadence when `CATCHUP_INTERVAL_MINUTES` is unset: 10 minutes behind webhooks, 3 on
    /// catch-up alone.
    pub fn default_interval(webhooks: bool) -> SignedDuration {
        SignedDuration::from_mins(if webhooks { 10 } else { 3 })
    }
}

/// When the wall clock is believed (`CLOCK_SYNC`, issue 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSync {
    /// Unless systemd-timesyncd runs and has not synchronized yet, or the clock reads earlier
    /// than this software was built.
    Auto,
    /// Only once timesyncd or the kernel says the clock is synchronized.
    Required,
    /// Always.
    Off,
}

/// The `Version` header GHL's OpenAPI gives every Conversations operation.
pub const DOCUMENTED_VERSION_CONVERSATIONS: &str = "2021-04-15";
/// The `Version` header GHL's OpenAPI gives every Contacts operation.
pub const DOCUMENTED_VERSION_CONTACTS: &str = "2021-07-28";

impl GhlConfig {
    /// The `Version` headers in effect, for `check-config`.
    pub fn describe_versions(&self) -> String {
        let (conversations, contacts) = (DOCUMENTED_VERSION_CONVERSATIONS, DOCUMENTED_VERSION_CONTACTS);
        match &self.version {
            Some(version) => format!(
                "{version} on every endpoint (GHL_VERSION is set; unset it to send each endpoint the value GHL documents: conversations {conversations}, contacts {contacts})"
            ),
            None => format!("conversations {conversations}, contacts {contacts} (each endpoint's documented value)"),
        }
    }
}

/// Settings for the GHL client.
#[derive(Debug, Clone)]
pub struct GhlConfig {
    /// Bearer token; `None` means sends are recorded as not sent.
    pub token: Option<Secret>,
    /// `Version` header for every endpoint, when `GHL_VERSION` is set; `None` sends each
    /// endpoint the value GHL documents for it.
    pub version: Option<String>,
    /// API base URL, without a trailing slash.
    pub base_url: String,
    /// The location this appliance serves.
    pub location_id: Option<String>,
    /// Web app base for deep links.
    pub app_base: String,
    /// Reject unsigned Marketplace events.
    pub require_signature: bool,
    /// Replacement Ed25519 key.
    pub ed25519_key: Option<String>,
    /// Replacement RSA key.
    pub rsa_key: Option<String>,
    /// Requests in any 10-second window.
    pub rate_limit_per_10s: u32,
    /// Requests per local day.
    pub daily_budget: u32,
    /// Longest wait for one answer.
    pub timeout: std::time::Duration,
}

/// One digest slot: `morning=08:00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummarySlot {
    /// The slot's name, used in `/jobs/send_summary?slot=`.
    pub name: String,
    /// Local time of day.
    pub at: Time,
}

/// Settings for the optional AI check (SPEC §10).
#[derive(Debug, Clone)]
pub struct AiGateConfig {
    /// Whether the check runs.
    pub enabled: bool,
    /// API key; required when enabled.
    pub api_key: Option<Secret>,
    /// Endpoint base, without a trailing slash.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// A NO at least this sure resolves the issue.
    pub suppress_no_confidence: f64,
    /// Most recent messages sent.
    pub max_messages: usize,
    /// A silence this long ends the thread sent.
    pub gap: SignedDuration,
    /// Most AI requests in one settling run.
    pub max_per_run: usize,
    /// Longest one settling run spends on AI requests, in real time.
    pub run_budget: std::time::Duration,
    /// Longest wait for one answer, in real time.
    pub timeout: std::time::Duration,
    /// Whether phones, e-mails and URLs are masked before sending.
    pub redaction: Redaction,
    /// Most tokens an answer may take (`max_output_tokens`); `None` sends no limit.
    pub max_output_tokens: Option<u32>,
}

/// Settings for the optional off-box copy (issue 15): each nightly backup, encrypted together
/// with the env file, in an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct OffboxConfig {
    /// The bucket (and key prefix) of the nightly upload; `None` means no upload.
    pub bucket: Option<BucketUrl>,
    /// The region requests are signed for.
    pub region: String,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<Secret>,
    /// The passphrase the copies are encrypted with.
    pub encryption_key: Option<Secret>,
    /// Copies kept in the bucket.
    pub keep: usize,
}

/// The managers' console (issue 17): where managers reach it and how long a sign-in lasts.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// `CONSOLE_URL`, without a trailing slash: the base of the sign-in links sent by SMS.
    pub url: Option<String>,
    /// `CONSOLE_SESSION_HOURS`: how long a session lasts after sign-in.
    pub session: SignedDuration,
}

impl ConsoleConfig {
    /// Whether the console is reached over TLS, so its cookie must be `Secure`.
    pub fn is_https(&self) -> bool {
        self.url.as_deref().is_some_and(|url| url.starts_with("https://"))
    }
}

/// Webhooks told of events besides the managers' SMS, and the key that signs them.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    /// The URLs and the kinds of event each takes.
    pub targets: Vec<crate::domain::notify::Target>,
    /// The Standard Webhooks signing secret (`whsec_…`), validated.
    pub secret: Option<Secret>,
}

impl NotifyConfig {
    /// The signing key's bytes, when a secret is set.
    pub fn key(&self) -> Option<Vec<u8>> {
        self.secret.as_ref().and_then(|secret| crate::domain::notify::parse_secret(secret.expose()).ok())
    }
}

impl Config {
    /// The most the database and its backups may take: `DATA_MAX_MB`, else a quarter of the
    /// data partition, between 64 MB and 4 GB.
    pub fn data_budget(&self) -> u64 {
        self.data_max_bytes.unwrap_or_else(|| {
            let partition = crate::backup::filesystem_space(&self.data_dir()).map_or(256 << 20, |(size, _)| size);
            (partition / 4).clamp(64 << 20, 4 << 30)
        })
    }

    /// Whether digests go out on `date`: a business day of `calendar` (the one in force,
    /// special days included), and one of `CRON_DOW`'s days if set.
    pub fn is_digest_day(&self, calendar: &Calendar, date: jiff::civil::Date) -> bool {
        calendar.is_business_day(date) && self.digest_days.is_none_or(|days| days.contains(date.weekday()))
    }

    /// The directory holding the database, the generated secret and backups.
    pub fn data_dir(&self) -> PathBuf {
        match self.db_path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

#[cfg(test)]
mod tests;

/// The way-in probe's route on the webhook listener (the one the tunnel exposes), which
/// `sentinel doctor` posts to through `PUBLIC_URL` (SPEC §13). Here, below both `http` and
/// `doctor`, so neither imports the other.
pub const PROBE_PATH: &str = "/webhook/ghl/probe";
/// The admin route answering whether a probe's nonce arrived: `GET /api/probe/<nonce>`.
pub const PROBE_API: &str = "/api/probe/";
