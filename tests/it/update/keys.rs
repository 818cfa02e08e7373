//! Release keys (issue 23 part 4): no key is built in, a box trusts only the `*.pub` files of
//! its keys directory, and says plainly what to do when there is none; a key is rotated by
//! trusting the old and the new one for a while, then only the new one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, ensure};

use super::kills::{publish, serve};
use super::*;

/// A key pair made by `sentinel release keygen` in `dir`: its private key and its id.
struct Key {
    private: PathBuf,
    public: PathBuf,
    id: String,
}

fn keygen(dir: &Path) -> anyhow::Result<Key> {
    let said = release(&["keygen", "--out", path(dir)])?;
    let id = said.split_whitespace().nth(1).context("keygen names the key's id")?.to_string();
    Ok(Key { private: dir.join("release-ed25519.pk8"), public: dir.join("release-ed25519.pub"), id })
}

/// A bundle of the binary under test as `version`, signed by `key`.
fn pack(fixture: &Fixture, key: &Key, version: &str, out: &Path) -> anyhow::Result<PathBuf> {
    let bundle = out.join(format!("{version}-{}.bundle", key.id));
    let key_file = path(&key.private);
    release(&[
        "pack",
        "--binary",
        path(&fixture.binary),
        "--key",
        key_file,
        "--version",
        version,
        "--out",
        path(&bundle),
    ])?;
    Ok(bundle)
}

/// A keys directory trusting exactly `keys`, as an image built with a `--trust-key` each.
fn trusting(keys: &[&Key]) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    for (n, key) in keys.iter().enumerate() {
        std::fs::copy(&key.public, dir.path().join(format!("key{n}.pub")))?;
    }
    Ok(dir)
}

/// `sentinel update BUNDLE` on a fresh box that trusts the keys in `keys`.
fn update_trusting(appliance: &Appliance, keys: &Path, bundle: &Path) -> anyhow::Result<Output> {
    let dir = tempfile::tempdir()?;
    appliance.update(dir.path(), &[path(bundle)], None, &[("SENTINEL_KEYS_DIR", path(keys))])
}

#[test]
fn a_box_that_trusts_no_key_refuses_every_update_and_says_what_to_do() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let bundle = appliance.fixture.bundle("0.2.0", &[])?;
    let none = tempfile::tempdir()?;
    let missing = none.path().join("missing");
    for keys in [none.path(), missing.as_path()] {
        let dir = tempfile::tempdir()?;
        let output = appliance.update(dir.path(), &[path(&bundle)], None, &[("SENTINEL_KEYS_DIR", path(keys))])?;
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        assert!(!output.status.success(), "installed with no key trusted: {}", text(&output));
        for words in
            ["no release key is trusted", "sentinel release keygen --out", "image/build.sh --trust-key", path(keys)]
        {
            assert!(said.contains(words), "expected {words:?} in {said:?}");
        }
        assert_eq!(said.lines().count(), 1, "one line: {said:?}");
        assert!(!dir.path().join("slots/a").exists(), "a slot was written");
    }

    // check-config warns, and names the keys once there are some.
    let check = |keys: &Path| -> anyhow::Result<String> {
        let output = command()
            .arg("check-config")
            .env_clear()
            .env("SENTINEL_KEYS_DIR", keys)
            .env("DB_PATH", none.path().join("sentinel.db"))
            .output()?;
        ensure!(output.status.success(), "check-config failed: {}", text(&output));
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let shown = check(none.path())?;
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("# warning: no release key is trusted")
                && line.contains("every update is refused")),
        "{shown}"
    );
    let key = keygen(&none.path().join("office"))?;
    let keys = trusting(&[&key])?;
    let shown = check(keys.path())?;
    assert!(!shown.contains("no release key is trusted"), "{shown}");
    assert!(shown.contains(&format!("# release keys: updates signed by any of 1 trusted: {}", key.id)), "{shown}");
    Ok(())
}

