//! Updates (issue 16): signed bundles installed by `sentinel update` into A/B slots, started
//! by the real launcher script (`systemd/sentinel-launcher`), confirmed when healthy and
//! rolled back when not. The test plays systemd: it starts the launcher again whenever the
//! service exits. Bundles are packed from the binary under test with a key the test makes,
//! under other version numbers; the factory binary is the binary under test (0.1.0).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use serde_json::json;

use crate::fake_ghl::FakeGhl;
use crate::harness::{SECRET, Sentinel, command, request};

/// The manual clock's start: a Monday, 9:00 in Chicago.
const NOW: &str = "2026-03-02T15:00:00Z";
/// Past the default 10-minute trial.
const AFTER_TRIAL: &str = "2026-03-02T15:11:00Z";
/// The factory binary's version (the crate's).
const FACTORY: &str = env!("CARGO_PKG_VERSION");

/// Keys and bundles shared by every test: packing copies the binary, so it is done once.
struct Fixture {
    _dir: tempfile::TempDir,
    /// The directory of trusted public keys (`SENTINEL_KEYS_DIR`).
    keys: PathBuf,
    /// The trusted private key.
    key: PathBuf,
    /// A key that is not trusted.
    stranger: PathBuf,
    /// The binary under test, stripped of debug information to keep bundles small.
    binary: PathBuf,
    /// Bundles made so far, by name.
    bundles: Mutex<BTreeMap<String, PathBuf>>,
}

static FIXTURE: Mutex<Option<Arc<Fixture>>> = Mutex::new(None);

/// Whether these tests can run: the launcher execs the slot's binary itself, so a binary
/// under an emulator (`SENTINEL_BIN_RUNNER`) cannot be tested this way.
fn skipped() -> bool {
    let emulated = std::env::var("SENTINEL_BIN_RUNNER").is_ok_and(|runner| !runner.is_empty());
    if emulated {
        eprintln!("update tests skipped: the launcher cannot exec a binary that needs SENTINEL_BIN_RUNNER");
    }
    emulated
}

