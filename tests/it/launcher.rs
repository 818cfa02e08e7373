//! The launcher typed as root (issue 23): `/usr/local/bin/sentinel` is
//! `systemd/sentinel-launcher`, and the update slots it picks from belong to the service user.
//! Whoever controls that user can plant a binary and its SHA-256 there, so a command root
//! types must never run it as root. The launcher runs as a plain script under a scratch root:
//! a planted "slot binary" and a "factory binary" that each print who they ran as.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use anyhow::ensure;

use crate::update::launcher;

/// The user the launcher is told to run as: `nobody` exists on every Debian machine.
const SERVICE_USER: &str = "nobody";

fn uid_of(user: &str) -> anyhow::Result<String> {
    let output = Command::new("id").args(["-u", user]).output()?;
    ensure!(output.status.success(), "no user {user}");
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// An executable script at `path` that prints `name` and the uid it runs as.
fn who_am_i(path: &Path, name: &str) -> anyhow::Result<()> {
    std::fs::write(path, format!("#!/bin/sh\necho \"{name} uid=$(id -u) args=$*\"\n"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// A scratch data directory whose active slot holds a planted binary with a matching hash,
/// readable by everyone so that the service user can run what is in it.
fn planted() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let slot = dir.path().join("slots/a");
    std::fs::create_dir_all(&slot)?;
    who_am_i(&slot.join("sentinel"), "planted")?;
    let hashed = Command::new("sha256sum").arg("sentinel").current_dir(&slot).output()?;
    ensure!(hashed.status.success(), "sha256sum failed");
    std::fs::write(slot.join("sentinel.sha256"), &hashed.stdout)?;
    std::os::unix::fs::symlink("a", dir.path().join("slots/current"))?;
    for sub in ["slots", "slots/a"] {
        std::fs::set_permissions(dir.path().join(sub), std::fs::Permissions::from_mode(0o755))?;
    }
    who_am_i(&dir.path().join("factory"), "factory")?;
    Ok(dir)
}

fn run(dir: &Path, user: &str, args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(launcher())
        .args(args)
        .env("SENTINEL_SLOTS", dir.join("slots"))
        .env("SENTINEL_FACTORY", dir.join("factory"))
        .env("SENTINEL_USER", user)
        .current_dir(dir)
        .output()?)
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn a_command_typed_as_root_never_runs_a_planted_slot_binary_as_root() -> anyhow::Result<()> {
    if !running_as_root() {
        ensure!(std::env::var("CI").is_err(), "CI runs as root: this test must run there");
        eprintln!("skipped: the launcher's root path needs root");
        return Ok(());
    }
    let dir = planted()?;
    let service_uid = uid_of(SERVICE_USER)?;
    // What an operator types as root: each runs as the service user, never as uid 0.
    for args in [&["restore", "--offbox", "latest"][..], &["status"], &["update", "x.bundle"], &["run"]] {
        let output = run(dir.path(), SERVICE_USER, args)?;
        let said = text(&output);
        assert!(output.status.success(), "{args:?}: {said}");
        assert!(said.contains(&format!("uid={service_uid} ")), "{args:?} did not run as {SERVICE_USER}: {said}");
        assert!(!said.contains("uid=0 "), "{args:?} ran as root: {said}");
        assert!(said.contains(&format!("args={}", args.join(" "))), "{args:?}: {said}");
    }
    // The planted slot is run (its hash matches) but only with the service user's rights, which
    // its planter already had; the trial's bookkeeping is written by that user too.
    assert!(text(&run(dir.path(), SERVICE_USER, &["status"])?).starts_with("planted "));
    // No such user: nothing runs at all, and root is told why.
    let output = run(dir.path(), "no-such-sentinel-user", &["status"])?;
    assert!(!output.status.success());
    let said = text(&output);
    assert!(said.contains("no user no-such-sentinel-user"), "{said}");
    assert!(!said.contains("uid="), "something ran: {said}");
    Ok(())
}

#[test]
fn the_service_user_itself_runs_the_verified_slot_or_else_the_factory_binary() -> anyhow::Result<()> {
    if !running_as_root() {
        eprintln!("skipped: becoming the service user needs root");
        return Ok(());
    }
    let dir = planted()?;
    let service_uid = uid_of(SERVICE_USER)?;
    let as_service = |args: &[&str]| -> anyhow::Result<String> {
        let output = Command::new("setpriv")
            .args(["--reuid", &service_uid, "--regid", &service_uid, "--clear-groups", "--"])
            .arg(launcher())
            .args(args)
            .env("SENTINEL_SLOTS", dir.path().join("slots"))
            .env("SENTINEL_FACTORY", dir.path().join("factory"))
            .current_dir(dir.path())
            .output()?;
        ensure!(output.status.success(), "{}", text(&output));
        Ok(text(&output))
    };
    assert!(as_service(&["status"])?.starts_with(&format!("planted uid={service_uid} ")));
    // A slot binary that no longer matches its hash is never run.
    std::fs::write(dir.path().join("slots/a/sentinel.sha256"), format!("{} sentinel\n", "0".repeat(64)))?;
    assert!(as_service(&["status"])?.starts_with(&format!("factory uid={service_uid} ")));
    Ok(())
}
