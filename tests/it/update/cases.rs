//! Updates that go through, roll back, or are refused.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, ensure};

use super::*;

#[test]
fn an_update_to_a_good_build_is_confirmed_and_managers_are_told_once() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let bundle = appliance.fixture.bundle("0.2.0", &[])?;
    let app = appliance.boot(tempfile::tempdir()?, &[])?;
    assert_eq!(version(&app)?, FACTORY);
    let sender = Sender::start(&appliance.webhook_addr, "good");
    let output = appliance.update(app.dir(), &[path(&bundle)], Some(&app.admin_addr), &[])?;
    ensure!(output.status.success(), "update failed: {}", text(&output));
    assert!(text(&output).contains("installed sentinel 0.2.0 into slot a"), "{}", text(&output));
    assert!(text(&output).contains("restarting"), "{}", text(&output));
    let dir = restarted(app)?;
    assert!(dir.path().join("slots/pre-update.db").exists(), "the database was backed up first");
    assert_eq!(state(dir.path(), "trial")["boots"], "0");
    let app = appliance.boot(dir, &[])?;
    assert_eq!(version(&app)?, "0.2.0");
    app.eventually("the update is confirmed", || Ok(confirmed(app.dir())))?;
    app.eventually("managers are told", || Ok(appliance.sms_with("updated to 0.2.0") == 1))
        .with_context(|| {
            let rows: Vec<String> = app
                .db()
                .and_then(|db| {
                    let mut statement = db.prepare("SELECT purpose || ' ' || status || ' ' || next_attempt_at || ' ' || created_at || ' ' || attempts || ' ' || COALESCE(last_error, '') FROM outbox")?;
                    let rows = statement.query_map([], |row| row.get(0))?.collect::<Result<Vec<String>, _>>()?;
                    Ok(rows)
                })
                .unwrap_or_default();
            format!("sent: {:?}; outbox: {rows:?}; last-update: {:?}", appliance.ghl.sends(), state(app.dir(), "last-update"))
        })?;
    let acknowledged = sender.finish();
    assert!(acknowledged.len() > 5, "webhooks flowed: {}", acknowledged.len());
    all_stored(&app, &acknowledged)?;
    let status = app.admin("GET", "/api/status")?.json;
    assert_eq!(status["version"], "0.2.0");
    assert_eq!(status["update"]["slot"], "a");
    assert!(status["update"]["last"].as_str().unwrap_or_default().starts_with("updated to 0.2.0"), "{status}");
    let page = app.admin("GET", "/status")?.text;
    assert!(page.contains("Version 0.2.0, slot a; last: updated to 0.2.0"), "{page}");
    // A restart later neither counts a boot nor tells managers again.
    app.admin("POST", "/jobs/restart")?;
    let app = appliance.boot(restarted(app)?, &[])?;
    assert_eq!(version(&app)?, "0.2.0");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(appliance.sms_with("updated to 0.2.0"), 1);
    Ok(())
}

#[test]
fn an_update_that_never_becomes_healthy_rolls_back_and_the_old_version_reads_the_newer_schema() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let bundle = appliance.fixture.bundle("0.2.0", &[])?;
    // The hook names 0.2.0, so only the candidate is unhealthy.
    let unhealthy = [("SENTINEL_TEST_UNHEALTHY_VERSION", "0.2.0")];
    let app = appliance.boot(tempfile::tempdir()?, &unhealthy)?;
    assert!(deliver(&appliance.webhook_addr, "before"));
    let dir = appliance.installed(app, &bundle)?;
    // The candidate also migrates the schema one version further (a table and a column).
    let app = appliance.boot(dir, &[unhealthy[0], ("SENTINEL_TEST_SCHEMA_AHEAD", "1")])?;
    assert_eq!(version(&app)?, "0.2.0");
    let health = app.admin("GET", "/health")?;
    assert_eq!(health.status, 503, "{}", health.text);
    assert!(deliver(&appliance.webhook_addr, "during"), "webhooks are taken during the trial");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(state(app.dir(), "trial")["to"], "a", "still on trial before the deadline");
    app.set_clock(AFTER_TRIAL)?;
    let dir = restarted(app)?;
    let last = state(dir.path(), "last-update");
    assert_eq!(last["result"], "rolled-back");
    assert!(last["reason"].contains("not healthy within 10 minutes"), "{last:?}");
    let app = appliance.boot(dir, &unhealthy)?;
    assert_eq!(version(&app)?, FACTORY);
    assert_eq!(app.admin("GET", "/health")?.status, 200);
    let schema: i64 = app.db()?.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let ahead: i64 = app.count("SELECT COUNT(*) FROM test_ahead")?;
    assert_eq!(ahead, 1, "the newer schema's table is still there (schema {schema})");
    assert!(deliver(&appliance.webhook_addr, "after"), "the old version works on the newer schema");
    all_stored(&app, &["before".into(), "during".into(), "after".into()])?;
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 3, "one issue per contact");
    app.eventually("managers are told", || Ok(appliance.sms_with("rolled back to") == 1))?;
    let status = app.admin("GET", "/api/status")?.json;
    assert_eq!(status["update"]["slot"], "factory");
    assert!(status["update"]["last"].as_str().unwrap_or_default().contains("rolled back"), "{status}");
    Ok(())
}

