//! The table: every environment variable once, with its default, parser, secrecy and meaning.
//!
//! Each entry of `vars!` becomes a typed constant (`LISTEN_ADDR: Var<SocketAddr>`) that `read`
//! fills [`super::Config`] from, and one row of [`VARS`], which `check-config` prints and the
//! README's table is checked against. An entry is its name and type, then one of three kinds,
//! its parser (from `parse`, or a closure around one) and its meaning:
//!
//! - `NAME: T = "default", parser, "meaning";` a value that always has one: the parser reads
//!   the value set, else the default.
//! - `NAME: Option<T> = unset, parser, "meaning";` an optional value: `None` when unset, and the
//!   parser sees only a value that is set.
//! - `NAME: Option<T> = secret, parser, "meaning";` an optional secret: `check-config` masks it
//!   and an error names it without showing it.
//!
//! A new variable is one entry here and one read in `read`; `check-config` shows it at once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use jiff::SignedDuration;
use jiff::tz::TimeZone;

use super::BucketUrl;
use super::parse::{self, AckMode, Parsed};
use super::{ClockSync, Secret, SummarySlot};
use crate::domain::ai::Redaction;
use crate::domain::calendar::{Holidays, WeeklySchedule};
use crate::domain::event::VoicemailCallback;
use crate::domain::notify::{self, Target};

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

impl VarDef {
    /// The value as `check-config` and a configuration error show it: a secret masked, the
    /// notification webhooks with each URL cut to its scheme and host (a Slack hook's path is
    /// a bearer credential), anything else as it is.
    pub fn shown(&self, value: &str) -> String {
        if self.secret {
            if value.is_empty() { "(unset)".to_string() } else { super::mask(value) }
        } else if self.name == NOTIFY_WEBHOOK_URLS.def.name {
            notify::mask_targets(value)
        } else {
            value.to_string()
        }
    }
}

/// A table entry with its parser: reading it yields a `T`.
pub(super) struct Var<T> {
    /// The name, default, secrecy and meaning.
    pub def: VarDef,
    /// Turns the effective value into a `T`, or says what was expected.
    pub parse: fn(&str) -> Parsed<T>,
}

/// Declares the entries: a constant for each, then [`VARS`] in the same order.
macro_rules! vars {
    ($($name:ident: $ty:ty = $kind:tt, $parse:expr, $doc:literal;)+) => {
        $(
            #[doc = $doc]
            pub(super) const $name: Var<$ty> = Var {
                def: VarDef {
                    name: stringify!($name),
                    default: vars!(@default $kind),
                    secret: vars!(@secret $kind),
                    doc: $doc,
                },
                parse: vars!(@parse $kind, $parse),
            };
        )+

        /// Every variable Sentinel reads, in the order `check-config` prints them.
        pub const VARS: &[VarDef] = &[$($name.def),+];

        /// Reads every entry once, so a test can see that each default parses.
        #[cfg(test)]
        pub(super) fn read_each(reader: &mut super::read::Reader<'_>) {
            $(let _ = reader.get(&$name);)+
        }
    };
    (@default unset) => { "" };
    (@default secret) => { "" };
    (@default $default:literal) => { $default };
    (@secret secret) => { true };
    (@secret $kind:tt) => { false };
    (@parse unset, $parse:expr) => { |value| if value.is_empty() { Ok(None) } else { ($parse)(value).map(Some) } };
    (@parse secret, $parse:expr) => { vars!(@parse unset, $parse) };
    (@parse $default:literal, $parse:expr) => { $parse };
}

