//! Configuration errors stop the start with a message naming the variable (SPEC §9), and
//! `check-config` shows the effective configuration with secrets masked.

use crate::harness::command;

fn run(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<(bool, String, String)> {
    let dir = tempfile::tempdir()?;
    let output = command()
        .args(args)
        .env_clear()
        .env("DB_PATH", dir.path().join("s.db"))
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    ))
}

#[test]
fn each_bad_value_stops_the_start_naming_the_variable() -> anyhow::Result<()> {
    for (name, value) in [
        ("SMS_SLA_HOURS", "two"),
        ("TIMEZONE", "Mars/Base"),
        ("LISTEN_ADDR", "nowhere"),
        ("BUSINESS_HOURS_START", "9am"),
        ("SUMMARY_SLOTS", "morning"),
        ("CALL_REQUIRE_MISSED_MARKER", "perhaps"),
    ] {
        let (ok, _, stderr) = run(&["run"], &[(name, value), ("LISTEN_ADDR", "127.0.0.1:0"), (name, value)])?;
        assert!(!ok, "{name}={value} was accepted");
        assert!(stderr.contains(name) && stderr.contains(value), "{name}: {stderr}");
        assert!(stderr.contains("expected"), "{name}: {stderr}");
    }
    Ok(())
}

#[test]
fn the_env_file_is_read_and_the_environment_wins() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("sentinel.env");
    std::fs::write(
        &file,
        "# the original's .env\nSMS_SLA_HOURS=3\nCALL_SLA_HOURS=4\nGHL_TOKEN=pit-abcdef0123456789\nCRON_SUMMARY_HOURS=8,11,15\nCOMPOSE_PROJECT_NAME=sentinel\n",
    )?;
    let path = file.display().to_string();
    let (ok, stdout, stderr) = run(&["check-config", "--config", &path], &[("CALL_SLA_HOURS", "5")])?;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("SMS_SLA_HOURS=3    # env file"), "{stdout}");
    assert!(stdout.contains("CALL_SLA_HOURS=5    # environment"), "{stdout}");
    assert!(!stdout.contains("pit-abcdef0123456789"), "secrets are masked: {stdout}");
    assert!(stdout.contains("CRON_SUMMARY_HOURS"), "{stdout}");
    assert!(stdout.contains("warning: COMPOSE_PROJECT_NAME"), "{stdout}");
    let (ok, _, stderr) = run(&["check-config", "--config", "/nonexistent/sentinel.env"], &[])?;
    assert!(!ok && stderr.contains("/nonexistent/sentinel.env"), "{stderr}");
    Ok(())
}

#[test]
fn a_conflict_names_both_variables_and_which_is_a_default() -> anyhow::Result<()> {
    let (ok, _, stderr) = run(&["check-config"], &[("BUSINESS_HOURS_START", "18:00")])?;
    assert!(!ok);
    assert!(stderr.contains("BUSINESS_HOURS_START=\"18:00\" and BUSINESS_HOURS_END=\"17:00\" (default)"), "{stderr}");
    Ok(())
}

#[test]
fn version_and_help() -> anyhow::Result<()> {
    let (ok, stdout, _) = run(&["--version"], &[])?;
    assert!(ok && stdout.starts_with("sentinel "), "{stdout}");
    let (ok, stdout, _) = run(&["--help"], &[])?;
    assert!(ok && stdout.contains("check-config"), "{stdout}");
    let (ok, _, stderr) = run(&["frobnicate"], &[])?;
    assert!(!ok && stderr.contains("frobnicate"), "{stderr}");
    Ok(())
}

