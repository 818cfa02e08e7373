//! The `check-config` report and the start-up warnings.
//!
//! The report prints every row of the table in `vars`: the effective value (secrets masked),
//! where it came from and what it means, then the `CRON_*` mapping and the settings derived
//! from several variables. `main` prints the warnings at start too.

use super::{Config, Origin, Source, VARS};

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
        let shown = def.shown(value);
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
    out.push_str(&format!("# GHL Version header: {}\n", config.ghl.describe_versions()));
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
    // The original's Docker volume path: set aside under systemd, and explained elsewhere.
    match &config.docker_db_path {
        Some(docker) => warnings.push(format!(
            "DB_PATH={} is the original's Docker volume path, which this box does not have: it is ignored, and the \
             database is {} (the service's state directory); delete the DB_PATH line to silence this",
            docker.display(),
            config.db_path.display()
        )),
        None if super::read::is_docker_path(&config.db_path) => warnings.push(format!(
            "DB_PATH={} is the original's Docker volume path: the service (under systemd) ignores it and keeps the \
             database in its state directory, /var/lib/sentinel/sentinel.db on the appliance; run by hand, this \
             command would create {}: delete the DB_PATH line (or point it at a directory you may write), and bring \
             the original's database over with sentinel import-original (docs/MIGRATING.md)",
            config.db_path.display(),
            config.db_path.parent().map(|dir| dir.display().to_string()).unwrap_or_default()
        )),
        None => {}
    }
    // The original read TZ when TIMEZONE was unset; here only TIMEZONE counts.
    let zone = config.calendar.zone().iana_name().unwrap_or_default();
    if source.origin("TZ") == Origin::File && source.value("TZ") != zone {
        warnings.push(format!(
            "TZ={} in the env file does not set the zone: the zone is TIMEZONE's, {zone}; set TIMEZONE to change it",
            source.value("TZ")
        ));
    }
    // The original's intake-time AI decisions are not carried out; say so rather than ignore them.
    if source.value("DECISION_MODE").eq_ignore_ascii_case("ai_primary") {
        warnings.push(
            "DECISION_MODE=ai_primary is not carried out: the rules decide, and the AI check (AI_GATE_ENABLED) can \
             only resolve a text still unanswered at its due time"
                .to_string(),
        );
    }
    if source
        .raw("AI_GATE_ON_EVERY_INBOUND")
        .is_some_and(|value| ["1", "true", "yes", "on"].contains(&value.to_ascii_lowercase().as_str()))
    {
        warnings.push(
            "AI_GATE_ON_EVERY_INBOUND=1 is not carried out: the AI check (AI_GATE_ENABLED) runs once, at a text's due \
             time"
                .to_string(),
        );
    }
    if config.offbox.bucket.is_some() && config.env_file.is_none() {
        warnings.push(
            "OFFBOX_URL is set but no env file was read: the off-box copies hold the data, not the configuration"
                .to_string(),
        );
    }
    warnings
}
