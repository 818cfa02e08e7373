//! Configuration: every environment variable once, with its default, parser and meaning.
//!
//! Values come from an env file (`--config PATH`, else `/etc/sentinel/sentinel.env` when it
//! exists; the original's `.env` works as is) and from the process environment, which wins
//! (SPEC §9). [`VARS`] is the single table: `sentinel check-config` prints from it, defaults
//! live only there, and [`Config::from_source`] reads every typed field through it. Unlike the
//! original, a bad value is an error that names the variable, the value and what is expected.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use jiff::SignedDuration;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use crate::domain::ai::Redaction;
use crate::domain::calendar::{Calendar, WeeklySchedule, parse_holidays};
use crate::domain::event::VoicemailCallback;

mod cron;
pub use cron::{CronNote, CronSchedule};

/// One environment variable: its name, default, whether it is a secret, and what it means.
#[derive(Debug)]
pub struct VarDef {
    /// The variable's name, as the original spelled it.
    pub name: &'static str,
    /// The value used when the variable is unset or empty.
    pub default: &'static str,
    /// Secrets are masked by `check-config` and never logged.
    pub secret: bool,
    /// One line for `check-config` and the README.
    pub doc: &'static str,
}

const fn var(name: &'static str, default: &'static str, doc: &'static str) -> VarDef {
    VarDef { name, default, secret: false, doc }
}

const fn secret(name: &'static str, doc: &'static str) -> VarDef {
    VarDef { name, default: "", secret: true, doc }
}

/// Every variable Sentinel reads, in the order `check-config` prints them.
#[rustfmt::skip]
pub const VARS: &[VarDef] = &[
    secret("WEBHOOK_SECRET", "shared secret for X-NTPP-Secret or ?secret=; generated once into the data directory when unset"),
    var("LISTEN_ADDR", "127.0.0.1:8000", "webhook listener (the only one the tunnel exposes)"),
    var("ADMIN_LISTEN_ADDR", "127.0.0.1:8001", "admin listener: jobs, status page, API, metrics"),
    var("DB_PATH", "", "SQLite file; default $STATE_DIRECTORY/sentinel.db under systemd, else ./sentinel-data/sentinel.db"),
    var("MAX_BODY_BYTES", "262144", "largest accepted request body in bytes"),
    var("HTTP_TIMEOUT_SECONDS", "30", "longest a client may stall mid-request, and the longest a whole body may take"),
    var("CLIENT_IP_HEADER", "", "header a local tunnel puts the client's address in (e.g. CF-Connecting-IP); believed only from 127.0.0.1, for slowing guessers per source"),
    secret("GHL_TOKEN", "GHL private integration or OAuth token; unset means nothing is sent to GHL"),
    var("GHL_VERSION", "", "GHL API Version header for every endpoint; unset sends each the value GHL documents for it (conversations 2021-04-15, contacts 2021-07-28)"),
    var("GHL_BASE_URL", "https://services.leadconnectorhq.com", "GHL API base URL"),
    var("GHL_LOCATION_ID", "", "GHL location (sub-account); events for other locations are stored and ignored"),
    var("GHL_APP_BASE", "https://app.gohighlevel.com", "GHL web app base for conversation deep links"),
    var("GHL_REQUIRE_SIGNATURE", "0", "1 rejects Marketplace events without a valid GHL signature"),
    var("GHL_WEBHOOK_ED25519_KEY", "", "replaces GHL's published Ed25519 webhook key (PEM or base64)"),
    var("GHL_WEBHOOK_RSA_KEY", "", "replaces GHL's published RSA webhook key (PEM or base64)"),
    var("GHL_RATE_LIMIT_PER_10S", "60", "client-side limit of GHL requests in any 10-second window"),
    var("GHL_DAILY_BUDGET", "20000", "most GHL requests per local day"),
    var("GHL_TIMEOUT_SECONDS", "20", "longest wait for one GHL answer"),
    var("MANAGER_CONTACT_IDS", "", "GHL contact ids of managers who get alerts and digests, in order"),
    var("INTERNAL_CONTACT_IDS", "", "GHL contact ids of staff: their texts are commands, never issues"),
    var("INTERNAL_USER_IDS", "", "when set, only these GHL user ids count as staff replies"),
    var("TIMEZONE", "America/Chicago", "IANA zone of the business"),
    var("BUSINESS_HOURS_START", "08:00", "opening time Monday to Friday"),
    var("BUSINESS_HOURS_END", "17:00", "closing time Monday to Friday"),
    var("BUSINESS_SCHEDULE", "", "weekly schedule, e.g. \"mon-fri 08:00-12:00,13:00-17:00; sat 09:00-12:00\"; wins over the two above"),
    var("HOLIDAYS", "", "closed dates, optionally with special hours: 2026-11-26,2026-12-24=08:00-12:00"),
    var("SMS_SLA_HOURS", "2", "business hours to answer a text"),
    var("CALL_SLA_HOURS", "2", "business hours to return a missed call"),
    var("ESCALATION_BUSINESS_HOURS", "24", "business hours after which an OPEN issue is escalated"),
    var("SUMMARY_SLOTS", "morning=08:00,midday=11:00,afternoon=15:00", "digest slots on business days"),
    var("SUMMARY_MAX_ITEMS_PER_SECTION", "8", "lines per digest section before +N more"),
    var("RAW_EVENTS_RETENTION_DAYS", "30", "days raw webhook events are kept"),
    var("DATA_MAX_MB", "", "most the database and its nightly backups may take, in MB; default a quarter of the data partition (64 MB to 4 GB); the oldest raw events, then the oldest backups, go first"),
    var("CALL_DEDUPE_WINDOW_MINUTES", "240", "accepted from the original, no longer needed: a repeat missed call counts as an attempt on the live issue (SPEC §5.1), and a retried delivery is a duplicate by its ids or body"),
    var("CALL_RESOLVE_LOOKBACK_MINUTES", "15", "a callback this long before the CALL issue was created still resolves it"),
    var("CALL_VOICEMAIL_COUNTS_AS_CALLBACK", "1", "1: a callback that reached only the customer's voicemail answers the missed call; 0: only a call the customer picked up does (busy, unanswered or failed callbacks never do)"),
    var("CALL_REQUIRE_MISSED_MARKER", "1", "0 drops the missed-call marker requirement on /webhook/ghl/unanswered_call"),
    var("CALL_MISSED_MARKER_KEYS", "sentinel_missed_call,missed_call,is_missed_call", "keys that mark a missed call, at any depth"),
    var("ACK_CLOSE_ENABLED", "1", "1 lets a thank-you after a staff reply open no issue"),
    var("ACK_CLOSE_MAX_LEN", "60", "longest text, in characters, that can be an acknowledgement"),
    var("ACK_CLOSE_WINDOW_MODE", "eod", "how long after a staff reply a thank-you still closes the thread: eod (until that business day closes) or hours"),
    var("ACK_CLOSE_WINDOW_HOURS", "", "with ACK_CLOSE_WINDOW_MODE=hours: the window in hours; default INTERNAL_REPLY_GRACE_HOURS"),
    var("INTERNAL_REPLY_GRACE_HOURS", "12", "the original's default for ACK_CLOSE_WINDOW_HOURS, read the same way"),
    var("FLOW_LOG_ENABLED", "1", "accepted from the original: every decision is logged to the journal anyway (journalctl -u sentinel)"),
    var("RESOLVER_INTERVAL_MINUTES", "15", "how often OPEN issues are re-checked against GHL in business hours"),
    var("LED_PATH", "/sys/class/leds/ACT", "status LED sysfs directory; a missing LED is not an error"),
    var("CLOCK_SYNC", "auto", "when the wall clock is believed: auto (unless timesyncd runs and has not synchronized, or it reads before this build), required (only once synchronized), off (always)"),
    var("TUNNEL_READY_URL", "", "the tunnel's readiness URL, e.g. cloudflared's http://127.0.0.1:20241/ready; unset means not monitored"),
    var("AI_GATE_ENABLED", "0", "1 lets an AI check resolve a due text whose customer is not waiting (SPEC §10)"),
    secret("OPENAI_API_KEY", "key for the AI check; required when AI_GATE_ENABLED=1"),
    var("OPENAI_BASE_URL", "https://api.openai.com/v1", "OpenAI-compatible endpoint for the AI check; POST {this}/responses"),
    var("AI_GATE_MODEL", "gpt-4o-mini", "model for the AI check"),
    var("AI_GATE_SUPPRESS_NO_CONFIDENCE", "0.90", "a NO at least this sure (0 to 1) resolves the text; anything else opens it"),
    var("AI_GATE_MAX_MESSAGES", "10", "most recent messages of the thread sent to the AI check"),
    var("AI_GATE_GAP_HOURS", "4", "a silence this long ends the thread sent to the AI check"),
    var("AI_GATE_MAX_ISSUES_PER_RUN", "20", "most AI requests in one settling run; the rest open unchecked"),
    var("AI_GATE_MAX_PER_RUN", "", "older name of AI_GATE_MAX_ISSUES_PER_RUN, used when that is unset"),
    var("AI_GATE_RUN_BUDGET_SECONDS", "20", "longest one settling run spends on AI requests"),
    var("AI_GATE_TIMEOUT_SECONDS", "4", "longest wait for one AI answer; a late answer counts as still waiting"),
    var("AI_GATE_REDACT_PII", "1", "1 masks phone numbers, e-mails and URLs before the thread is sent"),
    var("OFFBOX_URL", "", "S3-compatible bucket for an encrypted off-box copy of each nightly backup, path-style, e.g. https://s3.us-east-1.amazonaws.com/my-bucket/office; unset means no off-box copy"),
    var("OFFBOX_REGION", "us-east-1", "the bucket's region, for request signing"),
    var("OFFBOX_ACCESS_KEY_ID", "", "access key id for the bucket (an identifier, not a secret); required with OFFBOX_URL"),
    secret("OFFBOX_SECRET_ACCESS_KEY", "secret access key for the bucket; required with OFFBOX_URL"),
    secret("OFFBOX_ENCRYPTION_KEY", "passphrase the off-box copies are encrypted with, at least 16 characters; required with OFFBOX_URL; keep it off this box: without it no copy can be read"),
    var("OFFBOX_KEEP", "14", "off-box copies kept in the bucket: the newest this many"),
];

