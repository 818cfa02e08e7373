//! Fills the typed [`Config`] from a [`Source`] through the table's entries.
//!
//! Every variable's default, parser and meaning live in `vars`; this file only composes: it
//! reads each entry into the field it feeds, builds what several variables make together (the
//! calendar, the acknowledgement window, the AI check's key, the off-box copy), and folds in
//! the original's `CRON_*` schedule. A bad value does not stop the reading, so one start
//! reports every bad value at once.

use std::path::PathBuf;

use super::cron::{self, CronSchedule};
use super::parse::AckMode;
use super::vars::*;
use super::{
    AiGateConfig, CatchUpConfig, Config, ConsoleConfig, GhlConfig, NotifyConfig, OffboxConfig, Origin, Source,
};
use crate::domain::calendar::{Calendar, WeeklySchedule};
use crate::domain::classify::AckWindow;

/// Reads entries from a source and collects every bad value.
pub(super) struct Reader<'a> {
    source: &'a Source,
    /// One line per bad value: the variable, the value (unless secret) and what was expected.
    pub errors: Vec<String>,
}

impl<'a> Reader<'a> {
    /// A reader with no errors yet.
    pub fn new(source: &'a Source) -> Reader<'a> {
        Reader { source, errors: Vec::new() }
    }

    /// The entry's value, parsed: the value set, else the default. `None` means the error is
    /// recorded.
    pub fn get<T>(&mut self, var: &Var<T>) -> Option<T> {
        let def = &var.def;
        let value = self.source.raw(def.name).unwrap_or(def.default);
        match (var.parse)(value) {
            Ok(parsed) => Some(parsed),
            Err(why) if def.secret => {
                self.errors.push(format!("{} (not shown): {why}", def.name));
                None
            }
            Err(why) => {
                self.errors.push(format!("{}={:?}: {why}", def.name, def.shown(value)));
                None
            }
        }
    }

    /// Whether the entry is set to a non-empty value.
    pub fn is_set<T>(&self, var: &Var<T>) -> bool {
        self.source.raw(var.def.name).is_some()
    }
}

impl Config {
    /// Reads and validates every variable; on failure the error lists every bad value.
    pub fn from_source(source: &Source) -> anyhow::Result<Config> {
        let mut r = Reader::new(source);
        let config = read(&mut r);
        if !r.errors.is_empty() {
            anyhow::bail!("invalid configuration:\n  {}", r.errors.join("\n  "));
        }
        // Every `None` pushed an error, so reaching here means the configuration is whole.
        config.ok_or_else(|| anyhow::format_err!("invalid configuration"))
    }
}

/// Every field, in the order errors are reported; `None` when any value was bad.
///
/// Here and in the `read_*` helpers, every read that can fail comes first, into a local; reads
/// inside the struct literal are of entries that cannot fail (text, lists, plain secrets), so a
/// `?` there never skips an error that should have been reported.
fn read(r: &mut Reader<'_>) -> Option<Config> {
    let webhook_secret = r.get(&WEBHOOK_SECRET);
    let db_path = read_db_path(r);
    let listen_addr = r.get(&LISTEN_ADDR);
    let admin_listen_addr = r.get(&ADMIN_LISTEN_ADDR);
    let public_url = r.get(&PUBLIC_URL);
    let max_body_bytes = r.get(&MAX_BODY_BYTES);
    let http_timeout = r.get(&HTTP_TIMEOUT_SECONDS);
    let calendar = read_calendar(r);
    let sms_sla = r.get(&SMS_SLA_HOURS);
    let call_sla = r.get(&CALL_SLA_HOURS);
    let escalation = r.get(&ESCALATION_BUSINESS_HOURS);
    // The original's CRON_* schedule maps onto ours: its digest hours become the slots
    // (unless SUMMARY_SLOTS is set), CRON_DOW the digest days, its poll step the cadence.
    let cron = cron::read(r.source).unwrap_or_else(|errors| {
        r.errors.extend(errors);
        CronSchedule::default()
    });
    let summary_slots = match &cron.slots {
        Some(slots) => Some(slots.clone()),
        None => r.get(&SUMMARY_SLOTS),
    };
    let summary_max_items = r.get(&SUMMARY_MAX_ITEMS_PER_SECTION);
    let raw_events_retention_days = r.get(&RAW_EVENTS_RETENTION_DAYS);
    let data_max_bytes = r.get(&DATA_MAX_MB);
    // Still validated, so a typo is reported, though nothing reads it any more.
    let _ = r.get(&CALL_DEDUPE_WINDOW_MINUTES);
    let call_resolve_lookback = r.get(&CALL_RESOLVE_LOOKBACK_MINUTES);
    let call_voicemail = r.get(&CALL_VOICEMAIL_COUNTS_AS_CALLBACK);
    let call_require_missed_marker = r.get(&CALL_REQUIRE_MISSED_MARKER);
    let ack_close_enabled = r.get(&ACK_CLOSE_ENABLED);
    let ack_close_max_len = r.get(&ACK_CLOSE_MAX_LEN);
    let ack_close_window = read_ack_window(r);
    let _ = r.get(&FLOW_LOG_ENABLED);
    let _ = r.get(&TZ);
    let resolver_interval = match cron.resolver_minutes {
        Some(minutes) => Some(jiff::SignedDuration::from_mins(i64::from(minutes))),
        None => r.get(&RESOLVER_INTERVAL_MINUTES),
    };
    let catchup = read_catchup(r);
    let clock_sync = r.get(&CLOCK_SYNC);
    let ghl = read_ghl(r);
    let ai_gate = read_ai_gate(r);
    let tunnel_ready_url = r.get(&TUNNEL_READY_URL);
    let offbox = read_offbox(r);
    let notify = read_notify(r);
    let console_session = r.get(&CONSOLE_SESSION_HOURS);
    let update_trial = r.get(&UPDATE_TRIAL_MINUTES);
    let update_url = r.get(&UPDATE_URL);
    Some(Config {
        webhook_secret: webhook_secret?,
        listen_addr: listen_addr?,
        admin_listen_addr: admin_listen_addr?,
        public_url: public_url?,
        db_path: db_path.as_ref()?.0.clone(),
        instance: r.source.instance.clone(),
        docker_db_path: db_path?.1,
        max_body_bytes: max_body_bytes?,
        http_timeout: http_timeout?,
        client_ip_header: r.get(&CLIENT_IP_HEADER)?,
        ghl: ghl?,
        manager_contact_ids: r.get(&MANAGER_CONTACT_IDS)?,
        internal_contact_ids: r.get(&INTERNAL_CONTACT_IDS)?,
        internal_user_ids: r.get(&INTERNAL_USER_IDS)?,
        calendar: calendar?,
        sms_sla: sms_sla?,
        call_sla: call_sla?,
        escalation: escalation?,
        summary_slots: summary_slots?,
        summary_max_items: summary_max_items?,
        raw_events_retention_days: raw_events_retention_days?,
        data_max_bytes: data_max_bytes?,
        call_resolve_lookback: call_resolve_lookback?,
        call_voicemail: call_voicemail?,
        call_require_missed_marker: call_require_missed_marker?,
        call_missed_marker_keys: r.get(&CALL_MISSED_MARKER_KEYS)?,
        ack_close_enabled: ack_close_enabled?,
        ack_close_max_len: ack_close_max_len?,
        ack_close_window: ack_close_window?,
        resolver_interval: resolver_interval?,
        catchup: catchup?,
        led_path: r.get(&LED_PATH)?,
        clock_sync: clock_sync?,
        tunnel_ready_url: tunnel_ready_url?,
        ai_gate: ai_gate?,
        digest_days: cron.digest_days,
        slots_from_cron: cron.slots.is_some(),
        resolver_from_cron: cron.resolver_minutes.is_some(),
        cron: cron.notes,
        offbox: offbox?,
        notify: notify?,
        console: ConsoleConfig { url: r.get(&CONSOLE_URL)?, session: console_session? },
        update_trial: update_trial?,
        update_url: update_url?,
        env_file: r.source.file.clone(),
    })
}

/// The zone, the weekly schedule (`BUSINESS_SCHEDULE`, else Monday to Friday from the two
/// `BUSINESS_HOURS_*`) and the holidays.
fn read_calendar(r: &mut Reader<'_>) -> Option<Calendar> {
    let zone = r.get(&TIMEZONE);
    let weekly = if r.is_set(&BUSINESS_SCHEDULE) {
        r.get(&BUSINESS_SCHEDULE).flatten()
    } else {
        match (r.get(&BUSINESS_HOURS_START), r.get(&BUSINESS_HOURS_END)) {
            (Some(open), Some(close)) => read_weekdays(r, &open, &close),
            _ => None,
        }
    };
    let holidays = r.get(&HOLIDAYS);
    Some(Calendar::new(zone?, weekly?, holidays?))
}

/// Monday to Friday from `open` to `close`, both valid times but perhaps in the wrong order.
fn read_weekdays(r: &mut Reader<'_>, open: &str, close: &str) -> Option<WeeklySchedule> {
    let why = match WeeklySchedule::weekdays(open, close) {
        Ok(weekly) => return Some(weekly),
        Err(why) => why,
    };
    // Name both, and say which one is a default: the user may have set only one.
    let shown = |var: &Var<String>, value: &str| match r.source.origin(var.def.name) {
        Origin::Default => format!("{}={value:?} (default)", var.def.name),
        _ => format!("{}={value:?}", var.def.name),
    };
    let both = format!("{} and {}", shown(&BUSINESS_HOURS_START, open), shown(&BUSINESS_HOURS_END, close));
    r.errors.push(format!("{both}: {why}"));
    None
}

/// How long after a staff reply a thank-you still closes the thread.
fn read_ack_window(r: &mut Reader<'_>) -> Option<AckWindow> {
    let grace = r.get(&INTERNAL_REPLY_GRACE_HOURS);
    let hours = r.get(&ACK_CLOSE_WINDOW_HOURS).and_then(|hours| hours.or(grace));
    let unlimited = r.get(&ACK_CLOSE_IGNORE_WINDOW_FOR_PURE_ACK)?;
    match r.get(&ACK_CLOSE_WINDOW_MODE)? {
        // The window's settings are still checked, so a typo is reported.
        _ if unlimited => hours.map(|_| AckWindow::Unlimited),
        AckMode::EndOfBusinessDay => Some(AckWindow::EndOfBusinessDay),
        AckMode::Hours => hours.map(AckWindow::Hours),
    }
}

/// Catch-up after gaps (SPEC §12).
fn read_catchup(r: &mut Reader<'_>) -> Option<CatchUpConfig> {
    let webhooks = r.get(&WEBHOOKS);
    let interval = r.get(&CATCHUP_INTERVAL_MINUTES);
    let lookback = r.get(&CATCHUP_LOOKBACK_HOURS);
    let alert_after = r.get(&CATCHUP_ALERT_AFTER);
    let webhooks = webhooks?;
    // Without webhooks, catch-up is the only way in: it needs GHL and the location it asks.
    if !webhooks {
        let missing =
            [(GHL_TOKEN.def.name, r.is_set(&GHL_TOKEN)), (GHL_LOCATION_ID.def.name, r.is_set(&GHL_LOCATION_ID))];
        for (name, _) in missing.into_iter().filter(|(_, set)| !set) {
            r.errors.push(format!(
                "WEBHOOKS=off: expected {name} to be set as well (catch-up is then the only way events come in)"
            ));
        }
    }
    Some(CatchUpConfig {
        webhooks,
        interval: interval?.unwrap_or_else(|| CatchUpConfig::default_interval(webhooks)),
        lookback: lookback?,
        alert_after: alert_after?,
    })
}

/// Everything about talking to GHL.
fn read_ghl(r: &mut Reader<'_>) -> Option<GhlConfig> {
    let require_signature = r.get(&GHL_REQUIRE_SIGNATURE);
    let rate_limit_per_10s = r.get(&GHL_RATE_LIMIT_PER_10S);
    let daily_budget = r.get(&GHL_DAILY_BUDGET);
    let timeout = r.get(&GHL_TIMEOUT_SECONDS);
    let base_url = r.get(&GHL_BASE_URL);
    let app_base = r.get(&GHL_APP_BASE);
    let token = r.get(&GHL_TOKEN);
    Some(GhlConfig {
        token: token?,
        // Only a value the user set overrides the per-endpoint versions (the original's .env
        // sets 2021-07-28, which the original sent everywhere, so it keeps working as it did).
        version: r.get(&GHL_VERSION)?,
        base_url: base_url?,
        location_id: r.get(&GHL_LOCATION_ID)?,
        app_base: app_base?,
        require_signature: require_signature?,
        ed25519_key: r.get(&GHL_WEBHOOK_ED25519_KEY)?,
        rsa_key: r.get(&GHL_WEBHOOK_RSA_KEY)?,
        rate_limit_per_10s: rate_limit_per_10s?,
        daily_budget: daily_budget?,
        timeout: timeout?,
    })
}

/// The optional AI check: it needs a key once enabled.
fn read_ai_gate(r: &mut Reader<'_>) -> Option<AiGateConfig> {
    let enabled = r.get(&AI_GATE_ENABLED);
    let base_url = r.get(&OPENAI_BASE_URL);
    let suppress_no_confidence = r.get(&AI_GATE_SUPPRESS_NO_CONFIDENCE);
    let max_messages = r.get(&AI_GATE_MAX_MESSAGES);
    let gap = r.get(&AI_GATE_GAP_HOURS);
    // The original's name wins; the older AI_GATE_MAX_PER_RUN is read only when it is unset.
    let max_per_run = if !r.is_set(&AI_GATE_MAX_ISSUES_PER_RUN) && r.is_set(&AI_GATE_MAX_PER_RUN) {
        r.get(&AI_GATE_MAX_PER_RUN).flatten()
    } else {
        r.get(&AI_GATE_MAX_ISSUES_PER_RUN)
    };
    let run_budget = r.get(&AI_GATE_RUN_BUDGET_SECONDS);
    let timeout = r.get(&AI_GATE_TIMEOUT_SECONDS);
    let redaction = r.get(&AI_GATE_REDACT_PII);
    let max_output_tokens = r.get(&AI_GATE_MAX_OUTPUT_TOKENS);
    let api_key = r.get(&OPENAI_API_KEY);
    // The original's intake-time AI settings: still checked, so a typo is reported, though the
    // check runs only at the due time here.
    let _ = r.get(&AI_GATE_ON_EVERY_INBOUND);
    let _ = r.get(&AI_GATE_ON_EVERY_INBOUND_NO_CONFIDENCE);
    let _ = r.get(&DECISION_MODE);
    let _ = r.get(&AI_PRIMARY_SUPPRESS_NO_CONFIDENCE);
    if enabled == Some(true) && !r.is_set(&OPENAI_API_KEY) {
        r.errors.push("AI_GATE_ENABLED=\"1\": expected OPENAI_API_KEY to be set as well".to_string());
    }
    Some(AiGateConfig {
        enabled: enabled?,
        api_key: api_key?,
        base_url: base_url?,
        model: r.get(&AI_GATE_MODEL)?,
        suppress_no_confidence: suppress_no_confidence?,
        max_messages: max_messages?,
        gap: gap?,
        max_per_run: max_per_run?,
        run_budget: run_budget?,
        timeout: timeout?,
        redaction: redaction?,
        max_output_tokens: max_output_tokens?,
    })
}

/// The off-box settings: all or nothing once `OFFBOX_URL` is set. Secrets are named in errors
/// but never shown.
fn read_offbox(r: &mut Reader<'_>) -> Option<OffboxConfig> {
    let bucket = r.get(&OFFBOX_URL);
    let keep = r.get(&OFFBOX_KEEP);
    let encryption_key = r.get(&OFFBOX_ENCRYPTION_KEY);
    let secret_access_key = r.get(&OFFBOX_SECRET_ACCESS_KEY);
    if r.is_set(&OFFBOX_URL) {
        for (def, why) in [
            (&OFFBOX_ENCRYPTION_KEY.def, "it encrypts the copies; keep it somewhere other than this box"),
            (&OFFBOX_ACCESS_KEY_ID.def, "the bucket's access key"),
            (&OFFBOX_SECRET_ACCESS_KEY.def, "the bucket's access key"),
        ] {
            if r.source.raw(def.name).is_none() {
                r.errors.push(format!("OFFBOX_URL is set: expected {} as well ({why})", def.name));
            }
        }
    }
    Some(OffboxConfig {
        bucket: bucket?,
        region: r.get(&OFFBOX_REGION)?,
        access_key_id: r.get(&OFFBOX_ACCESS_KEY_ID)?,
        secret_access_key: secret_access_key?,
        encryption_key: encryption_key?,
        keep: keep?,
    })
}

/// The notification webhooks: a URL that is not a Slack hook needs the signing secret.
fn read_notify(r: &mut Reader<'_>) -> Option<NotifyConfig> {
    let targets = r.get(&NOTIFY_WEBHOOK_URLS);
    let secret = r.get(&NOTIFY_WEBHOOK_SECRET);
    if let (Some(targets), Some(None)) = (&targets, &secret)
        && let Some(unsigned) = targets.iter().find(|target| !target.is_slack())
    {
        r.errors.push(format!(
            "NOTIFY_WEBHOOK_URLS names {}: expected NOTIFY_WEBHOOK_SECRET as well (whsec_ and base64), so the receiver can verify deliveries",
            crate::domain::notify::mask_url(&unsigned.url)
        ));
    }
    Some(NotifyConfig { targets: targets?, secret: secret? })
}

/// The database path, and the original's Docker-era `DB_PATH` when it was set aside: under
/// systemd (`STATE_DIRECTORY`), a path under `/data/` is the original's container volume, which
/// the appliance does not have (its root is read-only), so the state directory is used instead
/// and `warnings` says so, rather than the start failing on "creating /data".
/// An instance's default is in the directory named for it (issue 29).
fn read_db_path(r: &mut Reader<'_>) -> Option<(PathBuf, Option<PathBuf>)> {
    let default = || match &r.source.instance {
        Some(name) => super::instance::data_dir(name, state_directory().as_deref()).join("sentinel.db"),
        None => default_db_path(),
    };
    let default = default();
    Some(match r.get(&DB_PATH)? {
        Some(path) if is_docker_path(&path) && state_directory().is_some() => (default, Some(path)),
        Some(path) => (path, None),
        None => (default, None),
    })
}

/// Where a `DB_PATH` from an env file (a restored copy's, say) puts the database on this box:
/// as at start, the original's Docker path under systemd means the state directory.
pub fn db_path_here(path: PathBuf) -> PathBuf {
    if is_docker_path(&path) && state_directory().is_some() { default_db_path() } else { path }
}

/// Whether `path` is under `/data`, where the original's Docker volume was mounted.
pub(super) fn is_docker_path(path: &std::path::Path) -> bool {
    path.starts_with("/data")
}

/// The systemd state directory, when the service runs under one.
fn state_directory() -> Option<PathBuf> {
    let dir = std::env::var_os("STATE_DIRECTORY").filter(|dir| !dir.is_empty())?;
    // StateDirectory= may list several directories separated by ':'; ours is the first.
    let dir = dir.to_string_lossy();
    Some(PathBuf::from(dir.split(':').next().unwrap_or("/var/lib/sentinel")))
}

/// The default database path: the systemd state directory, else `./sentinel-data`.
fn default_db_path() -> PathBuf {
    match state_directory() {
        Some(dir) => dir.join("sentinel.db"),
        None => PathBuf::from("./sentinel-data/sentinel.db"),
    }
}