vars! {
    WEBHOOK_SECRET: Option<Secret> = secret, parse::webhook_secret,
        "shared secret for X-NTPP-Secret or ?secret=; generated once into the data directory when unset; a \
        placeholder such as change-me is refused";
    LISTEN_ADDR: SocketAddr = "127.0.0.1:8000", parse::addr,
        "webhook listener (the only one the tunnel exposes)";
    ADMIN_LISTEN_ADDR: SocketAddr = "127.0.0.1:8001", parse::addr,
        "admin listener: jobs, status page, API, metrics";
    PUBLIC_URL: Option<String> = unset, parse::url,
        "the public base URL GHL's workflows post to through the tunnel, e.g. https://sentinel-dallas.example.com; \
        sentinel doctor posts a probe to it and prints the webhook URLs under it";
    DB_PATH: Option<PathBuf> = unset, parse::path,
        "SQLite file; default $STATE_DIRECTORY/sentinel.db under systemd, else ./sentinel-data/sentinel.db; for \
        --instance NAME, sentinel.db in the directory named NAME (/var/lib/sentinel/NAME under sentinel@NAME); under \
        systemd the original's Docker path (/data/...) is ignored with a warning";
    MAX_BODY_BYTES: usize = "262144", |v| parse::count(v, "a number of bytes, e.g. 262144"),
        "largest accepted request body in bytes";
    HTTP_TIMEOUT_SECONDS: Duration = "30", parse::whole_seconds,
        "longest a client may stall mid-request, and the longest a whole body may take";
    CLIENT_IP_HEADER: Option<String> = unset, parse::text,
        "header a local tunnel puts the client's address in (e.g. CF-Connecting-IP); believed only from 127.0.0.1, for \
        slowing guessers per source";
    GHL_TOKEN: Option<Secret> = secret, parse::secret,
        "GHL private integration or OAuth token; unset means nothing is sent to GHL; a placeholder such as change-me \
        is refused";
    GHL_VERSION: Option<String> = unset, parse::text,
        "GHL API Version header for every endpoint; unset sends each the value GHL documents for it (conversations \
        2021-04-15, contacts 2021-07-28)";
    GHL_BASE_URL: String = "https://services.leadconnectorhq.com", parse::url,
        "GHL API base URL";
    GHL_LOCATION_ID: Option<String> = unset, parse::text,
        "GHL location (sub-account); events for other locations are stored and ignored";
    GHL_APP_BASE: String = "https://app.gohighlevel.com", parse::url,
        "GHL web app base for conversation deep links";
    GHL_REQUIRE_SIGNATURE: bool = "0", parse::flag,
        "1 rejects Marketplace events without a valid GHL signature";
    GHL_WEBHOOK_ED25519_KEY: Option<String> = unset, parse::text,
        "replaces GHL's published Ed25519 webhook key (PEM or base64)";
    GHL_WEBHOOK_RSA_KEY: Option<String> = unset, parse::text,
        "replaces GHL's published RSA webhook key (PEM or base64)";
    GHL_RATE_LIMIT_PER_10S: u32 = "60", |v| parse::within(v, 1..=100, "requests per 10 s, 1 to 100 (GHL allows 100)"),
        "client-side limit of GHL requests in any 10-second window";
    GHL_DAILY_BUDGET: u32 = "20000", |v| parse::count(v, "requests per day, at least 1"),
        "most GHL requests per local day";
    GHL_TIMEOUT_SECONDS: Duration = "20", parse::whole_seconds,
        "longest wait for one GHL answer";
    MANAGER_CONTACT_IDS: Vec<String> = "", parse::list,
        "GHL contact ids of managers who get alerts and digests, in order";
    INTERNAL_CONTACT_IDS: Vec<String> = "", parse::list,
        "GHL contact ids of staff: their texts are commands, never issues";
    INTERNAL_USER_IDS: Vec<String> = "", parse::list,
        "when set, only these GHL user ids count as staff replies";
    TIMEZONE: TimeZone = "America/Chicago", parse::zone,
        "IANA zone of the business";
    TZ: Option<String> = unset, parse::text,
        "accepted from the original, which read it when TIMEZONE was unset (its Docker image set \
        TZ=America/Chicago); only TIMEZONE sets the zone here, and check-config warns when an env file's TZ names \
        another";
    BUSINESS_HOURS_START: String = "08:00", parse::opening,
        "opening time Monday to Friday";
    BUSINESS_HOURS_END: String = "17:00", parse::closing,
        "closing time Monday to Friday";
    BUSINESS_SCHEDULE: Option<WeeklySchedule> = unset, WeeklySchedule::parse,
        "weekly schedule, e.g. \"mon-fri 08:00-12:00,13:00-17:00; sat 09:00-12:00\"; wins over the two above";
    HOLIDAYS: Holidays = "", crate::domain::calendar::parse_holidays,
        "closed dates, optionally with special hours: 2026-11-26,2026-12-24=08:00-12:00";
    SMS_SLA_HOURS: SignedDuration = "2", parse::hours,
        "business hours to answer a text";
    CALL_SLA_HOURS: SignedDuration = "2", parse::hours,
        "business hours to return a missed call";
    ESCALATION_BUSINESS_HOURS: SignedDuration = "24", parse::hours,
        "business hours after which an OPEN issue is escalated";
    SUMMARY_SLOTS: Vec<SummarySlot> = "morning=08:00,midday=11:00,afternoon=15:00", parse::slots,
        "digest slots on business days";
    SUMMARY_MAX_ITEMS_PER_SECTION: usize = "8", |v| parse::count(v, "a whole number of lines, at least 1"),
        "lines per digest section before +N more";
    RAW_EVENTS_RETENTION_DAYS: u32 = "30", |v| parse::count(v, "a whole number of days, at least 1"),
        "days raw webhook events are kept";
    DATA_MAX_MB: Option<u64> = unset, parse::megabytes,
        "most the database and its nightly backups may take, in MB; default a quarter of the data partition (64 MB to \
        4 GB); the oldest raw events, then the oldest backups, go first";
    CALL_DEDUPE_WINDOW_MINUTES: SignedDuration = "240", parse::minutes,
        "accepted from the original, no longer needed: a repeat missed call counts as an attempt on the live issue \
        (SPEC §5.1), and a retried delivery is a duplicate by its ids or body";
    CALL_RESOLVE_LOOKBACK_MINUTES: SignedDuration = "15", parse::minutes,
        "a callback this long before the CALL issue was created still resolves it";
    CALL_VOICEMAIL_COUNTS_AS_CALLBACK: VoicemailCallback = "1", parse::voicemail,
        "1: a callback that reached only the customer's voicemail answers the missed call; 0: only a call the customer \
        picked up does (busy, unanswered or failed callbacks never do)";
    CALL_REQUIRE_MISSED_MARKER: bool = "1", parse::flag,
        "0 drops the missed-call marker requirement on /webhook/ghl/unanswered_call";
    CALL_MISSED_MARKER_KEYS: Vec<String> = "sentinel_missed_call,missed_call,is_missed_call", parse::list,
        "keys that mark a missed call, at any depth";
    ACK_CLOSE_ENABLED: bool = "1", parse::flag,
        "1 lets a thank-you after a staff reply open no issue";
    ACK_CLOSE_MAX_LEN: usize = "60", |v| parse::count(v, "a number of characters, at least 1"),
        "longest text, in characters, that can be an acknowledgement";
    ACK_CLOSE_WINDOW_MODE: AckMode = "eod", parse::ack_mode,
        "how long after a staff reply a thank-you still closes the thread: eod (until that business day closes) or \
        hours";
    ACK_CLOSE_WINDOW_HOURS: Option<SignedDuration> = unset, parse::hours,
        "with ACK_CLOSE_WINDOW_MODE=hours: the window in hours; default INTERNAL_REPLY_GRACE_HOURS";
    ACK_CLOSE_IGNORE_WINDOW_FOR_PURE_ACK: bool = "0", parse::flag,
        "1: an acknowledgement after any earlier staff reply opens no issue, however long ago (the original's \
        .env.example sets 1); 0: only within ACK_CLOSE_WINDOW_MODE's window";
    INTERNAL_REPLY_GRACE_HOURS: SignedDuration = "12", parse::hours,
        "the original's default for ACK_CLOSE_WINDOW_HOURS, read the same way";
    FLOW_LOG_ENABLED: bool = "1", parse::flag,
        "accepted from the original: every decision is logged to the journal anyway (journalctl -u sentinel)";
    RESOLVER_INTERVAL_MINUTES: SignedDuration = "15", parse::interval_minutes,
        "how often OPEN issues are re-checked against GHL in business hours";
    WEBHOOKS: bool = "on", parse::flag,
        "off: this office runs no tunnel, so no webhook is expected and catch-up alone finds what came in, every \
        CATCHUP_INTERVAL_MINUTES (minutes of delay instead of seconds; README, Running without a tunnel)";
    CATCHUP_INTERVAL_MINUTES: Option<SignedDuration> = unset, parse::interval_minutes,
        "how often, in business hours, GHL is asked what came in that no webhook brought (SPEC §12); default 10, or 3 \
        with WEBHOOKS=off";
    CATCHUP_LOOKBACK_HOURS: SignedDuration = "72", parse::positive_hours,
        "farthest back a catch-up looks after a gap: 72 hours reaches back over a weekend the box was off";
    CATCHUP_ALERT_AFTER: u32 = "3", |v| parse::within(v, 0..=100_000, "a whole number of events, 0 for never"),
        "more customer messages than this found by catch-up in one business day tell managers once that the tunnel or \
        a GHL workflow is broken; 0 never (as with WEBHOOKS=off)";
    LED_PATH: PathBuf = "/sys/class/leds/ACT", parse::path,
        "status LED sysfs directory; a missing LED is not an error";
    CLOCK_SYNC: ClockSync = "auto", parse::clock_sync,
        "when the wall clock is believed: auto (unless timesyncd runs and has not synchronized, or it reads before \
        this build), required (only once synchronized), off (always)";
    TUNNEL_READY_URL: Option<String> = unset, parse::url,
        "the tunnel's readiness URL, e.g. cloudflared's http://127.0.0.1:20241/ready; unset means not monitored";
    AI_GATE_ENABLED: bool = "0", parse::flag,
        "1 lets an AI check resolve a due text whose customer is not waiting (SPEC §10)";
    OPENAI_API_KEY: Option<Secret> = secret, parse::secret,
        "key for the AI check; required when AI_GATE_ENABLED=1";
    OPENAI_BASE_URL: String = "https://api.openai.com/v1", parse::url,
        "OpenAI-compatible endpoint for the AI check; POST {this}/responses";
    AI_GATE_MODEL: String = "gpt-4o-mini", parse::text,
        "model for the AI check";
    AI_GATE_SUPPRESS_NO_CONFIDENCE: f64 = "0.90", |v| parse::within(v, 0.0..=1.0, "a number from 0 to 1, e.g. 0.90"),
        "a NO at least this sure (0 to 1) resolves the text; anything else opens it";
    AI_GATE_MAX_MESSAGES: usize = "10", |v| parse::within(v, 1..=100, "a whole number of messages, 1 to 100"),
        "most recent messages of the thread sent to the AI check";
    AI_GATE_GAP_HOURS: SignedDuration = "4", parse::positive_hours,
        "a silence this long ends the thread sent to the AI check";
    AI_GATE_MAX_ISSUES_PER_RUN: usize = "20", |v| parse::count(v, "a whole number of AI requests, at least 1"),
        "most AI requests in one settling run; the rest open unchecked";
    AI_GATE_MAX_PER_RUN: Option<usize> = unset, |v| parse::count(v, "a whole number of AI requests, at least 1"),
        "older name of AI_GATE_MAX_ISSUES_PER_RUN, used when that is unset";
    AI_GATE_RUN_BUDGET_SECONDS: Duration = "20", |v| parse::seconds(v, "20"),
        "longest one settling run spends on AI requests";
    AI_GATE_TIMEOUT_SECONDS: Duration = "4", |v| parse::seconds(v, "4"),
        "longest wait for one AI answer; a late answer counts as still waiting";
    AI_GATE_REDACT_PII: Redaction = "1", parse::redaction,
        "1 masks phone numbers, e-mails and URLs before the thread is sent";
    AI_GATE_MAX_OUTPUT_TOKENS: Option<u32> = unset, |v| parse::within(v, 16..=100_000, "a number of tokens, 16 to 100000"),
        "most tokens the AI check's answer may take (sent as max_output_tokens); unset sends no limit; an answer cut \
        short counts as still waiting, so give a reasoning model room";
    AI_GATE_ON_EVERY_INBOUND: bool = "0", parse::flag,
        "accepted from the original, not needed: it asked GHL and the AI about every inbound text as it came in; here \
        the AI check runs once, at a text's due time (AI_GATE_ENABLED), so a text answered in time costs nothing";
    AI_GATE_ON_EVERY_INBOUND_NO_CONFIDENCE: f64 = "0.80",
        |v| parse::within(v, 0.0..=1.0, "a number from 0 to 1, e.g. 0.80"),
        "accepted from the original with AI_GATE_ON_EVERY_INBOUND, not needed: the check at the due time resolves on \
        AI_GATE_SUPPRESS_NO_CONFIDENCE";
    DECISION_MODE: String = "deterministic", parse::decision_mode,
        "accepted from the original, not needed: its ai_primary let the AI decide first at intake; here the rules \
        always decide and the AI check can only resolve a text still unanswered at its due time (SPEC §10)";
    AI_PRIMARY_SUPPRESS_NO_CONFIDENCE: f64 = "0.65",
        |v| parse::within(v, 0.0..=1.0, "a number from 0 to 1, e.g. 0.65"),
        "accepted from the original with DECISION_MODE=ai_primary, not needed: a text resolves only on a NO at least \
        AI_GATE_SUPPRESS_NO_CONFIDENCE sure";
    OFFBOX_URL: Option<BucketUrl> = unset, BucketUrl::parse,
        "S3-compatible bucket for an encrypted off-box copy of each nightly backup, path-style, e.g. \
        https://s3.us-east-1.amazonaws.com/my-bucket/office; unset means no off-box copy";
    OFFBOX_REGION: String = "us-east-1", parse::text,
        "the bucket's region, for request signing";
    OFFBOX_ACCESS_KEY_ID: Option<String> = unset, parse::text,
        "access key id for the bucket (an identifier, not a secret); required with OFFBOX_URL";
    OFFBOX_SECRET_ACCESS_KEY: Option<Secret> = secret, parse::secret,
        "secret access key for the bucket; required with OFFBOX_URL";
    OFFBOX_ENCRYPTION_KEY: Option<Secret> = secret, parse::passphrase,
        "passphrase the off-box copies are encrypted with, at least 16 characters; required with OFFBOX_URL; keep it \
        off this box: without it no copy can be read";
    OFFBOX_KEEP: usize = "14", |v| parse::count(v, "a whole number of copies, at least 1"),
        "off-box copies kept in the bucket: the newest this many";
    UPDATE_TRIAL_MINUTES: Duration = "10", |v| parse::count(v, "whole minutes, at least 1").map(|m: u64| Duration::from_secs(m * 60)),
        "how long a new version installed by sentinel update has to become healthy before it is rolled back";
    UPDATE_URL: Option<String> = unset, parse::url,
        "a static JSON manifest of the latest release (cross/release.sh --base-url writes it); checked once a night \
        outside business hours, and a newer signed version is installed; unset means no automatic updates";
    NOTIFY_WEBHOOK_URLS: Vec<Target> = "", notify::parse_targets,
        "webhooks told of events besides the managers' SMS: URL=kinds entries split by ';', kinds from breach, digest, \
        health, resolved or all, e.g. https://hooks.example/x=breach,digest;https://hooks.slack.com/services/T/B/C=all; \
        a hooks.slack.com URL gets Slack's text and blocks";
    NOTIFY_WEBHOOK_SECRET: Option<Secret> = secret, parse::signing_secret,
        "Standard Webhooks signing secret (whsec_ and base64 of at least 16 bytes); every delivery is signed with it; \
        required when NOTIFY_WEBHOOK_URLS names a URL that is not a Slack hook";
    CONSOLE_URL: Option<String> = unset, parse::url,
        "the managers' console as managers' phones reach it, e.g. http://192.168.1.20:8001 (ADMIN_LISTEN_ADDR on the \
        office LAN); the SMS Pin command answers with a sign-in link under it; an https:// URL makes the session \
        cookie Secure";
    CONSOLE_SESSION_HOURS: SignedDuration = "12", parse::positive_hours,
        "how long a console sign-in lasts";
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::read::Reader;
    use super::super::{CRON_PREFIX, Config, Source, describe};
    use super::*;

    #[test]
    fn every_default_parses() {
        let source = Source::default();
        let mut reader = Reader::new(&source);
        read_each(&mut reader);
        assert!(reader.errors.is_empty(), "{:#?}", reader.errors);
    }

    #[test]
    fn names_are_unique_and_spelled_as_variables() {
        let mut seen = BTreeSet::new();
        for def in VARS {
            assert!(seen.insert(def.name), "{} appears twice", def.name);
            assert!(def.name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'), "{}", def.name);
            assert!(!def.name.starts_with(CRON_PREFIX), "{}: CRON_* names are the original's schedule", def.name);
            assert!(!def.doc.is_empty() && !def.doc.ends_with('.'), "{}: one line, no final period", def.name);
            assert!(!def.secret || def.default.is_empty(), "{}: a secret has no default", def.name);
        }
    }

    #[test]
    fn check_config_prints_each_entry_once_in_order() -> anyhow::Result<()> {
        let source = Source::default();
        let report = describe(&source, &Config::from_source(&source)?);
        let printed: Vec<&str> = report
            .lines()
            .filter_map(|line| line.split_once('=').map(|(name, _)| name))
            .filter(|name| !name.starts_with('#'))
            .collect();
        let names: Vec<&str> = VARS.iter().map(|def| def.name).collect();
        assert_eq!(printed, names);
        Ok(())
    }

    /// Every secret is masked by `check-config` and kept out of `Debug`, whatever it holds.
    #[test]
    fn secrets_are_masked_everywhere() -> anyhow::Result<()> {
        let values: Vec<(&str, String)> = VARS
            .iter()
            .filter(|def| def.secret)
            .map(|def| match def.name {
                // A signing secret must be whsec_ and base64 to be read at all.
                "NOTIFY_WEBHOOK_SECRET" => (def.name, "whsec_c2VudGluZWwtdGVzdC1rZXktMDEyMz89".to_string()),
                _ => (def.name, format!("{}-value-0123456789", def.name)),
            })
            .collect();
        assert!(values.len() >= 5, "{values:?}");
        let source = Source::from_pairs(values.iter().map(|(name, value)| (*name, value.as_str())));
        let config = Config::from_source(&source)?;
        let (report, debug) = (describe(&source, &config), format!("{config:?}"));
        for (name, value) in &values {
            assert!(!report.contains(value.as_str()) && !debug.contains(value.as_str()), "{name} shown");
            assert!(report.contains(&format!("{name}=****89 (")), "{name}: {report}");
        }
        Ok(())
    }

    /// The README's configuration table names only real variables, and where a row has one
    /// variable and one plain default, it is the table's default.
    #[test]
    fn the_readme_table_agrees_with_the_entries() {
        let readme = include_str!("../../README.md");
        let section = readme.split("\n## Configuration\n").nth(1).unwrap_or_default();
        let rows: Vec<&str> = section
            .lines()
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .collect();
        assert!(rows.len() > 10, "no table under ## Configuration");
        let code = |cell: &str| -> Vec<String> { cell.split('`').skip(1).step_by(2).map(str::to_string).collect() };
        for row in &rows[2..] {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let mut names: Vec<String> = Vec::new();
            for token in code(cells[1]) {
                // `BUSINESS_HOURS_START` / `_END`: a suffix stands for the name before it.
                let name = match (token.strip_prefix('_'), names.last()) {
                    (Some(_), Some(last)) => format!("{}{token}", last.rsplit_once('_').map_or("", |(stem, _)| stem)),
                    _ => token,
                };
                names.push(name);
            }
            for name in &names {
                assert!(VARS.iter().any(|def| def.name == name), "README names {name}, which is not in the table");
            }
            let default = match (cells[2], code(cells[2]).as_slice()) {
                ("—", _) => Some(String::new()),
                (cell, [only]) if *cell == format!("`{only}`") => Some(only.clone()),
                _ => None,
            };
            if let ([name], Some(default)) = (names.as_slice(), default) {
                let def = VARS.iter().find(|def| def.name == name);
                assert_eq!(def.map(|def| def.default), Some(default.as_str()), "README's default for {name}");
            }
        }
    }
}
