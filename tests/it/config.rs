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
fn version_and_help() -> anyhow::Result<()> {
    let (ok, stdout, _) = run(&["--version"], &[])?;
    assert!(ok && stdout.starts_with("sentinel "), "{stdout}");
    let (ok, stdout, _) = run(&["--help"], &[])?;
    assert!(ok && stdout.contains("check-config"), "{stdout}");
    let (ok, _, stderr) = run(&["frobnicate"], &[])?;
    assert!(!ok && stderr.contains("frobnicate"), "{stderr}");
    Ok(())
}
