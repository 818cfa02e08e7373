//! Power cuts during a trial (issue 24): the launcher runs as a plain script over a scratch data
//! directory whose slot `a`, on trial, holds a planted "binary" that prints its name, and whose
//! factory binary prints its own. The boot id comes from a file the test rewrites to play a
//! power cut (`SENTINEL_BOOT_ID_FILE`).

use std::path::Path;
use std::process::Command;

use anyhow::ensure;

use super::{AFTER_TRIAL, Appliance, FACTORY, LAUNCHER_USER, launcher, restarted, skipped, state, text, version};
use crate::harness::{planted_slot, script};

/// A script that prints `name`.
fn prints(name: &str) -> String {
    format!("#!/bin/sh\necho {name}\n")
}

/// A data directory just after `sentinel update` switched to slot `a`: its trial recorded, no
/// start yet.
fn on_trial() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    planted_slot(dir.path(), &prints("candidate"))?;
    std::fs::write(
        dir.path().join("slots/trial"),
        "id=0.2.0@1\nfrom=factory\nto=a\nversion=0.2.0\nfrom_version=0.1.0\nstarted=2026-03-02T15:00:00Z\nboots=0\n",
    )?;
    script(&dir.path().join("factory"), &prints("factory"))?;
    Ok(dir)
}

/// One start of the service (`sentinel run`, as systemd runs it) in the boot named `boot`:
/// answers what ran.
fn start(dir: &Path, boot: &str) -> anyhow::Result<String> {
    let boot_id = dir.join("boot_id");
    std::fs::write(&boot_id, format!("{boot}\n"))?;
    let output = Command::new(launcher())
        .arg("run")
        .env(LAUNCHER_USER.0, LAUNCHER_USER.1)
        .env("SENTINEL_SLOTS", dir.join("slots"))
        .env("SENTINEL_FACTORY", dir.join("factory"))
        .env("SENTINEL_BOOT_ID_FILE", &boot_id)
        .output()?;
    ensure!(output.status.success(), "the launcher failed: {}", text(&output));
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[test]
fn power_cuts_during_a_trial_are_not_failed_starts_but_failures_in_one_boot_roll_back() -> anyhow::Result<()> {
    let dir = on_trial()?;
    let dir = dir.path();
    // Three power cuts: each start is cut off with nothing recorded, and the box comes back
    // under a new boot id. None of them failed, so the candidate keeps its trial.
    for (n, boot) in ["boot-1", "boot-2", "boot-3", "boot-4"].iter().enumerate() {
        assert_eq!(start(dir, boot)?, "candidate", "start {} ({boot}): {:?}", n + 1, state(dir, "trial"));
    }
    let trial = state(dir, "trial");
    assert_eq!((trial["boots"].as_str(), trial["failed"].as_str(), trial["cut"].as_str()), ("4", "0", "3"));
    assert!(state(dir, "last-update").is_empty(), "{:?}", state(dir, "last-update"));
    // Then it really fails: systemd starts it again in the same boot, three times.
    for failed in 1..=2 {
        assert_eq!(start(dir, "boot-4")?, "candidate");
        assert_eq!(state(dir, "trial")["failed"], failed.to_string());
    }
    assert_eq!(start(dir, "boot-4")?, "factory", "the third failed start brings the previous version back");
    assert!(state(dir, "trial").is_empty());
    assert!(!dir.join("slots/current").exists(), "switched back to the factory binary");
    let last = state(dir, "last-update");
    assert_eq!(last["result"], "rolled-back");
    assert!(last["reason"].contains("started 3 times"), "{last:?}");
    assert!(last["reason"].contains("3 more cut off"), "{last:?}");
    Ok(())
}

#[test]
fn without_a_boot_id_every_unconfirmed_start_counts_as_failed() -> anyhow::Result<()> {
    let dir = on_trial()?;
    let dir = dir.path();
    let start = || -> anyhow::Result<String> {
        let output = Command::new(launcher())
            .arg("run")
            .env(LAUNCHER_USER.0, LAUNCHER_USER.1)
            .env("SENTINEL_SLOTS", dir.join("slots"))
            .env("SENTINEL_FACTORY", dir.join("factory"))
            .env("SENTINEL_BOOT_ID_FILE", dir.join("no-such-file"))
            .output()?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    for _ in 0..3 {
        assert_eq!(start()?, "candidate");
    }
    assert_eq!(start()?, "factory");
    assert_eq!(state(dir, "last-update")["result"], "rolled-back");
    Ok(())
}

#[test]
fn after_a_power_cut_longer_than_the_trial_the_version_gets_its_whole_trial_again() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let bundle = appliance.fixture.bundle("0.2.0", &[])?;
    let app = appliance.boot(tempfile::tempdir()?, &[])?;
    let dir = appliance.installed(app, &bundle)?;
    let boot_id = dir.path().join("boot_id");
    let boot_id_env = boot_id.display().to_string();
    // The candidate's first start, cut off by the power going off.
    std::fs::write(&boot_id, "boot-1\n")?;
    let app = appliance
        .boot(dir, &[("SENTINEL_BOOT_ID_FILE", &boot_id_env), ("SENTINEL_TEST_UPDATE_PAUSE", "first-start")])?;
    assert_eq!(version(&app)?, "0.2.0");
    let dir = app.kill()?;
    // The power comes back after longer than the trial, and the version is not healthy yet:
    // it is not rolled back at once, but has its whole trial from this start.
    std::fs::write(&boot_id, "boot-2\n")?;
    let unhealthy = ("SENTINEL_TEST_UNHEALTHY_VERSION", "0.2.0");
    let mut app = appliance
        .boot(dir, &[("SENTINEL_BOOT_ID_FILE", &boot_id_env), ("SENTINEL_TEST_NOW", AFTER_TRIAL), unhealthy])?;
    assert_eq!(version(&app)?, "0.2.0");
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(app.try_exit()?.is_none(), "rolled back at once: {:?}", state(app.dir(), "last-update"));
    let trial = state(app.dir(), "trial");
    assert_eq!((trial["cut"].as_str(), trial["failed"].as_str()), ("1", "0"), "{trial:?}");
    // Still unhealthy when that trial is over: rolled back.
    app.set_clock("2026-03-02T15:22:00Z")?;
    let dir = restarted(app)?;
    let last = state(dir.path(), "last-update");
    assert_eq!(last["result"], "rolled-back", "{last:?}");
    assert!(last["reason"].contains("not healthy within 10 minutes"), "{last:?}");
    let app = appliance.boot(dir, &[("SENTINEL_BOOT_ID_FILE", &boot_id_env), unhealthy])?;
    assert_eq!(version(&app)?, FACTORY);
    Ok(())
}

#[test]
fn a_box_that_keeps_going_down_under_a_trial_rolls_it_back_after_ten_cuts() -> anyhow::Result<()> {
    let dir = on_trial()?;
    let dir = dir.path();
    for n in 1..=10 {
        assert_eq!(start(dir, &format!("boot-{n}"))?, "candidate", "start {n}: {:?}", state(dir, "trial"));
    }
    assert_eq!(state(dir, "trial")["cut"], "9");
    assert_eq!(start(dir, "boot-11")?, "factory", "the tenth cut brings the previous version back");
    let last = state(dir, "last-update");
    assert_eq!(last["result"], "rolled-back");
    assert!(last["reason"].contains("went down under it 10 times"), "{last:?}");
    Ok(())
}