/// The env file read when `--config` is not given, if it exists.
pub const DEFAULT_ENV_FILE: &str = "/etc/sentinel/sentinel.env";

/// Prefix of the original's schedule variables (`CRON_*`): hours of the day, mapped onto the
/// internal schedule. Accepted with any suffix so that an existing `.env` keeps working.
pub const CRON_PREFIX: &str = "CRON_";

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

/// Where a value came from, for `check-config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Not set: the table's default.
    Default,
    /// The env file.
    File,
    /// The process environment.
    Environment,
}

/// Raw values by name, merged from the env file and the process environment.
#[derive(Debug, Default, Clone)]
pub struct Source {
    values: BTreeMap<String, (String, Origin)>,
    /// Names in the env file that Sentinel does not know.
    pub unknown: Vec<String>,
    /// The env file read, if any.
    pub file: Option<PathBuf>,
}

impl Source {
    /// Reads the env file (explicit path, else the default path when it exists) and overlays
    /// the process environment.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Source> {
        let mut source = Source::default();
        let default = Path::new(DEFAULT_ENV_FILE);
        let file = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None if default.exists() => Some(default.to_path_buf()),
            None => None,
        };
        if let Some(path) = &file {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading the env file {}", path.display()))?;
            for (name, value) in
                parse_env_file(&text).with_context(|| format!("reading the env file {}", path.display()))?
            {
                if !is_known(&name) {
                    source.unknown.push(name.clone());
                }
                source.values.insert(name, (value, Origin::File));
            }
        }
        source.file = file;
        for (name, value) in std::env::vars() {
            if is_known(&name) {
                source.values.insert(name, (value, Origin::Environment));
            }
        }
        Ok(source)
    }

    /// A source from explicit pairs, as if they came from the environment (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Source {
        let mut source = Source::default();
        for (name, value) in pairs {
            source.values.insert(name.to_string(), (value.to_string(), Origin::Environment));
        }
        source
    }

    /// The raw value of a variable, with empty values treated as unset (as the original did).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(value, _)| value.trim()).filter(|value| !value.is_empty())
    }

    /// Where a variable's value comes from.
    pub fn origin(&self, name: &str) -> Origin {
        match self.values.get(name) {
            Some((value, origin)) if !value.trim().is_empty() => *origin,
            _ => Origin::Default,
        }
    }

    /// The effective value: set, else the table's default.
    pub fn value(&self, name: &str) -> &str {
        self.raw(name).unwrap_or_else(|| default_of(name))
    }

    /// The `CRON_*` variables that are set.
    pub fn cron(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .filter(|(name, (value, _))| name.starts_with(CRON_PREFIX) && !value.trim().is_empty())
            .map(|(name, (value, _))| (name.as_str(), value.trim()))
    }
}