/// Issue 24 item 9a: `sentinel release pack --help` said "--help needs a value".
#[test]
fn help_anywhere_prints_that_commands_usage() -> anyhow::Result<()> {
    let (ok, stdout, stderr) = run(&["release", "pack", "--help"], &[])?;
    assert!(ok && stdout.contains("sentinel release pack") && stderr.is_empty(), "{stdout}{stderr}");
    let (ok, stdout, _) = run(&["manager", "add", "-h"], &[])?;
    assert!(ok && stdout.contains("sentinel manager add NAME"), "{stdout}");
    assert!(!stdout.contains("sentinel backup"), "only that command's usage: {stdout}");
    let (ok, stdout, _) = run(&["restore", "--offbox", "--help"], &[])?;
    assert!(ok && stdout.contains("sentinel restore --offbox latest|NAME"), "{stdout}");
    let (ok, stdout, _) = run(&["update", "bundle.tar", "--help"], &[])?;
    assert!(ok && stdout.contains("--allow-downgrade") && stdout.contains("rolled back by itself"), "{stdout}");
    let (ok, stdout, _) = run(&["--config", "/nonexistent/sentinel.env", "run", "--help"], &[])?;
    assert!(ok && stdout.contains("run the service"), "{stdout}");
    Ok(())
}

const ORIGINAL_ENV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/original/env.example");

/// What a real `.env` has where the original's `.env.example` has `change-me`: the example's
/// placeholders are refused (issue 24), so the tests that run it set real-looking secrets in
/// the environment, which wins.
const REAL_SECRETS: [(&str, &str); 2] =
    [("WEBHOOK_SECRET", "s3cret-value-0123456789"), ("GHL_TOKEN", "pit-0123456789abcdef")];

/// The names an env file sets, in order.
fn names_in(file: &str) -> anyhow::Result<Vec<String>> {
    Ok(std::fs::read_to_string(file)?
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim().to_string()))
        .collect())
}

#[test]
fn the_originals_env_example_configures_sentinel_as_it_is() -> anyhow::Result<()> {
    let (ok, stdout, stderr) = run(&["check-config", "--config", ORIGINAL_ENV], &REAL_SECRETS)?;
    assert!(ok, "the original's .env.example is refused: {stderr}");
    assert!(!stdout.contains("not a Sentinel variable"), "{stdout}");
    // Every variable in it is shown with what it does or what replaced it.
    for name in names_in(ORIGINAL_ENV)? {
        assert!(stdout.lines().any(|line| line.starts_with(&format!("{name}="))), "{name} is not shown:\n{stdout}");
    }
    // The cron block maps onto Sentinel's schedule, in words and in effect.
    for expected in [
        "CRON_DOW=mon-fri    # env file; digest days",
        "CRON_MORNING_HOUR=08:00    # env file; digest hours",
        "CRON_BUSINESS_HOURS=08:00,09:00,10:00,11:00,12:00,13:00,14:00,15:00,16:00    # env file; the jobs' hours",
        "CRON_POLL_RESOLVER_EVERY_MINUTES=every 15 min    # env file; resolver cadence",
        "CRON_VERIFY_PENDING_EVERY_MINUTES=every 5 min    # env file; pending checks",
        "CRON_ESCALATIONS_EVERY_MINUTES=every 1 min    # env file; breach alerts",
        "# digests: morning at 08:00, midday at 11:00, afternoon at 15:00 on business days among mon-fri",
        "# resolver: OPEN issues re-checked every 15 min",
        "ACK_CLOSE_WINDOW_MODE=eod    # env file",
        "CALL_DEDUPE_WINDOW_MINUTES=240    # env file; accepted from the original, no longer needed",
        "ACK_CLOSE_IGNORE_WINDOW_FOR_PURE_ACK=1    # env file; 1: an acknowledgement after any earlier staff reply",
        "AI_GATE_MAX_OUTPUT_TOKENS=220    # env file; most tokens the AI check's answer may take",
        "AI_GATE_ON_EVERY_INBOUND=0    # env file; accepted from the original, not needed",
        "AI_GATE_ON_EVERY_INBOUND_NO_CONFIDENCE=0.80    # env file; accepted from the original",
        "DECISION_MODE=deterministic    # env file; accepted from the original, not needed",
        "AI_PRIMARY_SUPPRESS_NO_CONFIDENCE=0.65    # env file; accepted from the original",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
    Ok(())
}

/// Issue 24: the original's latest `.env` drew six "not a Sentinel variable" warnings. Every
/// name the original reads is known, also the two its `.env.example` leaves out (TZ, read when
/// TIMEZONE is unset, and CRON_INSTALL), and the intake-time AI settings it cannot carry out
/// are said to be so when they would have changed something.
#[test]
fn every_name_the_original_reads_is_known_and_explained() -> anyhow::Result<()> {
    let (ok, stdout, stderr) = run(&["check-config", "--config", ORIGINAL_ENV], &REAL_SECRETS)?;
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("not a Sentinel variable"), "{stdout}");
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("original.env");
    let extra = "TZ=America/New_York\nCRON_INSTALL=1\nDECISION_MODE=ai_primary\nAI_GATE_ON_EVERY_INBOUND=1\n";
    std::fs::write(&file, format!("{}{extra}", std::fs::read_to_string(ORIGINAL_ENV)?))?;
    let (ok, stdout, stderr) = run(&["check-config", "--config", &file.display().to_string()], &REAL_SECRETS)?;
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("not a Sentinel variable"), "{stdout}");
    for expected in [
        "CRON_INSTALL=1    # env file; not used: Sentinel runs its jobs on its own schedule",
        "TZ=America/New_York    # env file; accepted from the original",
        "# warning: TZ=America/New_York in the env file does not set the zone: the zone is TIMEZONE's, America/Chicago",
        "# warning: DECISION_MODE=ai_primary is not carried out",
        "# warning: AI_GATE_ON_EVERY_INBOUND=1 is not carried out",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
    let (ok, _, stderr) = run(&["check-config"], &[("DECISION_MODE", "ai_first")])?;
    assert!(!ok && stderr.contains("DECISION_MODE=\"ai_first\": expected deterministic or ai_primary"), "{stderr}");
    Ok(())
}

