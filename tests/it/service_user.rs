//! What the service user controls, and what root does with it (issue 23). Whoever controls the
//! `sentinel` user (say, after a compromise of the internet-facing service) can write anything
//! that user owns; root must never run it, follow a link in it, or let that user change what
//! the tunnel exposes.
//!
//! - The launcher typed as root: `/usr/local/bin/sentinel` is `systemd/sentinel-launcher`, and
//!   the update slots it picks from are the service user's. It runs as a plain script under a
//!   scratch root, with a planted "slot binary" and a "factory binary" that each print who they
//!   ran as.
//! - The image's boot-time import (`image/overlay/usr/local/sbin/sentinel-import`), as root over
//!   a scratch data partition the service user has been writing to, with planted links; and the
//!   office's Wi-Fi settings, which are root's and never reach the service (issue 28).

use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use anyhow::ensure;

use crate::harness::{planted_slot, script};
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

/// A script that prints `name` and the uid it runs as.
fn who_am_i(name: &str) -> String {
    format!("#!/bin/sh\necho \"{name} uid=$(id -u) args=$*\"\n")
}

/// A scratch data directory whose active slot holds a planted binary with a matching hash,
/// readable by everyone so that the service user can run what is in it.
fn planted() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    planted_slot(dir.path(), &who_am_i("planted"))?;
    for sub in ["slots", "slots/a"] {
        std::fs::set_permissions(dir.path().join(sub), std::fs::Permissions::from_mode(0o755))?;
    }
    script(&dir.path().join("factory"), &who_am_i("factory"))?;
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

fn import_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("image/overlay/usr/local/sbin/sentinel-import")
}

/// Runs `sh -c SCRIPT` as the service user in `dir`; whether it succeeded.
fn as_user(uid: &str, dir: &Path, script: &str) -> anyhow::Result<bool> {
    let status = Command::new("setpriv")
        .args(["--reuid", uid, "--regid", uid, "--clear-groups", "--", "sh", "-c", script])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()?;
    Ok(status.success())
}

fn import(data: &Path, boot: &Path) -> anyhow::Result<String> {
    let output = Command::new("sh")
        .arg(import_script())
        .env("SENTINEL_NET_RUN", data.with_file_name("run"))
        .env("SENTINEL_DATA", data)
        .env("SENTINEL_BOOT", boot)
        .env("SENTINEL_USER", SERVICE_USER)
        .env("SENTINEL_TUNNEL_RULES", Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/cloudflared.yml"))
        .output()?;
    ensure!(output.status.success(), "sentinel-import failed: {}", text(&output));
    Ok(text(&output))
}

#[test]
fn the_tunnels_rules_and_secrets_are_roots_alone_on_the_data_partition() -> anyhow::Result<()> {
    if !running_as_root() {
        ensure!(std::env::var("CI").is_err(), "CI runs as root: this test must run there");
        eprintln!("skipped: the import runs as root");
        return Ok(());
    }
    let uid = uid_of(SERVICE_USER)?;
    let uid_n: u32 = uid.parse()?;
    let scratch = tempfile::tempdir()?;
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755))?;
    let (data, boot, lure) = (scratch.path().join("data"), scratch.path().join("boot"), scratch.path().join("lure"));
    for dir in [&data, &boot, &lure] {
        std::fs::create_dir(dir)?;
    }
    // A card of an earlier image, after the service user had its way: the partition's top and
    // etc/ are that user's; root's ingress rules still there; the rathole config replaced by
    // the user's own; and `tunnel` planted as a link to a directory the user reads.
    std::fs::write(data.join("sentinel.db"), "db")?;
    std::fs::create_dir(data.join("etc"))?;
    std::fs::write(data.join("etc/cloudflared.yml"), "root's rules")?;
    std::fs::write(data.join("etc/rathole-client.toml"), "the attacker's config")?;
    std::os::unix::fs::symlink(&lure, data.join("tunnel"))?;
    for path in [&data, &data.join("sentinel.db"), &data.join("etc"), &data.join("etc/rathole-client.toml"), &lure] {
        std::os::unix::fs::chown(path, Some(uid_n), Some(uid_n))?;
    }
    // What the office puts on the boot partition.
    std::fs::write(boot.join("rathole-client.toml"), "the office's config")?;
    std::fs::write(boot.join("sentinel.env"), "TIMEZONE=America/Chicago\n")?;

    let said = import(&data, &boot)?;
    assert!(said.contains("set aside"), "{said}");
    // Nothing reached the lure; the link and the user's config were set aside, not followed.
    assert_eq!(std::fs::read_dir(&lure)?.count(), 0, "root wrote through the planted link");
    let tunnel = data.join("tunnel");
    let meta = std::fs::symlink_metadata(&tunnel)?;
    assert!(meta.is_dir() && meta.uid() == 0 && meta.mode() & 0o7777 == 0o700, "tunnel/: {meta:?}");
    assert_eq!(std::fs::read_to_string(tunnel.join("rathole-client.toml"))?, "the office's config");
    assert_eq!(std::fs::read_to_string(tunnel.join("cloudflared.yml"))?, "root's rules");
    for name in ["rathole-client.toml", "cloudflared.yml"] {
        let file = std::fs::symlink_metadata(tunnel.join(name))?;
        assert_eq!(file.uid(), 0, "{name} is not root's");
    }
    assert!(!data.join("etc/rathole-client.toml").exists(), "the user's config stays where a tunnel could read it");
    let top = std::fs::metadata(&data)?;
    assert_eq!((top.uid(), top.mode() & 0o7777), (0, 0o1770), "the partition's top");
    let env = std::fs::metadata(data.join("etc/sentinel.env"))?;
    assert_eq!((env.uid(), env.mode() & 0o777), (uid_n, 0o600), "sentinel.env is the service user's");

    // Now the service user tries again: it keeps writing its own files, and cannot touch root's.
    assert!(as_user(&uid, &data, "echo more > sentinel.db && mkdir -p backups && echo x > etc/sentinel.env")?);
    for attempt in [
        "mv tunnel tunnel.old",
        "rm -rf tunnel",
        "ln -s /tmp tunnel2 && mv -T tunnel2 tunnel",
        "echo evil > tunnel/rathole-client.toml",
        "cat tunnel/rathole-client.toml",
        "ls tunnel",
    ] {
        assert!(!as_user(&uid, &data, attempt)?, "the service user could: {attempt}");
    }
    assert_eq!(std::fs::read_to_string(tunnel.join("rathole-client.toml"))?, "the office's config");
    // The next boot's import changes nothing and sets nothing aside.
    let again = import(&data, &boot)?;
    assert!(!again.contains("set aside"), "{again}");
    assert!(std::fs::symlink_metadata(&tunnel)?.is_dir());
    Ok(())
}