fn is_known(name: &str) -> bool {
    VARS.iter().any(|def| def.name == name) || name.starts_with(CRON_PREFIX) || name == TEST_CLOCK_VAR
}

fn default_of(name: &str) -> &'static str {
    VARS.iter().find(|def| def.name == name).map(|def| def.default).unwrap_or("")
}

/// Parses a dotenv file: `KEY=VALUE` lines, optional `export `, single or double quotes,
/// `#` comments (inline only after whitespace in unquoted values), blank lines.
pub fn parse_env_file(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            anyhow::bail!("line {}: expected NAME=value", index + 1);
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            anyhow::bail!("line {}: {name:?} is not a variable name", index + 1);
        }
        let value = value.trim();
        let value = if let Some(rest) = value.strip_prefix('"') {
            let end = rest.rfind('"').with_context(|| format!("line {}: unterminated double quote", index + 1))?;
            rest[..end].replace("\\n", "\n").replace("\\\"", "\"")
        } else if let Some(rest) = value.strip_prefix('\'') {
            let end = rest.rfind('\'').with_context(|| format!("line {}: unterminated single quote", index + 1))?;
            rest[..end].to_string()
        } else {
            match value.find(" #") {
                Some(at) => value[..at].trim_end().to_string(),
                None => value.to_string(),
            }
        };
        pairs.push((name.to_string(), value));
    }
    Ok(pairs)
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
    /// The SQLite file.
    pub db_path: PathBuf,
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
    /// The env file this configuration was read from, if any: the off-box copy carries it.
    pub env_file: Option<PathBuf>,
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
}

/// Settings for the optional off-box copy (issue 15): each nightly backup, encrypted together
/// with the env file, in an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct OffboxConfig {
    /// The bucket (and key prefix) of the nightly upload; `None` means no upload.
    pub bucket: Option<crate::offbox::BucketUrl>,
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

/// The shortest `OFFBOX_ENCRYPTION_KEY` accepted.
pub const OFFBOX_KEY_MIN_CHARS: usize = 16;

/// Collects every bad value, so one start reports them all.
struct Reader<'a> {
    source: &'a Source,
    errors: Vec<String>,
}

impl<'a> Reader<'a> {
    fn parse<T>(&mut self, name: &str, expected: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let value = self.source.value(name);
        let parsed = parse(value);
        if parsed.is_none() {
            self.errors.push(format!("{name}={value:?}: expected {expected}"));
        }
        parsed
    }

    fn try_parse<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let value = self.source.value(name);
        match parse(value) {
            Ok(parsed) => Some(parsed),
            Err(why) => {
                self.errors.push(format!("{name}={value:?}: {why}"));
                None
            }
        }
    }

    fn addr(&mut self, name: &str) -> Option<SocketAddr> {
        self.parse(name, "an address and port, e.g. 127.0.0.1:8000", |v| v.parse().ok())
    }

    fn flag(&mut self, name: &str) -> Option<bool> {
        self.parse(name, "1 or 0 (also true/false, yes/no, on/off)", parse_flag)
    }

    fn hours(&mut self, name: &str) -> Option<SignedDuration> {
        self.parse(name, "hours, e.g. 2 or 0.25", |v| {
            let hours: f64 = v.parse().ok()?;
            (hours.is_finite() && (0.0..=10_000.0).contains(&hours))
                .then(|| SignedDuration::from_secs_f64(hours * 3600.0))
        })
    }

    fn minutes(&mut self, name: &str) -> Option<SignedDuration> {
        self.parse(name, "whole minutes, e.g. 15", |v| {
            let minutes: u32 = v.parse().ok()?;
            Some(SignedDuration::from_mins(i64::from(minutes)))
        })
    }

    fn count<T: std::str::FromStr + PartialOrd + From<u8>>(&mut self, name: &str, expected: &str) -> Option<T> {
        self.parse(name, expected, |v| v.parse::<T>().ok().filter(|n| *n >= T::from(1)))
    }

    /// Real-time seconds, fractional allowed, more than 0 and at most an hour.
    fn seconds(&mut self, name: &str, example: &str) -> Option<std::time::Duration> {
        self.parse(name, &format!("seconds, more than 0 and at most 3600, e.g. {example}"), |v| {
            let seconds: f64 = v.parse().ok()?;
            (seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0)
                .then(|| std::time::Duration::from_secs_f64(seconds))
        })
    }

    fn text(&self, name: &str) -> String {
        self.source.value(name).to_string()
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.source.raw(name).map(str::to_string)
    }

    fn list(&self, name: &str) -> Vec<String> {
        split_list(self.source.value(name))
    }

    fn url(&mut self, name: &str) -> Option<String> {
        self.parse(name, "an http:// or https:// URL", |v| {
            (v.starts_with("http://") || v.starts_with("https://")).then(|| v.trim_end_matches('/').to_string())
        })
    }
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses `morning=08:00,midday=11:00,afternoon=15:00`.
fn parse_slots(value: &str) -> Result<Vec<SummarySlot>, String> {
    const EXPECTED: &str = "expected name=HH:MM pairs, e.g. morning=08:00,midday=11:00,afternoon=15:00";
    let mut slots = Vec::new();
    for item in split_list(value) {
        let (name, at) = item.split_once('=').ok_or_else(|| EXPECTED.to_string())?;
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(EXPECTED.to_string());
        }
        let at = parse_clock(at.trim()).ok_or_else(|| EXPECTED.to_string())?;
        if slots.iter().any(|slot: &SummarySlot| slot.name == name) {
            return Err(format!("slot {name} appears twice; {EXPECTED}"));
        }
        slots.push(SummarySlot { name, at });
    }
    if slots.is_empty() {
        return Err(EXPECTED.to_string());
    }
    slots.sort_by_key(|slot| slot.at);
    Ok(slots)
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_clock(value: &str) -> Option<Time> {
    let (hour, minute) = value.split_once(':')?;
    if hour.is_empty() || hour.len() > 2 || minute.len() != 2 {
        return None;
    }
    Time::new(hour.parse().ok()?, minute.parse().ok()?, 0, 0).ok()
}

/// The default database path: the systemd state directory, else `./sentinel-data`.
fn default_db_path() -> PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        Some(dir) if !dir.is_empty() => {
            // StateDirectory= may list several directories separated by ':'; ours is the first.
            let dir = dir.to_string_lossy();
            let first = dir.split(':').next().unwrap_or("/var/lib/sentinel");
            PathBuf::from(first).join("sentinel.db")
        }
        _ => PathBuf::from("./sentinel-data/sentinel.db"),
    }
}

