//! Kills at each step of an update, a restart loop, a corrupt slot, the start-limit rollback,
//! and the nightly automatic update.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};

use super::*;

/// Serves the files of `dir` over HTTP on loopback, as a release page would; answers the base
/// URL.
pub(super) fn serve(dir: PathBuf) -> anyhow::Result<String> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(|err| anyhow::format_err!("{err}"))?;
    let addr = server.server_addr().to_ip().context("no address")?;
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let name = request.url().trim_start_matches('/').to_string();
            match std::fs::File::open(dir.join(&name)) {
                Ok(body) if !name.contains('/') => {
                    let _ = request.respond(tiny_http::Response::from_file(body));
                }
                _ => {
                    let _ = request.respond(tiny_http::Response::empty(404));
                }
            }
        }
    });
    Ok(format!("http://{addr}"))
}

/// A release page: the bundles and `latest.json` naming `version`'s bundle, as
/// `cross/release.sh --base-url` writes it.
pub(super) fn publish(site: &Path, bundle: &Path, version: &str) -> anyhow::Result<()> {
    let name = format!("sentinel-{version}.bundle");
    std::fs::copy(bundle, site.join(&name))?;
    let manifest = serde_json::json!({ "version": version, "bundles": { std::env::consts::ARCH: name } });
    std::fs::write(site.join("latest.json"), manifest.to_string())?;
    Ok(())
}

/// Runs `sentinel update` until it says it paused at `step`, then kills it with SIGKILL.
fn kill_update_at(appliance: &Appliance, dir: &Path, url: &str, admin: &str, step: &str) -> anyhow::Result<()> {
    use std::io::BufRead as _;
    let mut child = appliance
        .update_command(dir, &[url], Some(admin), &[("SENTINEL_TEST_UPDATE_PAUSE", step)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let paused = lines_rx.recv_timeout(Duration::from_secs(60));
    child.kill()?;
    let status = child.wait()?;
    match paused {
        Ok(line) if line == format!("paused at {step}") => Ok(()),
        other => bail!("update did not pause at {step}: {other:?}, {status:?}"),
    }
}

#[test]
fn a_kill_at_any_step_of_the_update_leaves_a_box_that_boots_a_signed_version() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let site = tempfile::tempdir()?;
    publish(site.path(), &appliance.fixture.bundle("0.2.0", &[])?, "0.2.0")?;
    let url = format!("{}/sentinel-0.2.0.bundle", serve(site.path().to_path_buf())?);
    let mut dir = tempfile::tempdir()?;
    for (n, step) in ["download", "verify", "write", "switch"].iter().enumerate() {
        let app = appliance.boot(dir, &[])?;
        assert!(deliver(&appliance.webhook_addr, &format!("step-{n}")));
        kill_update_at(&appliance, app.dir(), &url, &app.admin_addr, step)?;
        // The power cut takes the service too.
        dir = app.kill()?;
        let app = appliance.boot(dir, &[])?;
        assert_eq!(version(&app)?, FACTORY, "after a kill at {step}");
        assert_eq!(app.admin("GET", "/health")?.status, 200, "after a kill at {step}");
        let ids: Vec<String> = (0..=n).map(|i| format!("step-{i}")).collect();
        all_stored(&app, &ids)?;
        app.eventually("no trial is left", || Ok(state(app.dir(), "trial").is_empty()))?;
        dir = app.stop()?.1;
    }
    // The next update goes through, and the candidate killed at its first start, then in a
    // restart loop: boots count, and the launcher brings the previous version back.
    let app = appliance.boot(dir, &[])?;
    let output = appliance.update(app.dir(), &[&url], Some(&app.admin_addr), &[])?;
    ensure!(output.status.success(), "update failed: {}", text(&output));
    let mut dir = restarted(app)?;
    for boot in 1..=3 {
        let app = appliance.boot(dir, &[("SENTINEL_TEST_UPDATE_PAUSE", "first-start")])?;
        assert_eq!(version(&app)?, "0.2.0", "{}\n{:?}\n{}", text(&output), state(app.dir(), "trial"), app.log());
        assert_eq!(state(app.dir(), "trial")["boots"], boot.to_string());
        dir = app.kill()?;
    }
    let app = appliance.boot(dir, &[])?;
    assert_eq!(version(&app)?, FACTORY, "the fourth boot runs the previous version");
    let last = state(app.dir(), "last-update");
    assert_eq!(last["result"], "rolled-back");
    assert!(last["reason"].contains("started 3 times"), "{last:?}");
    app.eventually("managers are told", || Ok(appliance.sms_with("rolled back to") == 1))?;
    all_stored(&app, &(0..4).map(|i| format!("step-{i}")).collect::<Vec<_>>())?;
    Ok(())
}

#[test]
fn a_candidate_killed_once_at_its_first_start_is_confirmed_at_the_next() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let bundle = appliance.fixture.bundle("0.2.0", &[])?;
    let app = appliance.boot(tempfile::tempdir()?, &[])?;
    let output = appliance.update(app.dir(), &[path(&bundle)], Some(&app.admin_addr), &[])?;
    ensure!(output.status.success(), "update failed: {}", text(&output));
    let app = appliance.boot(restarted(app)?, &[("SENTINEL_TEST_UPDATE_PAUSE", "first-start")])?;
    let app = appliance.boot(app.kill()?, &[])?;
    assert_eq!(version(&app)?, "0.2.0");
    app.eventually("the update is confirmed", || Ok(confirmed(app.dir())))?;
    Ok(())
}