#[test]
fn root_refuses_to_write_in_a_data_directory_the_service_user_owns() -> anyhow::Result<()> {
    // A box installed by hand (README "Installing on Raspberry Pi OS"): the binary itself is
    // /usr/local/bin/sentinel, with no launcher to switch users. Root restoring into the
    // service user's directory would write through whatever links that user planted there.
    if !running_as_root() {
        eprintln!("skipped: the refusal is root's");
        return Ok(());
    }
    let uid: u32 = uid_of(SERVICE_USER)?.parse()?;
    let scratch = tempfile::tempdir()?;
    let (_, dir) = crate::harness::Sentinel::start(&[])?.stop()?;
    let data = dir.path().to_path_buf();
    let backup = scratch.path().join("backup.db");
    let made = crate::harness::command()
        .args(["backup", &backup.display().to_string()])
        .env("DB_PATH", data.join("sentinel.db"))
        .output()?;
    ensure!(made.status.success(), "{}", text(&made));
    std::os::unix::fs::chown(&data, Some(uid), Some(uid))?;
    let before: Vec<_> = std::fs::read_dir(&data)?.flatten().map(|entry| entry.file_name()).collect();
    let db = data.join("sentinel.db").display().to_string();
    for args in [
        vec!["restore", backup.to_str().unwrap_or_default()],
        vec!["manager", "add", "Dana", "--contact-id", "mgr-dana"],
        vec!["run"],
    ] {
        let output = crate::harness::command()
            .args(&args)
            .env("DB_PATH", &db)
            .env("WEBHOOK_SECRET", "a7Kq-9wLm-2xZp-4vRt-8nBc-6hDs")
            .output()?;
        let said = text(&output);
        assert!(!output.status.success(), "{args:?} ran as root over the service user's directory: {said}");
        assert!(
            said.contains("belongs to another user") && said.contains(&format!("sentinel {}", args[0])),
            "{args:?}: {said}"
        );
    }
    let after: Vec<_> = std::fs::read_dir(&data)?.flatten().map(|entry| entry.file_name()).collect();
    assert_eq!(before, after, "root wrote in the service user's directory");
    Ok(())
}