impl Config {
    /// Reads and validates every variable; on failure the error lists every bad value.
    pub fn from_source(source: &Source) -> anyhow::Result<Config> {
        let mut r = Reader { source, errors: Vec::new() };

        let listen_addr = r.addr("LISTEN_ADDR");
        let admin_listen_addr = r.addr("ADMIN_LISTEN_ADDR");
        let max_body_bytes = r.count::<usize>("MAX_BODY_BYTES", "a number of bytes, e.g. 262144");
        let http_timeout = r.count::<u64>("HTTP_TIMEOUT_SECONDS", "whole seconds, at least 1");
        let zone = r.parse("TIMEZONE", "an IANA zone name, e.g. America/Chicago", |v| TimeZone::get(v).ok());
        let weekly = if source.raw("BUSINESS_SCHEDULE").is_some() {
            r.try_parse("BUSINESS_SCHEDULE", WeeklySchedule::parse)
        } else {
            let start = r.parse("BUSINESS_HOURS_START", "a time HH:MM, e.g. 08:00", parse_clock);
            let end = r.parse("BUSINESS_HOURS_END", "a time HH:MM after the start, e.g. 17:00", |v| {
                (v == "24:00").then_some(Time::MAX).or_else(|| parse_clock(v))
            });
            match (start, end) {
                (Some(_), Some(_)) => {
                    let (open, close) = (source.value("BUSINESS_HOURS_START"), source.value("BUSINESS_HOURS_END"));
                    match WeeklySchedule::weekdays(open, close) {
                        Ok(weekly) => Some(weekly),
                        Err(why) => {
                            // Name both, and say which one is a default: the user may have set only one.
                            let shown = |name: &str, value: &str| match source.origin(name) {
                                Origin::Default => format!("{name}={value:?} (default)"),
                                _ => format!("{name}={value:?}"),
                            };
                            r.errors.push(format!(
                                "{} and {}: {why}",
                                shown("BUSINESS_HOURS_START", open),
                                shown("BUSINESS_HOURS_END", close)
                            ));
                            None
                        }
                    }
                }
                _ => None,
            }
        };
        let holidays = r.try_parse("HOLIDAYS", parse_holidays);
        let sms_sla = r.hours("SMS_SLA_HOURS");
        let call_sla = r.hours("CALL_SLA_HOURS");
        let escalation = r.hours("ESCALATION_BUSINESS_HOURS");
        // The original's CRON_* schedule maps onto ours: its digest hours become the slots
        // (unless SUMMARY_SLOTS is set), CRON_DOW the digest days, its poll step the cadence.
        let cron = match cron::read(source) {
            Ok(schedule) => schedule,
            Err(errors) => {
                r.errors.extend(errors);
                CronSchedule::default()
            }
        };
        let summary_slots = match &cron.slots {
            Some(slots) => Some(slots.clone()),
            None => r.try_parse("SUMMARY_SLOTS", parse_slots),
        };
        let summary_max_items =
            r.count::<usize>("SUMMARY_MAX_ITEMS_PER_SECTION", "a whole number of lines, at least 1");
        let raw_events_retention_days =
            r.count::<u32>("RAW_EVENTS_RETENTION_DAYS", "a whole number of days, at least 1");
        let data_max_bytes = match source.raw("DATA_MAX_MB") {
            None => Some(None),
            Some(_) => {
                r.count::<u64>("DATA_MAX_MB", "a whole number of megabytes, at least 1").map(|mb| Some(mb << 20))
            }
        };
        // Still validated, so a typo is reported, though nothing reads it any more.
        let _ = r.minutes("CALL_DEDUPE_WINDOW_MINUTES");
        let call_resolve_lookback = r.minutes("CALL_RESOLVE_LOOKBACK_MINUTES");
        let call_voicemail = r.flag("CALL_VOICEMAIL_COUNTS_AS_CALLBACK");
        let call_require_missed_marker = r.flag("CALL_REQUIRE_MISSED_MARKER");
        let ack_close_enabled = r.flag("ACK_CLOSE_ENABLED");
        let ack_close_max_len = r.count::<usize>("ACK_CLOSE_MAX_LEN", "a number of characters, at least 1");
        let grace = r.hours("INTERNAL_REPLY_GRACE_HOURS");
        let window_hours = match source.raw("ACK_CLOSE_WINDOW_HOURS") {
            Some(_) => r.hours("ACK_CLOSE_WINDOW_HOURS"),
            None => grace,
        };
        let ack_close_window =
            r.parse("ACK_CLOSE_WINDOW_MODE", "eod or hours", |v| match v.to_ascii_lowercase().as_str() {
                "eod" => Some(crate::domain::classify::AckWindow::EndOfBusinessDay),
                "hours" => window_hours.map(crate::domain::classify::AckWindow::Hours),
                _ => None,
            });
        let _ = r.flag("FLOW_LOG_ENABLED");
        let resolver_interval = match cron.resolver_minutes {
            Some(minutes) => Some(SignedDuration::from_mins(i64::from(minutes))),
            None => r.parse("RESOLVER_INTERVAL_MINUTES", "whole minutes, at least 1", |v| {
                let minutes: u32 = v.parse().ok().filter(|m| *m >= 1)?;
                Some(SignedDuration::from_mins(i64::from(minutes)))
            }),
        };
        let clock_sync = r.parse("CLOCK_SYNC", "auto, required or off", |v| match v.to_ascii_lowercase().as_str() {
            "auto" => Some(ClockSync::Auto),
            "required" | "1" | "yes" => Some(ClockSync::Required),
            "off" | "0" | "no" => Some(ClockSync::Off),
            _ => None,
        });
        let require_signature = r.flag("GHL_REQUIRE_SIGNATURE");
        let rate_limit_per_10s =
            r.parse("GHL_RATE_LIMIT_PER_10S", "requests per 10 s, 1 to 100 (GHL allows 100)", |v| {
                v.parse::<u32>().ok().filter(|n| (1..=100).contains(n))
            });
        let daily_budget = r.count::<u32>("GHL_DAILY_BUDGET", "requests per day, at least 1");
        let ghl_timeout = r.count::<u64>("GHL_TIMEOUT_SECONDS", "whole seconds, at least 1");
        let base_url = r.url("GHL_BASE_URL");
        let app_base = r.url("GHL_APP_BASE");
        let ai_enabled = r.flag("AI_GATE_ENABLED");
        let ai_base_url = r.url("OPENAI_BASE_URL");
        let ai_confidence = r.parse("AI_GATE_SUPPRESS_NO_CONFIDENCE", "a number from 0 to 1, e.g. 0.90", |v| {
            v.parse::<f64>().ok().filter(|c| (0.0..=1.0).contains(c))
        });
        let ai_max_messages = r.parse("AI_GATE_MAX_MESSAGES", "a whole number of messages, 1 to 100", |v| {
            v.parse::<usize>().ok().filter(|n| (1..=100).contains(n))
        });
        let ai_gap = r.parse("AI_GATE_GAP_HOURS", "hours, more than 0, e.g. 4 or 0.5", |v| {
            let hours: f64 = v.parse().ok()?;
            (hours.is_finite() && hours > 0.0 && hours <= 10_000.0)
                .then(|| SignedDuration::from_secs_f64(hours * 3600.0))
        });
        // The original's name wins; the older AI_GATE_MAX_PER_RUN is read only when it is unset.
        let ai_max_name = match (source.raw("AI_GATE_MAX_ISSUES_PER_RUN"), source.raw("AI_GATE_MAX_PER_RUN")) {
            (None, Some(_)) => "AI_GATE_MAX_PER_RUN",
            _ => "AI_GATE_MAX_ISSUES_PER_RUN",
        };
        let ai_max = r.count::<usize>(ai_max_name, "a whole number of AI requests, at least 1");
        let ai_budget = r.seconds("AI_GATE_RUN_BUDGET_SECONDS", "20");
        let ai_timeout = r.seconds("AI_GATE_TIMEOUT_SECONDS", "4");
        let ai_redact = r.flag("AI_GATE_REDACT_PII");
        if ai_enabled == Some(true) && source.raw("OPENAI_API_KEY").is_none() {
            r.errors.push("AI_GATE_ENABLED=\"1\": expected OPENAI_API_KEY to be set as well".to_string());
        }
        // Only a value the user set overrides the per-endpoint versions (the original's .env
        // sets 2021-07-28, which the original sent everywhere, so it keeps working as it did).
        let ghl_version = r.optional("GHL_VERSION");
        let tunnel_ready_url = match source.raw("TUNNEL_READY_URL") {
            None => Some(None),
            Some(_) => r.url("TUNNEL_READY_URL").map(Some),
        };
        let db_path = r.optional("DB_PATH").map(PathBuf::from).unwrap_or_else(default_db_path);
        let offbox = read_offbox(&mut r);

        if !r.errors.is_empty() {
            anyhow::bail!("invalid configuration:\n  {}", r.errors.join("\n  "));
        }
        // Every `None` above pushed an error, so reaching here means all are `Some`.
        let missing = || anyhow::format_err!("invalid configuration");
        Ok(Config {
            webhook_secret: source.raw("WEBHOOK_SECRET").map(Secret::new),
            listen_addr: listen_addr.ok_or_else(missing)?,
            admin_listen_addr: admin_listen_addr.ok_or_else(missing)?,
            db_path,
            max_body_bytes: max_body_bytes.ok_or_else(missing)?,
            http_timeout: std::time::Duration::from_secs(http_timeout.ok_or_else(missing)?),
            client_ip_header: r.optional("CLIENT_IP_HEADER"),
            ghl: GhlConfig {
                token: source.raw("GHL_TOKEN").map(Secret::new),
                version: ghl_version,
                base_url: base_url.ok_or_else(missing)?,
                location_id: r.optional("GHL_LOCATION_ID"),
                app_base: app_base.ok_or_else(missing)?,
                require_signature: require_signature.ok_or_else(missing)?,
                ed25519_key: r.optional("GHL_WEBHOOK_ED25519_KEY"),
                rsa_key: r.optional("GHL_WEBHOOK_RSA_KEY"),
                rate_limit_per_10s: rate_limit_per_10s.ok_or_else(missing)?,
                daily_budget: daily_budget.ok_or_else(missing)?,
                timeout: std::time::Duration::from_secs(ghl_timeout.ok_or_else(missing)?),
            },
            manager_contact_ids: r.list("MANAGER_CONTACT_IDS"),
            internal_contact_ids: r.list("INTERNAL_CONTACT_IDS"),
            internal_user_ids: r.list("INTERNAL_USER_IDS"),
            calendar: Calendar::new(
                zone.ok_or_else(missing)?,
                weekly.ok_or_else(missing)?,
                holidays.ok_or_else(missing)?,
            ),
            sms_sla: sms_sla.ok_or_else(missing)?,
            call_sla: call_sla.ok_or_else(missing)?,
            escalation: escalation.ok_or_else(missing)?,
            summary_slots: summary_slots.ok_or_else(missing)?,
            summary_max_items: summary_max_items.ok_or_else(missing)?,
            raw_events_retention_days: raw_events_retention_days.ok_or_else(missing)?,
            data_max_bytes: data_max_bytes.ok_or_else(missing)?,
            call_resolve_lookback: call_resolve_lookback.ok_or_else(missing)?,
            call_voicemail: if call_voicemail.ok_or_else(missing)? {
                VoicemailCallback::Counts
            } else {
                VoicemailCallback::DoesNotCount
            },
            call_require_missed_marker: call_require_missed_marker.ok_or_else(missing)?,
            call_missed_marker_keys: r.list("CALL_MISSED_MARKER_KEYS"),
            ack_close_enabled: ack_close_enabled.ok_or_else(missing)?,
            ack_close_max_len: ack_close_max_len.ok_or_else(missing)?,
            ack_close_window: ack_close_window.ok_or_else(missing)?,
            resolver_interval: resolver_interval.ok_or_else(missing)?,
            led_path: PathBuf::from(r.text("LED_PATH")),
            clock_sync: clock_sync.ok_or_else(missing)?,
            tunnel_ready_url: tunnel_ready_url.ok_or_else(missing)?,
            ai_gate: AiGateConfig {
                enabled: ai_enabled.ok_or_else(missing)?,
                api_key: source.raw("OPENAI_API_KEY").map(Secret::new),
                base_url: ai_base_url.ok_or_else(missing)?,
                model: r.text("AI_GATE_MODEL"),
                suppress_no_confidence: ai_confidence.ok_or_else(missing)?,
                max_messages: ai_max_messages.ok_or_else(missing)?,
                gap: ai_gap.ok_or_else(missing)?,
                max_per_run: ai_max.ok_or_else(missing)?,
                run_budget: ai_budget.ok_or_else(missing)?,
                timeout: ai_timeout.ok_or_else(missing)?,
                redaction: if ai_redact.ok_or_else(missing)? { Redaction::Mask } else { Redaction::Keep },
            },
            digest_days: cron.digest_days,
            slots_from_cron: cron.slots.is_some(),
            resolver_from_cron: cron.resolver_minutes.is_some(),
            cron: cron.notes,
            offbox: offbox.ok_or_else(missing)?,
            env_file: source.file.clone(),
        })
    }

