//! Tests of the whole configuration: defaults, errors, the original's settings and the table.

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
    let config =
        load(&[("SMS_SLA_HOURS", "0.25"), ("MANAGER_CONTACT_IDS", "abc, def,,"), ("CRON_SUMMARY_HOURS", "8,11,15")])?;
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
        report
            .contains("CRON_SUMMARY_HOURS=08:00,12:00,16:00    # environment; digest hours: they are the digest slots"),
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
    assert_eq!((ai.run_budget, ai.timeout), (std::time::Duration::from_secs(20), std::time::Duration::from_secs(4)));
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

#[test]
fn notification_webhooks_are_read_and_checked() -> anyhow::Result<()> {
    let secret = "whsec_c2VudGluZWwtdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2Q=";
    let config = load(&[
        ("NOTIFY_WEBHOOK_URLS", "https://ops.example/x=breach,health; https://hooks.slack.com/services/T/B/C=all"),
        ("NOTIFY_WEBHOOK_SECRET", secret),
    ])?;
    assert_eq!(config.notify.targets.len(), 2);
    assert_eq!(config.notify.key().map(|key| key.len()), Some(32));
    assert!(!format!("{config:?}").contains(secret));
    // A Slack hook alone needs no secret; any other receiver does.
    let slack = load(&[("NOTIFY_WEBHOOK_URLS", "https://hooks.slack.com/services/T/B/C=breach")])?;
    assert!(slack.notify.key().is_none());
    for (pairs, expected) in [
        (&[("NOTIFY_WEBHOOK_URLS", "https://ops.example/x=breach")][..], "expected NOTIFY_WEBHOOK_SECRET as well"),
        (&[("NOTIFY_WEBHOOK_URLS", "https://ops.example/x")][..], "expected URL=kinds"),
        (&[("NOTIFY_WEBHOOK_URLS", "https://ops.example/x=fire")][..], "unknown event kind \"fire\""),
        (&[("NOTIFY_WEBHOOK_SECRET", "not-a-whsec-secret")][..], "NOTIFY_WEBHOOK_SECRET"),
    ] {
        let message = error_of(pairs);
        assert!(message.contains(expected), "{pairs:?}: {message}");
    }
    assert!(!error_of(&[("NOTIFY_WEBHOOK_SECRET", "not-a-whsec-secret")]).contains("not-a-whsec"));
    Ok(())
}

/// Issue 24: the original's `.env.example` says `WEBHOOK_SECRET=change-me`, and a box that kept
/// it accepted webhooks from anyone who read that file. Placeholders are refused by name.
#[test]
fn placeholder_secrets_are_refused_by_name() {
    for value in [
        "change-me",
        "changeme",
        "CHANGE_ME",
        "your-secret-here",
        "secret",
        "xxx",
        "xxxxxxxxxxxxxxxx",
        "****",
        "<your token>",
        "${GHL_TOKEN}",
        "sk-xxxxxxxx",
        "none",
        "-",
    ] {
        for name in ["WEBHOOK_SECRET", "GHL_TOKEN", "OPENAI_API_KEY"] {
            let message = error_of(&[(name, value)]);
            assert!(
                message.contains(&format!("{name} (not shown): expected a real value")),
                "{name}={value}: {message}"
            );
            assert!(!message.contains(&format!("{name}={value:?}")), "{name}: the value is not shown: {message}");
        }
    }
    assert!(error_of(&[("WEBHOOK_SECRET", "change-me")]).contains("delete the line, and a secret is generated"));
    for value in ["test-token", "pit-0123456789abcdef", "s3cret-value-0123456789", "sk-test-ai-gate-0123456789"] {
        assert!(!parse::is_placeholder(value), "{value}");
    }
}

/// An office without a tunnel runs on catch-up alone (SPEC §12): it needs GHL, and asks more
/// often by default.
#[test]
fn webhooks_off_needs_ghl_and_shortens_the_catch_up_cadence() -> anyhow::Result<()> {
    let read = |pairs: &[(&str, &str)]| Config::from_source(&Source::from_pairs(pairs.iter().copied()));
    let on = read(&[])?;
    assert!(on.catchup.webhooks);
    assert_eq!(on.catchup.interval, jiff::SignedDuration::from_mins(10));
    assert_eq!(on.catchup.lookback, jiff::SignedDuration::from_hours(72), "back over a weekend");
    let refused = read(&[("WEBHOOKS", "off")]).map(|_| ()).unwrap_err().to_string();
    assert!(refused.contains("WEBHOOKS=off: expected GHL_TOKEN"), "{refused}");
    assert!(refused.contains("GHL_LOCATION_ID"), "{refused}");
    let off = read(&[("WEBHOOKS", "off"), ("GHL_TOKEN", "pit-test-token"), ("GHL_LOCATION_ID", "loc1")])?;
    assert!(!off.catchup.webhooks);
    assert_eq!(off.catchup.interval, jiff::SignedDuration::from_mins(3));
    let set = read(&[
        ("WEBHOOKS", "off"),
        ("GHL_TOKEN", "pit-test-token"),
        ("GHL_LOCATION_ID", "l"),
        ("CATCHUP_INTERVAL_MINUTES", "5"),
    ])?;
    assert_eq!(set.catchup.interval, jiff::SignedDuration::from_mins(5));
    assert!(read(&[("CATCHUP_INTERVAL_MINUTES", "0")]).is_err(), "at least a minute");
    assert!(read(&[("WEBHOOKS", "sometimes")]).is_err());
    Ok(())
}