#[test]
fn automatic_updates_come_outside_business_hours_and_once_a_night() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let site = tempfile::tempdir()?;
    publish(site.path(), &appliance.fixture.bundle("0.2.0", &[])?, "0.2.0")?;
    let manifest = format!("{}/latest.json", serve(site.path().to_path_buf())?);
    let env = [("UPDATE_URL", manifest.as_str())];
    // Monday 9:00: open, so nothing is checked.
    let mut app = appliance.boot(tempfile::tempdir()?, &env)?;
    std::thread::sleep(Duration::from_millis(2500));
    assert!(state(app.dir(), "auto-update").is_empty(), "checked during business hours");
    assert!(app.try_exit()?.is_none());
    // Monday 23:00 in Chicago: the night's check installs 0.2.0 and restarts.
    app.set_clock("2026-03-03T05:00:00Z")?;
    let app = appliance.boot(restarted(app)?, &env)?;
    assert_eq!(version(&app)?, "0.2.0");
    app.eventually("the update is confirmed", || Ok(confirmed(app.dir())))?;
    let record = state(app.dir(), "auto-update");
    assert_eq!(record["night"], "2026-03-03T14:00:00Z", "named by Tuesday's opening: {record:?}");
    assert_eq!(record["result"], "installed 0.2.0 into slot a");
    // 0.3.0 comes out the same night: it waits for the next one.
    publish(site.path(), &appliance.fixture.bundle("0.3.0", &[])?, "0.3.0")?;
    let mut app = app;
    app.set_clock("2026-03-03T07:00:00Z")?;
    std::thread::sleep(Duration::from_millis(2500));
    assert!(app.try_exit()?.is_none(), "a second update in one night");
    assert_eq!(version(&app)?, "0.2.0");
    // Tuesday 23:00: the next night.
    app.set_clock("2026-03-04T05:00:00Z")?;
    let app = appliance.boot(restarted(app)?, &env)?;
    assert_eq!(version(&app)?, "0.3.0");
    app.eventually("the update is confirmed", || Ok(confirmed(app.dir())))?;
    app.eventually("managers are told of both", || {
        Ok(appliance.sms_with("updated to 0.2.0") == 1 && appliance.sms_with("updated to 0.3.0") == 1)
    })?;
    Ok(())
}

#[test]
fn a_corrupt_slot_falls_back_and_the_start_limit_rollback_switches_back() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let bundle = appliance.fixture.bundle("0.2.0", &[])?;
    let app = appliance.boot(tempfile::tempdir()?, &[])?;
    let dir = appliance.installed(app, &bundle)?;
    // A slot whose binary no longer matches its SHA-256 is never run: the factory binary is,
    // and it ends the trial of the slot that could not start.
    let binary = dir.path().join("slots/a/sentinel");
    let mut bytes = std::fs::read(&binary)?;
    bytes.push(0);
    std::fs::write(&binary, &bytes)?;
    let app = appliance.boot(dir, &[])?;
    assert_eq!(version(&app)?, FACTORY);
    app.eventually("the trial is settled", || Ok(state(app.dir(), "trial").is_empty()))?;
    let last = state(app.dir(), "last-update");
    assert_eq!(last["result"], "rolled-back");
    assert!(last["reason"].contains("could not start"), "{last:?}");
    assert!(!app.dir().join("slots/current").exists(), "switched back to the factory binary");
    app.eventually("managers are told", || Ok(appliance.sms_with("rolled back to") == 1))?;
    // The launcher's own rollback, as sentinel-rollback.service runs it after the start limit.
    let dir = appliance.installed(app, &bundle)?;
    let slots = dir.path().join("slots").display().to_string();
    let rollback = || {
        Command::new(launcher())
            .arg("rollback")
            .env(LAUNCHER_USER.0, LAUNCHER_USER.1)
            .env("SENTINEL_SLOTS", &slots)
            .output()
    };
    let output = rollback()?;
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("rolled back to"), "{}", text(&output));
    assert!(state(dir.path(), "trial").is_empty());
    assert!(state(dir.path(), "last-update")["reason"].contains("start limit"));
    let output = rollback()?;
    assert!(!output.status.success(), "nothing left to roll back: {}", text(&output));
    assert!(text(&output).contains("nothing to roll back"), "{}", text(&output));
    let app = appliance.boot(dir, &[])?;
    assert_eq!(version(&app)?, FACTORY);
    Ok(())
}

#[test]
fn a_feed_cannot_bring_back_a_rolled_back_build_under_another_version_number() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    // 0.2.0 was rolled back here. Whoever controls UPDATE_URL (or the path to an http:// one)
    // announces "9.9.9" but points at that same signed 0.2.0 bundle: the signed manifest's
    // version is what counts, so it is not installed again (issue 23).
    let appliance = Appliance::new()?;
    let site = tempfile::tempdir()?;
    publish(site.path(), &appliance.fixture.bundle("0.2.0", &[])?, "9.9.9")?;
    let manifest = format!("{}/latest.json", serve(site.path().to_path_buf())?);
    let env = [("UPDATE_URL", manifest.as_str())];
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("slots"))?;
    std::fs::write(
        dir.path().join("slots/last-update"),
        "id=1\nversion=0.2.0\nfrom_version=0.1.0\nresult=rolled-back\nreason=test\nannounced=1\n",
    )?;
    let app = appliance.boot(dir, &env)?;
    // Monday 23:00 in Chicago: the night's check.
    app.set_clock("2026-03-03T05:00:00Z")?;
    app.eventually("the night's check is recorded", || Ok(state(app.dir(), "auto-update").contains_key("result")))?;
    let record = state(app.dir(), "auto-update");
    assert!(record["result"].contains("rolled back here before"), "{record:?}");
    assert_eq!(version(&app)?, FACTORY);
    assert!(!app.dir().join("slots/current").exists(), "the rolled-back build was installed again");
    Ok(())
}