#[test]
fn the_originals_env_example_runs_and_its_values_take_effect() -> anyhow::Result<()> {
    let ghl = crate::fake_ghl::FakeGhl::start()?;
    // Only what must differ on a test machine is overridden by the environment, which wins:
    // the database path, loopback ports, and GHL itself (a stand-in on 127.0.0.1).
    let app = crate::harness::Sentinel::start_with_args(
        tempfile::tempdir()?,
        &["run", "--config", ORIGINAL_ENV],
        &[
            ("GHL_BASE_URL", ghl.url.as_str()),
            ("GHL_TOKEN", "test-token"),
            ("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z"),
        ],
    )?;
    let answer = app.webhook("inbound_sms", &crate::harness::payload("workflow_inbound_sms.json"))?;
    assert_eq!(answer.status, 200, "{answer:?}");
    // SMS_SLA_HOURS=0.5 from the file: due 30 minutes later (Mon 09:00 CST → 09:30).
    let due: String = app.db()?.query_row("SELECT due_at FROM issues", [], |r| r.get(0))?;
    assert!(due.starts_with("2026-03-02T15:30:00"), "{due}");
    let status = app.admin("GET", "/api/status")?;
    assert_eq!(status.json["next_digest"][0], "midday", "{status:?}");
    Ok(())
}

#[test]
fn cron_digest_hours_and_days_move_the_digests() -> anyhow::Result<()> {
    // Monday 2026-03-02 07:00 CST: with CRON_MORNING_HOUR=9 the next digest is at 09:00.
    let app = crate::harness::Sentinel::start(&[
        ("CRON_MORNING_HOUR", "9"),
        ("CRON_DOW", "2-5"),
        ("SENTINEL_TEST_NOW", "2026-03-02T13:00:00Z"),
    ])?;
    let status = app.admin("GET", "/api/status")?;
    // Monday is not among CRON_DOW's days: the next digest is Tuesday morning at 09:00 CST.
    assert_eq!(status.json["next_digest"], serde_json::json!(["morning", "2026-03-03T15:00:00Z"]), "{status:?}");
    let (ok, stdout, stderr) =
        run(&["check-config"], &[("CRON_MORNING_HOUR", "9"), ("CRON_POLL_RESOLVER_EVERY_MINUTES", "10")])?;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("# digests: morning at 09:00, midday at 11:00, afternoon at 15:00"), "{stdout}");
    assert!(stdout.contains("every 10 min"), "{stdout}");
    assert!(
        stdout.contains("SUMMARY_SLOTS=morning=09:00,midday=11:00,afternoon=15:00    # from the CRON_* digest hours"),
        "{stdout}"
    );
    assert!(stdout.contains("RESOLVER_INTERVAL_MINUTES=10    # from CRON_POLL_RESOLVER_EVERY_MINUTES"), "{stdout}");
    assert!(!stdout.contains("CRON_MORNING_HOUR=09:00    # not used"), "{stdout}");
    // A value the original's cron could not run is refused with its name and what is expected.
    let (ok, _, stderr) = run(&["run"], &[("CRON_DOW", "1-9"), ("LISTEN_ADDR", "127.0.0.1:0")])?;
    assert!(!ok && stderr.contains("CRON_DOW=\"1-9\"") && stderr.contains("days of the week"), "{stderr}");
    Ok(())
}