#[test]
fn the_office_wifi_is_roots_and_its_password_is_not_kept() -> anyhow::Result<()> {
    if !running_as_root() || Command::new("wpa_passphrase").arg("x").arg("12345678").output().is_err() {
        ensure!(
            std::env::var("CI").is_err(),
            "CI runs as root with wpa_passphrase (wpasupplicant): this test must run there"
        );
        eprintln!("skipped: the import runs as root and needs wpa_passphrase");
        return Ok(());
    }
    let uid_n: u32 = uid_of(SERVICE_USER)?.parse()?;
    let scratch = tempfile::tempdir()?;
    let (data, boot, run) = (scratch.path().join("data"), scratch.path().join("boot"), scratch.path().join("run"));
    for dir in [&data, &boot] {
        std::fs::create_dir(dir)?;
    }
    // Written on a Windows laptop: CRLF line ends, quotes around the password, a quote in the
    // network's name, the name in capitals.
    let password = "pool green 2024";
    std::fs::write(
        boot.join("sentinel.env"),
        format!(
            "TIMEZONE=America/Chicago\r\nWIFI_SSID=Office \"Main\"\r\nWIFI_PASSWORD='{password}'\r\nWIFI_COUNTRY=gb\r\nHOSTNAME=Sentinel-Dallas\r\n"
        ),
    )?;
    let said = import(&data, &boot)?;
    assert!(said.contains("Wi-Fi \"Office \"Main\"\" set up") && said.contains("sentinel-dallas.local"), "{said}");
    let network = data.join("network");
    let meta = std::fs::symlink_metadata(&network)?;
    assert!(meta.is_dir() && meta.uid() == 0 && meta.mode() & 0o7777 == 0o700, "network/: {meta:?}");
    let conf = std::fs::read_to_string(network.join("wifi.conf"))?;
    let wifi = std::fs::metadata(network.join("wifi.conf"))?;
    assert_eq!((wifi.uid(), wifi.mode() & 0o777), (0, 0o600), "wifi.conf is root's alone");
    let ssid_hex: String = "Office \"Main\"".bytes().map(|b| format!("{b:02x}")).collect();
    assert!(conf.contains(&format!("ssid={ssid_hex}\n")) && conf.contains("country=GB\n"), "{conf}");
    let psk = conf.lines().find_map(|line| line.trim().strip_prefix("psk=")).unwrap_or_default();
    assert!(psk.len() == 64 && psk.bytes().all(|b| b.is_ascii_hexdigit()), "{conf}");
    assert_eq!(std::fs::read_to_string(network.join("hostname"))?, "sentinel-dallas\n");
    // The service got the rest, and nothing of the network's; the card keeps no password.
    let env = std::fs::read_to_string(data.join("etc/sentinel.env"))?;
    assert!(env.contains("TIMEZONE=America/Chicago") && !env.contains("WIFI_") && !env.contains("HOSTNAME"), "{env}");
    assert_eq!(std::fs::metadata(data.join("etc/sentinel.env"))?.uid(), uid_n);
    assert!(!boot.join("sentinel.env").exists());
    for dir in [&data, &boot] {
        for entry in walk(dir)? {
            let bytes = std::fs::read(&entry)?;
            assert!(!String::from_utf8_lossy(&bytes).contains(password), "the password is in {}", entry.display());
        }
    }

    // A password too short to be WPA's: said where Sentinel reads the Wi-Fi's state, and the
    // service's settings kept as they were.
    std::fs::write(boot.join("sentinel.env"), "WIFI_SSID=Office\nWIFI_PASSWORD=short\n")?;
    let said = import(&data, &boot)?;
    assert!(said.contains("8 to 63 characters"), "{said}");
    assert!(!network.join("wifi.conf").exists());
    let status = std::fs::read_to_string(run.join("status"))?;
    assert!(
        status.contains("wifi_state=wrong-password") && status.contains("8 to 63 characters (it has 5)"),
        "{status}"
    );
    assert!(std::fs::read_to_string(data.join("etc/sentinel.env"))?.contains("TIMEZONE=America/Chicago"));
    assert!(std::fs::read_to_string(boot.join("sentinel-imported.txt"))?.contains("the network settings"));

    // An empty WIFI_SSID= switches the Wi-Fi off; the problem goes with it.
    std::fs::write(boot.join("sentinel.env"), "WIFI_SSID=\n")?;
    let said = import(&data, &boot)?;
    assert!(said.contains("Wi-Fi switched off"), "{said}");
    assert!(!network.join("wifi.conf").exists() && !network.join("wifi-problem").exists());
    Ok(())
}

/// Every file under `dir`.
fn walk(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(walk(&path)?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}