#[test]
fn automatic_updates_with_no_key_trusted_say_so_in_the_log_and_install_nothing() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let site = tempfile::tempdir()?;
    publish(site.path(), &appliance.fixture.bundle("0.2.0", &[])?, "0.2.0")?;
    let manifest = format!("{}/latest.json", serve(site.path().to_path_buf())?);
    let none = tempfile::tempdir()?;
    let env = [("UPDATE_URL", manifest.as_str()), ("SENTINEL_KEYS_DIR", path(none.path()))];
    let mut app = appliance.boot(tempfile::tempdir()?, &env)?;
    app.eventually("the start says no key is trusted", || {
        Ok(app.log().contains("automatic update: no release key is trusted"))
    })?;
    // Monday 23:00 in Chicago: the night's check is refused, plainly.
    app.set_clock("2026-03-03T05:00:00Z")?;
    app.eventually("the night's check is recorded", || Ok(state(app.dir(), "auto-update").contains_key("result")))?;
    let record = state(app.dir(), "auto-update");
    assert!(record["result"].starts_with("failed: no release key is trusted"), "{record:?}");
    assert!(app.log().contains("automatic update: failed: no release key is trusted"), "{}", app.log());
    std::thread::sleep(Duration::from_millis(500));
    assert!(app.try_exit()?.is_none(), "it restarted into nothing");
    assert_eq!(version(&app)?, FACTORY);
    assert!(!app.dir().join("slots/a").exists());
    Ok(())
}

/// The rotation README "Release keys" describes, with two keys the test makes: boxes trust
/// the old key; an image that trusts both goes out; releases are signed with the new key;
/// then an image that trusts only the new one. At each stage a bundle signed by a key the box
/// does not trust is refused, saying which key signed it and which are trusted.
#[test]
fn a_release_key_is_rotated_by_trusting_both_keys_then_only_the_new_one() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let appliance = Appliance::new()?;
    let fixture = appliance.fixture.clone();
    let scratch = tempfile::tempdir()?;
    let old = keygen(&scratch.path().join("old"))?;
    let new = keygen(&scratch.path().join("new"))?;
    ensure!(old.id != new.id, "two keygens made the same key");
    let by_old = pack(&fixture, &old, "0.2.0", scratch.path())?;
    let by_new = pack(&fixture, &new, "0.2.0", scratch.path())?;

    let refused = |keys: &Path, bundle: &Path, signer: &Key, trusted: &Key| -> anyhow::Result<()> {
        let output = update_trusting(&appliance, keys, bundle)?;
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        ensure!(!output.status.success(), "accepted a bundle signed by an untrusted key: {}", text(&output));
        ensure!(said.contains("bad signature: no key this box trusts signed this bundle"), "{said}");
        ensure!(said.contains(&format!("it names key {}", signer.id)), "the signer is named: {said}");
        ensure!(said.contains(&format!("trusted here: {}", trusted.id)), "the trusted key is named: {said}");
        ensure!(said.lines().count() == 1, "one line: {said}");
        Ok(())
    };
    let accepted = |keys: &Path, bundle: &Path, signer: &Key| -> anyhow::Result<()> {
        let output = update_trusting(&appliance, keys, bundle)?;
        ensure!(output.status.success(), "refused: {}", text(&output));
        ensure!(text(&output).contains(&format!("signed by key {}", signer.id)), "{}", text(&output));
        Ok(())
    };

    // Before: only the old key is trusted.
    let only_old = trusting(&[&old])?;
    refused(only_old.path(), &by_new, &new, &old)?;
    accepted(only_old.path(), &by_old, &old)?;
    // During: both are trusted, so either signature is accepted.
    let both = trusting(&[&old, &new])?;
    accepted(both.path(), &by_old, &old)?;
    accepted(both.path(), &by_new, &new)?;
    // After: only the new key; the old one signs nothing a box takes any more.
    let only_new = trusting(&[&new])?;
    refused(only_new.path(), &by_old, &old, &new)?;
    accepted(only_new.path(), &by_new, &new)?;
    Ok(())
}