#[test]
fn every_variable_spec_9_lists_is_accepted() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("every.env");
    let spec_9 = [
        ("WEBHOOK_SECRET", "s3cret-value-0123456789"),
        ("GHL_TOKEN", "pit-0123456789abcdef"),
        ("GHL_VERSION", "2021-07-28"),
        ("GHL_BASE_URL", "http://127.0.0.1:9"),
        ("GHL_LOCATION_ID", "loc1"),
        ("GHL_APP_BASE", "https://app.gohighlevel.com"),
        ("MANAGER_CONTACT_IDS", "m1,m2"),
        ("INTERNAL_CONTACT_IDS", "t1"),
        ("INTERNAL_USER_IDS", "u1"),
        ("TIMEZONE", "America/Chicago"),
        ("DB_PATH", "/tmp/never-opened.db"),
        ("BUSINESS_HOURS_START", "07:30"),
        ("BUSINESS_HOURS_END", "16:30"),
        ("SMS_SLA_HOURS", "1.5"),
        ("CALL_SLA_HOURS", "0.25"),
        ("SUMMARY_MAX_ITEMS_PER_SECTION", "5"),
        ("RAW_EVENTS_RETENTION_DAYS", "14"),
        ("CALL_DEDUPE_WINDOW_MINUTES", "30"),
        ("CALL_RESOLVE_LOOKBACK_MINUTES", "20"),
        ("CALL_REQUIRE_MISSED_MARKER", "0"),
        ("CALL_MISSED_MARKER_KEYS", "missed_call"),
        ("ACK_CLOSE_ENABLED", "1"),
        ("ACK_CLOSE_MAX_LEN", "40"),
        ("CRON_MORNING_HOUR", "7"),
        ("AI_GATE_ENABLED", "0"),
        ("OPENAI_API_KEY", "sk-0123456789abcdef"),
        ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        ("AI_GATE_MODEL", "gpt-5-mini"),
    ];
    let text: String = spec_9.iter().map(|(name, value)| format!("{name}={value}\n")).collect();
    std::fs::write(&file, text)?;
    let path = file.display().to_string();
    let (ok, stdout, stderr) = run(&["check-config", "--config", &path], &[])?;
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("not a Sentinel variable"), "{stdout}");
    for (name, value) in spec_9 {
        let line = stdout.lines().find(|line| line.starts_with(&format!("{name}="))).unwrap_or_default();
        if name == "DB_PATH" {
            continue; // the test's own DB_PATH comes from the environment, which wins
        }
        assert!(line.contains("# env file"), "{name} did not come from the file: {line:?}\n{stdout}");
        if !name.contains("SECRET") && !name.contains("TOKEN") && !name.contains("KEY") && !name.starts_with("CRON_") {
            assert!(line.starts_with(&format!("{name}={value}")), "{name}: {line:?}");
        }
    }
    assert!(stdout.contains("# digests: morning at 07:00"), "{stdout}");
    Ok(())
}

/// `sentinel ARGS` with the original's `.env.example` and `env` (no `DB_PATH` from the test, so
/// the file's `/data/sentinel.db` counts), in a scratch working directory.
fn with_the_originals_db_path(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<(bool, String, String)> {
    let dir = tempfile::tempdir()?;
    let output = command().args(args).env_clear().envs(env.iter().copied()).current_dir(dir.path()).output()?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    ))
}