/// The slots directory's files with their contents' hashes, and the database's bytes.
type OnDisk = (Vec<(String, u64)>, Vec<u8>);

/// What is on disk of an appliance that an update may change.
fn snapshot(dir: &Path) -> anyhow::Result<OnDisk> {
    fn walk(dir: &Path, found: &mut Vec<(String, u64)>) -> anyhow::Result<()> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() && !path.is_symlink() {
                walk(&path, found)?;
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                let hash = bytes
                    .iter()
                    .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
                found.push((path.display().to_string(), hash));
            }
        }
        Ok(())
    }
    let mut found = Vec::new();
    walk(&dir.join("slots"), &mut found)?;
    found.sort();
    Ok((found, std::fs::read(dir.join("sentinel.db"))?))
}

#[test]
fn bad_bundles_are_refused_with_a_clear_message_and_nothing_changes() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let fixture = appliance.fixture.clone();
    // A first good update, so there is a slot and a database to keep unchanged.
    let app = appliance.boot(tempfile::tempdir()?, &[])?;
    assert!(deliver(&appliance.webhook_addr, "kept"));
    let output = appliance.update(app.dir(), &[path(&fixture.bundle("0.2.0", &[])?)], Some(&app.admin_addr), &[])?;
    ensure!(output.status.success(), "update failed: {}", text(&output));
    let app = appliance.boot(restarted(app)?, &[])?;
    app.eventually("the update is confirmed", || Ok(state(app.dir(), "trial").is_empty()))?;
    let (_, dir) = app.stop()?;

    let good = std::fs::read(fixture.bundle("0.3.0", &[])?)?;
    let scratch = tempfile::tempdir()?;
    let truncated = scratch.path().join("truncated.bundle");
    std::fs::write(&truncated, &good[..good.len() / 2])?;
    let mut flipped = good.clone();
    let at = flipped.len() - 100;
    flipped[at] ^= 0x40;
    let tampered = scratch.path().join("tampered.bundle");
    std::fs::write(&tampered, &flipped)?;
    let other_arch =
        if std::env::consts::ARCH == "aarch64" { "x86_64-unknown-linux-gnu" } else { "aarch64-unknown-linux-musl" };
    let cases: Vec<(String, PathBuf, &str)> = vec![
        ("signed by an untrusted key".into(), fixture.bundle_signed("0.3.0", &[], &fixture.stranger)?, "bad signature"),
        ("truncated".into(), truncated.clone(), "truncated"),
        ("tampered binary".into(), tampered.clone(), "SHA-256"),
        ("another architecture".into(), fixture.bundle("0.3.0", &["--target", other_arch])?, "wrong architecture"),
        ("older".into(), fixture.bundle("0.1.9", &[])?, "older than the installed 0.2.0; add --allow-downgrade"),
        ("the same version".into(), fixture.bundle("0.2.0", &[])?, "the same version as the installed 0.2.0"),
        ("a database too old".into(), fixture.bundle("0.3.0", &["--min-schema", "99"])?, "schema version 99 or later"),
    ];
    let before = snapshot(dir.path())?;
    for (what, bundle, expected) in &cases {
        let output = appliance.update(dir.path(), &[path(bundle)], None, &[])?;
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        assert!(!output.status.success(), "{what}: accepted: {}", text(&output));
        assert!(said.contains(expected), "{what}: expected {expected:?} in {said:?}");
        assert_eq!(said.lines().count(), 1, "{what}: one line: {said:?}");
        assert!(snapshot(dir.path())? == before, "{what}: something changed on disk");
    }
    // An older version goes in when asked for.
    let output =
        appliance.update(dir.path(), &[path(&fixture.bundle("0.1.9", &[])?), "--allow-downgrade"], None, &[])?;
    ensure!(output.status.success(), "downgrade failed: {}", text(&output));
    assert!(text(&output).contains("installed sentinel 0.1.9 into slot b"), "{}", text(&output));
    assert!(text(&output).contains("not running"), "{}", text(&output));
    let app = appliance.boot(dir, &[])?;
    assert_eq!(version(&app)?, "0.1.9");
    all_stored(&app, &["kept".into()])?;
    Ok(())
}

/// `sentinel update` typed by hand on a box, from any directory and without `DB_PATH` (only the
/// service gets systemd's `STATE_DIRECTORY`): the launcher points it at the data directory the
/// slots are in, not at `./sentinel-data` under the working directory.
#[test]
fn an_update_typed_by_hand_elsewhere_installs_into_the_data_directory() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let bundle = appliance.fixture.bundle("0.2.0", &[])?;
    let dir = tempfile::tempdir()?;
    let elsewhere = tempfile::tempdir()?;
    let output = appliance
        .update_command(dir.path(), &[path(&bundle)], None, &[])
        .env_remove("DB_PATH")
        .current_dir(elsewhere.path())
        .output()?;
    ensure!(output.status.success(), "update failed: {}", text(&output));
    assert!(dir.path().join("slots/a/sentinel").exists(), "{}", text(&output));
    assert_eq!(std::fs::read_link(dir.path().join("slots/current"))?, Path::new("a"));
    assert!(!elsewhere.path().join("sentinel-data").exists(), "written under the working directory");
    Ok(())
}