/// `image/keys.sh`, which `image/build.sh` and `image/check.sh` use: a key is named in the
/// image by the id the binary gives it (raw or hex file alike), the binary trusts what the
/// build put there, and the check passes only for exactly the keys the image was built with.
/// It needs e2fsprogs (`mke2fs -d`, `debugfs`), as the image build does.
#[test]
fn the_image_trusts_exactly_the_keys_it_was_built_with() -> anyhow::Result<()> {
    let have = |tool: &str| Command::new("sh").args(["-c", &format!("command -v {tool}")]).output();
    if !["mke2fs", "debugfs"].iter().all(|tool| have(tool).is_ok_and(|output| output.status.success())) {
        ensure!(std::env::var("CI").is_err(), "e2fsprogs (mke2fs, debugfs) is missing under CI");
        eprintln!("skipped: e2fsprogs (mke2fs, debugfs) is missing");
        return Ok(());
    }
    let scratch = tempfile::tempdir()?;
    let (old, new) = (keygen(&scratch.path().join("old"))?, keygen(&scratch.path().join("new"))?);
    // The new key as 64 hex digits, as someone may paste it.
    let hex: String = std::fs::read(&new.public)?.iter().map(|byte| format!("{byte:02x}")).collect();
    let new_hex = scratch.path().join("new-hex.pub");
    std::fs::write(&new_hex, format!("{hex}\n"))?;
    let keys_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("image/keys.sh");
    let sh = |script: &str, args: &[&Path]| -> anyhow::Result<Output> {
        Ok(Command::new("bash")
            .arg("-c")
            .arg(format!("source {} && {script}", keys_sh.display()))
            .arg("keys.sh")
            .args(args)
            .output()?)
    };
    for (file, key) in [(&old.public, &old), (&new.public, &new), (&new_hex, &new)] {
        let output = sh("release_key_id \"$1\"", &[file])?;
        ensure!(output.status.success(), "{}", text(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), key.id, "{}", file.display());
    }
    let junk = scratch.path().join("junk.pub");
    std::fs::write(&junk, "not a key\n")?;
    let output = sh("release_key_id \"$1\"", &[&junk])?;
    assert!(!output.status.success() && text(&output).contains("not an Ed25519 public key"), "{}", text(&output));

    // An image's root with both keys, as build.sh lays it out, read by check.sh's function.
    let root = scratch.path().join("root");
    let keys_dir = root.join("usr/share/sentinel/keys");
    let image = scratch.path().join("root.ext4");
    let build = |keys: &[&Path]| -> anyhow::Result<()> {
        let _ = std::fs::remove_dir_all(&root);
        let mut args = vec![keys_dir.as_path()];
        args.extend(keys);
        let output = sh("release_keys_install \"$@\"", &args)?;
        ensure!(output.status.success(), "{}", text(&output));
        let output =
            Command::new("mke2fs").args(["-q", "-F", "-t", "ext4", "-d"]).arg(&root).arg(&image).arg("8M").output()?;
        ensure!(output.status.success(), "mke2fs: {}", text(&output));
        Ok(())
    };
    let check = |keys: &[&Path]| -> anyhow::Result<Output> {
        let mut args = vec![image.as_path()];
        args.extend(keys);
        sh("release_keys_check \"$@\"", &args)
    };
    build(&[&old.public, &new_hex])?;
    let output = check(&[&old.public, &new.public])?;
    ensure!(output.status.success(), "the keys it was built with: {}", text(&output));
    let output = check(&[&old.public])?;
    assert!(!output.status.success(), "a key more than given passed");
    assert!(text(&output).contains(&format!("release-{}.pub", new.id)), "{}", text(&output));
    assert!(!check(&[])?.status.success(), "keys where none were given passed");
    // The binary trusts what the build put there, under the ids it gives them.
    let shown = command()
        .arg("check-config")
        .env_clear()
        .env("SENTINEL_KEYS_DIR", &keys_dir)
        .env("DB_PATH", scratch.path().join("sentinel.db"))
        .output()?;
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("updates signed by any of 2 trusted"), "{shown}");
    assert!(shown.contains(&old.id) && shown.contains(&new.id), "{shown}");

    // --no-trust-key: an empty directory, and nothing else passes.
    build(&[])?;
    let output = check(&[])?;
    ensure!(output.status.success(), "no key: {}", text(&output));
    assert!(!check(&[&old.public])?.status.success(), "a missing key passed");
    Ok(())
}