fn fixture() -> anyhow::Result<Arc<Fixture>> {
    let mut shared = FIXTURE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(fixture) = shared.as_ref() {
        return Ok(fixture.clone());
    }
    let dir = tempfile::tempdir()?;
    let keys = dir.path().join("keys");
    let private = dir.path().join("private");
    let stranger = dir.path().join("stranger");
    release(&["keygen", "--out", path(&private)])?;
    release(&["keygen", "--out", path(&stranger)])?;
    std::fs::create_dir_all(&keys)?;
    std::fs::copy(private.join("release-ed25519.pub"), keys.join("test.pub"))?;
    let binary = dir.path().join("sentinel");
    std::fs::copy(env!("CARGO_BIN_EXE_sentinel"), &binary)?;
    // Smaller bundles when `strip` is there; the binary works either way.
    let _ = Command::new("strip").arg(&binary).status();
    let fixture = Arc::new(Fixture {
        _dir: dir,
        keys,
        key: private.join("release-ed25519.pk8"),
        stranger: stranger.join("release-ed25519.pk8"),
        binary,
        bundles: Mutex::new(BTreeMap::new()),
    });
    *shared = Some(fixture.clone());
    Ok(fixture)
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// `sentinel release ARGS...`; fails unless it succeeds.
fn release(args: &[&str]) -> anyhow::Result<String> {
    let output = command().arg("release").args(args).output()?;
    ensure!(output.status.success(), "sentinel release {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Fixture {
    /// A bundle of the binary under test as `version`, made once; `extra` are more `pack` flags.
    fn bundle(&self, version: &str, extra: &[&str]) -> anyhow::Result<PathBuf> {
        self.bundle_signed(version, extra, &self.key)
    }

    fn bundle_signed(&self, version: &str, extra: &[&str], key: &Path) -> anyhow::Result<PathBuf> {
        let name = format!("{version}{}{}", extra.join(""), if key == self.key { "" } else { "-stranger" });
        let mut bundles = self.bundles.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bundle) = bundles.get(&name) {
            return Ok(bundle.clone());
        }
        let out = self._dir.path().join(format!("{}.bundle", name.replace(['-', ' '], "_")));
        let mut args = vec!["pack", "--binary", path(&self.binary), "--key", path(key), "--version", version];
        args.extend(["--out", path(&out)]);
        args.extend(extra);
        release(&args)?;
        bundles.insert(name, out.clone());
        Ok(out)
    }
}

/// One appliance: its data directory, played by the launcher and the binary under test.
struct Appliance {
    fixture: Arc<Fixture>,
    ghl: FakeGhl,
    /// A fixed webhook port, so senders reach each start of the service.
    webhook_addr: String,
}

impl Appliance {
    fn new() -> anyhow::Result<Appliance> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Ok(Appliance { fixture: fixture()?, ghl: FakeGhl::start()?, webhook_addr: format!("127.0.0.1:{port}") })
    }

    /// The environment every process of this appliance gets, as the unit would give it.
    fn env(&self, dir: &Path) -> Vec<(String, String)> {
        [
            ("SENTINEL_SLOTS", dir.join("slots").display().to_string()),
            ("SENTINEL_FACTORY", env!("CARGO_BIN_EXE_sentinel").to_string()),
            ("SENTINEL_KEYS_DIR", self.fixture.keys.display().to_string()),
            ("SENTINEL_TEST_NOW", NOW.to_string()),
            ("LISTEN_ADDR", self.webhook_addr.clone()),
            ("MANAGER_CONTACT_IDS", "mgr1".to_string()),
            ("GHL_BASE_URL", self.ghl.url.clone()),
            ("GHL_TOKEN", "test-token".to_string()),
            ("GHL_LOCATION_ID", "loc1".to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }

    /// Starts the service through the launcher, as systemd does (`sentinel run`).
    fn boot(&self, dir: tempfile::TempDir, extra: &[(&str, &str)]) -> anyhow::Result<Sentinel> {
        let mut env = self.env(dir.path());
        env.extend(extra.iter().map(|(name, value)| (name.to_string(), value.to_string())));
        let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        Sentinel::start_command(Command::new(launcher()), dir, &["run"], &env)
    }

    /// `sentinel update ARGS...` through the launcher, beside the service at `admin` if any.
    fn update(&self, dir: &Path, args: &[&str], admin: Option<&str>, extra: &[(&str, &str)]) -> anyhow::Result<Output> {
        Ok(self.update_command(dir, args, admin, extra).output()?)
    }

    fn update_command(&self, dir: &Path, args: &[&str], admin: Option<&str>, extra: &[(&str, &str)]) -> Command {
        let mut update = Command::new(launcher());
        update
            .arg("update")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env(dir))
            .env("DB_PATH", dir.join("sentinel.db"))
            .env("WEBHOOK_SECRET", SECRET)
            .env("ADMIN_LISTEN_ADDR", admin.unwrap_or("127.0.0.1:9"))
            .envs(extra.iter().copied())
            .stdin(Stdio::null());
        update
    }

    /// How many manager SMS mention `text`.
    fn sms_with(&self, text: &str) -> usize {
        self.ghl.sends().iter().filter(|send| send.to_string().contains(text)).count()
    }
}

fn launcher() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/sentinel-launcher")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The version `/health` reports.
fn version(app: &Sentinel) -> anyhow::Result<String> {
    Ok(app.admin("GET", "/health")?.json["version"].as_str().unwrap_or_default().to_string())
}

/// A `key=value` state file of the slots, if present.
fn state(dir: &Path, name: &str) -> BTreeMap<String, String> {
    std::fs::read_to_string(dir.join("slots").join(name))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The trial ended and the update is recorded as good.
fn confirmed(dir: &Path) -> bool {
    state(dir, "trial").is_empty() && state(dir, "last-update").get("result").is_some_and(|result| result == "ok")
}

/// An inbound text with its own message id, from the contact named by the id's prefix (one
/// contact per sender, so its name is looked up in GHL once, not once per text).
fn text_webhook(id: &str) -> String {
    let contact = id.split('-').next().unwrap_or(id);
    json!({ "type": "InboundMessage", "messageId": id, "contactId": format!("c-{contact}"), "messageType": "SMS",
            "body": "is anyone there?" })
    .to_string()
}

/// Posts one text; true when it was acknowledged.
fn deliver(addr: &str, id: &str) -> bool {
    let headers = [("X-NTPP-Secret", SECRET), ("Content-Type", "application/json")];
    request(addr, "POST", "/webhook/ghl", &headers, text_webhook(id).as_bytes())
        .is_ok_and(|answer| answer.status == 200)
}

/// Sends texts until stopped, as GHL would through the tunnel, keeping the acknowledged ids.
struct Sender {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sender {
    fn start(addr: &str, prefix: &str) -> Sender {
        let (stop, acknowledged) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let (addr, prefix, flag, acked) = (addr.to_string(), prefix.to_string(), stop.clone(), acknowledged.clone());
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) {
                let id = format!("{prefix}-{n}");
                n += 1;
                if deliver(&addr, &id) {
                    acked.lock().unwrap_or_else(|p| p.into_inner()).push(id);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Sender { stop, acknowledged, thread: Some(thread) }
    }

    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.acknowledged.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Every acknowledged id is stored.
fn all_stored(app: &Sentinel, acknowledged: &[String]) -> anyhow::Result<()> {
    let conn = app.db()?;
    let mut lost = Vec::new();
    for id in acknowledged {
        let key = format!("message:{id}");
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM raw_events WHERE idem_key = ?1", [&key], |row| row.get(0))?;
        if n != 1 {
            lost.push(id.clone());
        }
    }
    ensure!(lost.is_empty(), "{} acknowledged webhooks are not stored once, e.g. {:?}", lost.len(), lost.first());
    Ok(())
}

/// Waits for the service to exit by itself (a restart it asked for) and checks the code.
fn restarted(app: Sentinel) -> anyhow::Result<tempfile::TempDir> {
    let (status, dir) = app.wait_exit(Duration::from_secs(30))?;
    ensure!(status.code() == Some(75), "expected exit code 75 (restart), got {status:?}");
    Ok(dir)
}

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
    let output = appliance.update(app.dir(), &[path(&bundle)], Some(&app.admin_addr), &[])?;
    ensure!(output.status.success(), "update failed: {}", text(&output));
    let dir = restarted(app)?;
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
    let truncated = dir.path().join("../truncated.bundle");
    std::fs::write(&truncated, &good[..good.len() / 2])?;
    let mut flipped = good.clone();
    let at = flipped.len() - 100;
    flipped[at] ^= 0x40;
    let tampered = dir.path().join("../tampered.bundle");
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

/// Serves one file over HTTP on loopback, for `sentinel update URL`.
fn serve(file: PathBuf) -> anyhow::Result<String> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(|err| anyhow::format_err!("{err}"))?;
    let addr = server.server_addr().to_ip().context("no address")?;
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            match std::fs::File::open(&file) {
                Ok(body) => {
                    let _ = request.respond(tiny_http::Response::from_file(body));
                }
                Err(_) => {
                    let _ = request.respond(tiny_http::Response::empty(404));
                }
            }
        }
    });
    Ok(format!("http://{addr}/sentinel.bundle"))
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
    let bundle = appliance.fixture.bundle("0.2.0", &[])?;
    let url = serve(bundle)?;
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