/// Issue 24: the original's `.env.example` has `WEBHOOK_SECRET=change-me` and
/// `GHL_TOKEN=change-me`, and a box that kept them took webhooks from anyone who had read the
/// file. check-config and the start refuse them, naming each, without showing them.
#[test]
fn placeholder_secrets_stop_check_config_and_the_start() -> anyhow::Result<()> {
    let config = ["--config", ORIGINAL_ENV];
    for command in ["check-config", "run"] {
        let args: Vec<&str> = std::iter::once(command).chain(config).collect();
        let (ok, stdout, stderr) = run(&args, &[("LISTEN_ADDR", "127.0.0.1:0"), ("ADMIN_LISTEN_ADDR", "127.0.0.1:0")])?;
        assert!(!ok, "{command} accepted change-me: {stdout}");
        for name in ["WEBHOOK_SECRET", "GHL_TOKEN"] {
            let line = format!("{name} (not shown): expected a real value, not an example file's placeholder");
            assert!(stderr.contains(&line), "{command}: {stderr}");
        }
        assert!(stderr.contains("or delete the line, and a secret is generated"), "{stderr}");
    }
    // An empty-ish value is a placeholder too; an empty one is unset (WEBHOOK_SECRET generated).
    let (ok, _, stderr) = run(&["check-config"], &[("GHL_TOKEN", "<your token>")])?;
    assert!(!ok && stderr.contains("GHL_TOKEN (not shown)"), "{stderr}");
    let (ok, _, stderr) = run(&["check-config"], &[("WEBHOOK_SECRET", "")])?;
    assert!(ok, "{stderr}");
    Ok(())
}

/// Issue 24: the original's `DB_PATH=/data/sentinel.db` (its Docker volume) stopped the start
/// with "creating /data: Permission denied". Under systemd (`STATE_DIRECTORY`) it is set
/// aside for the state directory with a warning; check-config says what to do either way.
#[test]
fn the_originals_docker_db_path_is_set_aside_under_systemd() -> anyhow::Result<()> {
    let state = tempfile::tempdir()?;
    let state_dir = state.path().display().to_string();
    let mut env = REAL_SECRETS.to_vec();
    env.push(("STATE_DIRECTORY", &state_dir));
    let (ok, stdout, stderr) = with_the_originals_db_path(&["check-config", "--config", ORIGINAL_ENV], &env)?;
    assert!(ok, "{stderr}");
    let db = state.path().join("sentinel.db").display().to_string();
    assert!(stdout.contains(&format!("DB_PATH={db}    # env file")), "{stdout}");
    let warning = format!(
        "# warning: DB_PATH=/data/sentinel.db is the original's Docker volume path, which this box does not have: it \
         is ignored, and the database is {db} (the service's state directory)"
    );
    assert!(stdout.contains(&warning), "{stdout}");
    // Typed by hand, without the service's state directory: what to do.
    let (ok, stdout, stderr) = with_the_originals_db_path(&["check-config", "--config", ORIGINAL_ENV], &REAL_SECRETS)?;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(
            "# warning: DB_PATH=/data/sentinel.db is the original's Docker volume path: the service \
                             (under systemd) ignores it"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("delete the DB_PATH line"), "{stdout}");
    // The service starts on it, its database in the state directory.
    let ghl = crate::fake_ghl::FakeGhl::start()?;
    let binary = command();
    let mut program = std::process::Command::new("env");
    program.args(["-u", "DB_PATH"]).arg(binary.get_program()).args(binary.get_args());
    let dir = tempfile::tempdir()?;
    let state_dir = dir.path().display().to_string();
    let app = crate::harness::Sentinel::start_command(
        program,
        dir,
        &["run", "--config", ORIGINAL_ENV],
        &[("STATE_DIRECTORY", &state_dir), ("GHL_TOKEN", "test-token"), ("GHL_BASE_URL", ghl.url.as_str())],
    )?;
    let answer = app.webhook("inbound_sms", &crate::harness::payload("workflow_inbound_sms.json"))?;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 1, "the database is in the state directory");
    let log = std::fs::read_to_string(app.dir().join("stderr.log"))?;
    assert!(log.contains("DB_PATH=/data/sentinel.db is the original's Docker volume path"), "{log}");
    Ok(())
}