    /// The most the database and its backups may take: `DATA_MAX_MB`, else a quarter of the
    /// data partition, between 64 MB and 4 GB.
    pub fn data_budget(&self) -> u64 {
        self.data_max_bytes.unwrap_or_else(|| {
            let partition = crate::backup::filesystem_space(&self.data_dir()).map_or(256 << 20, |(size, _)| size);
            (partition / 4).clamp(64 << 20, 4 << 30)
        })
    }

    /// Whether digests go out on `date`: a business day, and one of `CRON_DOW`'s days if set.
    pub fn is_digest_day(&self, date: jiff::civil::Date) -> bool {
        self.calendar.is_business_day(date) && self.digest_days.is_none_or(|days| days.contains(date.weekday()))
    }

    /// The directory holding the database, the generated secret and backups.
    pub fn data_dir(&self) -> PathBuf {
        match self.db_path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// The off-box settings: all or nothing once `OFFBOX_URL` is set. Secrets are named in errors
/// but never shown.
fn read_offbox(r: &mut Reader<'_>) -> Option<OffboxConfig> {
    let source = r.source;
    let bucket = match source.raw("OFFBOX_URL") {
        None => Some(None),
        Some(_) => r.try_parse("OFFBOX_URL", crate::offbox::BucketUrl::parse).map(Some),
    };
    let keep = r.count::<usize>("OFFBOX_KEEP", "a whole number of copies, at least 1");
    let encryption_key = source.raw("OFFBOX_ENCRYPTION_KEY").map(Secret::new);
    if let Some(key) = &encryption_key
        && key.expose().chars().count() < OFFBOX_KEY_MIN_CHARS
    {
        r.errors.push(format!(
            "OFFBOX_ENCRYPTION_KEY (not shown): expected at least {OFFBOX_KEY_MIN_CHARS} characters, e.g. the output of `openssl rand -base64 32`"
        ));
    }
    if source.raw("OFFBOX_URL").is_some() {
        for (name, why) in [
            ("OFFBOX_ENCRYPTION_KEY", "it encrypts the copies; keep it somewhere other than this box"),
            ("OFFBOX_ACCESS_KEY_ID", "the bucket's access key"),
            ("OFFBOX_SECRET_ACCESS_KEY", "the bucket's access key"),
        ] {
            if source.raw(name).is_none() {
                r.errors.push(format!("OFFBOX_URL is set: expected {name} as well ({why})"));
            }
        }
    }
    Some(OffboxConfig {
        bucket: bucket?,
        region: r.text("OFFBOX_REGION"),
        access_key_id: r.optional("OFFBOX_ACCESS_KEY_ID"),
        secret_access_key: source.raw("OFFBOX_SECRET_ACCESS_KEY").map(Secret::new),
        encryption_key,
        keep: keep?,
    })
}

/// The `check-config` report: every variable, its effective value (secrets masked) and where
/// it came from, then the derived settings.
pub fn describe(source: &Source, config: &Config) -> String {
    let mut out = String::new();
    match &source.file {
        Some(path) => out.push_str(&format!("# env file: {}\n", path.display())),
        None => out.push_str("# env file: none (environment and defaults only)\n"),
    }
    let slots_text: String = config
        .summary_slots
        .iter()
        .map(|slot| format!("{}={}", slot.name, slot.at.strftime("%H:%M")))
        .collect::<Vec<_>>()
        .join(",");
    let resolver_text = config.resolver_interval.as_mins().to_string();
    for def in VARS {
        let origin = match source.origin(def.name) {
            Origin::Default => "default",
            Origin::File => "env file",
            Origin::Environment => "environment",
        };
        let db_path = config.db_path.display().to_string();
        let value = if def.name == "DB_PATH" { db_path.as_str() } else { source.value(def.name) };
        // What the original's CRON_* hours set is shown as the value in effect.
        let (value, origin) = match def.name {
            "SUMMARY_SLOTS" if config.slots_from_cron => (slots_text.as_str(), "from the CRON_* digest hours"),
            "RESOLVER_INTERVAL_MINUTES" if config.resolver_from_cron => {
                (resolver_text.as_str(), "from CRON_POLL_RESOLVER_EVERY_MINUTES")
            }
            _ => (value, origin),
        };
        let shown = if def.secret {
            if value.is_empty() { "(unset)".to_string() } else { mask(value) }
        } else {
            value.to_string()
        };
        out.push_str(&format!("{}={}    # {}; {}\n", def.name, shown, origin, def.doc));
    }
    for note in &config.cron {
        let origin = match source.origin(&note.name) {
            Origin::File => "env file",
            _ => "environment",
        };
        out.push_str(&format!("{}={}    # {origin}; {}\n", note.name, note.shown, note.meaning));
    }
    let slots: Vec<String> =
        config.summary_slots.iter().map(|slot| format!("{} at {}", slot.name, slot.at.strftime("%H:%M"))).collect();
    let days = match &config.digest_days {
        Some(days) => format!("business days among {}", crate::domain::cron::describe_weekdays(*days)),
        None => "business days".to_string(),
    };
    out.push_str(&format!("# digests: {} on {days}\n", slots.join(", ")));
    out.push_str(&format!(
        "# resolver: OPEN issues re-checked every {} min in business hours\n",
        config.resolver_interval.as_mins()
    ));
    out.push_str(&format!("# GHL Version header: {}\n", crate::ghl::client::describe_versions(&config.ghl)));
    for warning in warnings(source, config) {
        out.push_str(&format!("# warning: {warning}\n"));
    }
    out
}

/// What a careful reader of the configuration should know before starting: unknown names, and
/// settings that leave a promise unkept (no token: managers get nothing).
pub fn warnings(source: &Source, config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    if config.ghl.token.is_none() {
        warnings.push(
            "GHL_TOKEN is unset: alerts, digests and command replies are recorded as \"not sent: no GHL_TOKEN\" and no manager gets them".to_string(),
        );
    }
    for name in &source.unknown {
        warnings.push(format!("{name} in the env file is not a Sentinel variable and is ignored"));
    }
    if config.offbox.bucket.is_some() && config.env_file.is_none() {
        warnings.push(
            "OFFBOX_URL is set but no env file was read: the off-box copies hold the data, not the configuration"
                .to_string(),
        );
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        Config::from_source(&Source::from_pairs(pairs.iter().copied()))
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        match load(pairs) {
            Ok(_) => panic!("{pairs:?} was accepted"),
            Err(err) => format!("{err:#}"),
        }
    }

    #[test]
    fn defaults_are_valid() -> anyhow::Result<()> {
        let config = load(&[])?;
        assert_eq!(config.listen_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(config.sms_sla, SignedDuration::from_hours(2));
        assert_eq!(config.summary_slots.len(), 3);
        assert!(config.call_require_missed_marker);
        assert!(config.webhook_secret.is_none());
        assert!(config.ghl.token.is_none());
        Ok(())
    }

    #[test]
    fn each_bad_value_is_named_with_what_is_expected() {
        let cases = [
            ("SMS_SLA_HOURS", "two", "expected hours"),
            ("CALL_SLA_HOURS", "-1", "expected hours"),
            ("LISTEN_ADDR", "localhost", "expected an address and port"),
            ("ADMIN_LISTEN_ADDR", "8001", "expected an address and port"),
            ("TIMEZONE", "Mars/Olympus", "IANA zone"),
            ("BUSINESS_HOURS_START", "8am", "HH:MM"),
            ("BUSINESS_HOURS_END", "07:00", "BUSINESS_HOURS_END"),
            ("BUSINESS_SCHEDULE", "someday 9-5", "BUSINESS_SCHEDULE"),
            ("HOLIDAYS", "christmas", "HOLIDAYS"),
            ("SUMMARY_SLOTS", "morning", "name=HH:MM"),
            ("SUMMARY_MAX_ITEMS_PER_SECTION", "0", "at least 1"),
            ("CALL_REQUIRE_MISSED_MARKER", "maybe", "1 or 0"),
            ("ACK_CLOSE_ENABLED", "2", "1 or 0"),
            ("GHL_RATE_LIMIT_PER_10S", "500", "1 to 100"),
            ("GHL_BASE_URL", "ftp://x", "URL"),
            ("CRON_SUMMARY_HOURS", "8,25", "expected cron hours 0-23"),
            ("MAX_BODY_BYTES", "lots", "bytes"),
            ("AI_GATE_ENABLED", "sometimes", "1 or 0"),
            ("OPENAI_BASE_URL", "api.openai.com", "URL"),
            ("AI_GATE_SUPPRESS_NO_CONFIDENCE", "90", "0 to 1"),
            ("AI_GATE_MAX_MESSAGES", "0", "1 to 100"),
            ("AI_GATE_GAP_HOURS", "0", "more than 0"),
            ("AI_GATE_MAX_ISSUES_PER_RUN", "none", "at least 1"),
            ("AI_GATE_MAX_PER_RUN", "-3", "at least 1"),
            ("AI_GATE_RUN_BUDGET_SECONDS", "forever", "seconds"),
            ("AI_GATE_TIMEOUT_SECONDS", "0", "more than 0"),
            ("AI_GATE_REDACT_PII", "maybe", "1 or 0"),
        ];
        for (name, value, expected) in cases {
            let message = error_of(&[(name, value)]);
            assert!(message.contains(name), "{name}: {message}");
            assert!(message.contains(value), "{name}: {message}");
            assert!(message.contains(expected), "{name}: {message}");
        }
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let message = error_of(&[("SMS_SLA_HOURS", "x"), ("TIMEZONE", "Nowhere")]);
        assert!(message.contains("SMS_SLA_HOURS") && message.contains("TIMEZONE"), "{message}");
    }

    #[test]
    fn empty_values_mean_the_default_as_in_the_original() -> anyhow::Result<()> {
        let config = load(&[("SMS_SLA_HOURS", ""), ("TIMEZONE", " ")])?;
        assert_eq!(config.sms_sla, SignedDuration::from_hours(2));
        Ok(())
    }

    #[test]
    fn fractional_sla_and_lists() -> anyhow::Result<()> {
        let config = load(&[
            ("SMS_SLA_HOURS", "0.25"),
            ("MANAGER_CONTACT_IDS", "abc, def,,"),
            ("CRON_SUMMARY_HOURS", "8,11,15"),
        ])?;
        assert_eq!(config.sms_sla, SignedDuration::from_mins(15));
        assert_eq!(config.manager_contact_ids, ["abc", "def"]);
        assert_eq!(config.cron.len(), 1);
        assert_eq!(config.cron[0].shown, "08:00,11:00,15:00");
        Ok(())
    }

    #[test]
    fn the_originals_cron_hours_become_digest_slots() -> anyhow::Result<()> {
        let config = load(&[("CRON_SUMMARY_HOURS", "8,12,16"), ("CRON_POLL_MINUTES", "15")])?;
        let slots: Vec<(String, String)> =
            config.summary_slots.iter().map(|s| (s.name.clone(), s.at.strftime("%H:%M").to_string())).collect();
        let expected = [("morning", "08:00"), ("midday", "12:00"), ("afternoon", "16:00")];
        assert_eq!(slots, expected.map(|(n, t)| (n.to_string(), t.to_string())));
        let explicit = load(&[("CRON_SUMMARY_HOURS", "8,12,16"), ("SUMMARY_SLOTS", "am=07:30")])?;
        assert_eq!(explicit.summary_slots.len(), 1, "SUMMARY_SLOTS wins");
        let source = Source::from_pairs([("CRON_SUMMARY_HOURS", "8,12,16")]);
        let report = describe(&source, &Config::from_source(&source)?);
        assert!(
            report.contains(
                "CRON_SUMMARY_HOURS=08:00,12:00,16:00    # environment; digest hours: they are the digest slots"
            ),
            "{report}"
        );
        Ok(())
    }

    #[test]
    fn ai_gate_needs_a_key() {
        let message = error_of(&[("AI_GATE_ENABLED", "1")]);
        assert!(message.contains("OPENAI_API_KEY"), "{message}");
        let message = error_of(&[("AI_GATE_ENABLED", "1"), ("OPENAI_API_KEY", " ")]);
        assert!(message.contains("OPENAI_API_KEY"), "{message}");
    }

    /// The AI block of the original's `.env.example`, with its empty key, starts as it is.
    #[test]
    fn the_originals_ai_settings_are_read() -> anyhow::Result<()> {
        let config = load(&[
            ("OPENAI_API_KEY", ""),
            ("OPENAI_BASE_URL", "https://api.openai.com/v1/"),
            ("AI_GATE_ENABLED", "0"),
            ("AI_GATE_MODEL", "gpt-5-mini"),
            ("AI_GATE_SUPPRESS_NO_CONFIDENCE", "0.90"),
            ("AI_GATE_MAX_MESSAGES", "10"),
            ("AI_GATE_GAP_HOURS", "4"),
            ("AI_GATE_MAX_ISSUES_PER_RUN", "20"),
            ("AI_GATE_RUN_BUDGET_SECONDS", "20"),
            ("AI_GATE_TIMEOUT_SECONDS", "4"),
            ("AI_GATE_REDACT_PII", "1"),
        ])?;
        let ai = &config.ai_gate;
        assert!(!ai.enabled && ai.api_key.is_none());
        assert_eq!(ai.base_url, "https://api.openai.com/v1");
        assert_eq!((ai.model.as_str(), ai.suppress_no_confidence, ai.max_messages), ("gpt-5-mini", 0.9, 10));
        assert_eq!((ai.gap, ai.max_per_run), (SignedDuration::from_hours(4), 20));
        assert_eq!(
            (ai.run_budget, ai.timeout),
            (std::time::Duration::from_secs(20), std::time::Duration::from_secs(4))
        );
        assert_eq!(ai.redaction, Redaction::Mask);
        let defaults = load(&[])?.ai_gate;
        assert!(!defaults.enabled, "off by default");
        assert_eq!((defaults.model.as_str(), defaults.max_per_run), ("gpt-4o-mini", 20));
        Ok(())
    }

    #[test]
    fn the_older_per_run_name_is_an_alias() -> anyhow::Result<()> {
        assert_eq!(load(&[("AI_GATE_MAX_PER_RUN", "3")])?.ai_gate.max_per_run, 3);
        let both = load(&[("AI_GATE_MAX_PER_RUN", "3"), ("AI_GATE_MAX_ISSUES_PER_RUN", "5")])?;
        assert_eq!(both.ai_gate.max_per_run, 5, "the original's name wins");
        let fractional = load(&[("AI_GATE_TIMEOUT_SECONDS", "0.5"), ("AI_GATE_REDACT_PII", "0")])?.ai_gate;
        assert_eq!(fractional.timeout, std::time::Duration::from_millis(500));
        assert_eq!(fractional.redaction, Redaction::Keep);
        Ok(())
    }

    #[test]
    fn the_openai_key_is_masked() -> anyhow::Result<()> {
        let key = "sk-proj-abcdefghijklmnop";
        let pairs = [("AI_GATE_ENABLED", "1"), ("OPENAI_API_KEY", key)];
        let config = load(&pairs)?;
        let source = Source::from_pairs(pairs);
        let report = describe(&source, &config);
        assert!(!report.contains(key) && !format!("{config:?}").contains(key), "{report}");
        assert!(report.contains("OPENAI_API_KEY=****op"), "{report}");
        Ok(())
    }

    #[test]
    fn the_offbox_copy_is_off_by_default_and_all_or_nothing() -> anyhow::Result<()> {
        let defaults = load(&[])?.offbox;
        assert!(defaults.bucket.is_none() && defaults.encryption_key.is_none());
        assert_eq!((defaults.region.as_str(), defaults.keep), ("us-east-1", 14));
        let url = ("OFFBOX_URL", "https://s3.us-west-004.backblazeb2.com/ntpp-backups/office");
        let message = error_of(&[url]);
        for name in ["OFFBOX_ENCRYPTION_KEY", "OFFBOX_ACCESS_KEY_ID", "OFFBOX_SECRET_ACCESS_KEY"] {
            assert!(message.contains(&format!("expected {name} as well")), "{message}");
        }
        let key = "correct-horse-battery-staple";
        let config = load(&[
            url,
            ("OFFBOX_ENCRYPTION_KEY", key),
            ("OFFBOX_ACCESS_KEY_ID", "004abc"),
            ("OFFBOX_SECRET_ACCESS_KEY", "K004-very-secret-value"),
            ("OFFBOX_KEEP", "3"),
        ])?;
        let bucket = config.offbox.bucket.clone().ok_or_else(|| anyhow::format_err!("no bucket"))?;
        assert_eq!(bucket.endpoint, "https://s3.us-west-004.backblazeb2.com");
        assert_eq!((bucket.bucket.as_str(), bucket.prefix.as_str()), ("ntpp-backups", "office/"));
        assert_eq!(config.offbox.keep, 3);
        assert!(!format!("{config:?}").contains(key));
        let source = Source::from_pairs([url]);
        assert!(warnings(&source, &config).iter().any(|warning| warning.contains("no env file was read")));
        Ok(())
    }

    #[test]
    fn offbox_values_are_checked_and_the_key_never_shown() {
        for (pairs, expected) in [
            (&[("OFFBOX_URL", "s3://bucket")][..], "OFFBOX_URL=\"s3://bucket\": expected"),
            (&[("OFFBOX_URL", "https://s3.example.com")][..], "the bucket"),
            (&[("OFFBOX_KEEP", "0")][..], "OFFBOX_KEEP=\"0\": expected a whole number of copies"),
        ] {
            let message = error_of(pairs);
            assert!(message.contains(expected), "{pairs:?}: {message}");
        }
        let message = error_of(&[("OFFBOX_ENCRYPTION_KEY", "hunter2")]);
        assert!(message.contains("OFFBOX_ENCRYPTION_KEY") && message.contains("at least 16"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        let secret = "K004-very-secret-value";
        let source = Source::from_pairs([("OFFBOX_SECRET_ACCESS_KEY", secret), ("OFFBOX_ENCRYPTION_KEY", secret)]);
        let report = describe(&source, &Config::from_source(&source).unwrap_or_else(|err| panic!("{err:#}")));
        assert!(!report.contains(secret) && report.contains("OFFBOX_ENCRYPTION_KEY=****ue"), "{report}");
    }

    #[test]
    fn env_file_syntax() -> anyhow::Result<()> {
        let text = "# comment\n\nexport A=1\nB=\"two words\"\nC='x#y'\nD=plain # trailing\nE=\n";
        let pairs = parse_env_file(text)?;
        let expected = [("A", "1"), ("B", "two words"), ("C", "x#y"), ("D", "plain"), ("E", "")];
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(pairs, expected);
        assert!(parse_env_file("NOT A LINE").is_err());
        Ok(())
    }

    #[test]
    fn secrets_are_masked() -> anyhow::Result<()> {
        let token = "pit-1234567890abcdef";
        let config = load(&[("GHL_TOKEN", token), ("WEBHOOK_SECRET", "s3cret-value-long")])?;
        let debug = format!("{config:?}");
        assert!(!debug.contains(token) && !debug.contains("s3cret"), "{debug}");
        let source = Source::from_pairs([("GHL_TOKEN", token)]);
        let report = describe(&source, &config);
        assert!(!report.contains(token), "{report}");
        assert!(report.contains("GHL_TOKEN=****ef"), "{report}");
        Ok(())
    }
}
