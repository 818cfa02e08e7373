//! Updates (issue 16): signed bundles installed by `sentinel update` into A/B slots, started
//! by the real launcher script (`systemd/sentinel-launcher`), confirmed when healthy and
//! rolled back when not. The test plays systemd: it starts the launcher again whenever the
//! service exits. Bundles are packed from the binary under test with a key the test makes,
//! under other version numbers; the factory binary is the binary under test (0.1.0).

mod cases;
mod keys;
mod kills;
mod power;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::ensure;
use serde_json::json;

use crate::fake_ghl::FakeGhl;
use crate::harness::{SECRET, Sentinel, command, request};

/// The manual clock's start: a Monday, 9:00 in Chicago.
pub(super) const NOW: &str = "2026-03-02T15:00:00Z";
/// Past the default 10-minute trial.
pub(super) const AFTER_TRIAL: &str = "2026-03-02T15:11:00Z";
/// The factory binary's version (the crate's).
pub(super) const FACTORY: &str = env!("CARGO_PKG_VERSION");

/// Keys and bundles shared by every test: packing copies the binary, so it is done once.
pub(super) struct Fixture {
    /// Where the keys and bundles are (see [`fixture_dir`]).
    dir: PathBuf,
    /// The directory of trusted public keys (`SENTINEL_KEYS_DIR`).
    keys: PathBuf,
    /// The trusted private key.
    key: PathBuf,
    /// A key that is not trusted.
    pub(super) stranger: PathBuf,
    /// The binary under test, stripped of debug information to keep bundles small.
    binary: PathBuf,
    /// Bundles made so far, by name.
    bundles: Mutex<BTreeMap<String, PathBuf>>,
}

static FIXTURE: Mutex<Option<Arc<Fixture>>> = Mutex::new(None);

/// Whether these tests can run: the launcher execs the slot's binary itself, so a binary
/// under an emulator (`SENTINEL_BIN_RUNNER`) cannot be tested this way.
pub(super) fn skipped() -> bool {
    let emulated = std::env::var("SENTINEL_BIN_RUNNER").is_ok_and(|runner| !runner.is_empty());
    if emulated {
        eprintln!("update tests skipped: the launcher cannot exec a binary that needs SENTINEL_BIN_RUNNER");
    }
    emulated
}

pub(super) fn fixture() -> anyhow::Result<Arc<Fixture>> {
    let mut shared = FIXTURE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(fixture) = shared.as_ref() {
        return Ok(fixture.clone());
    }
    let dir = fixture_dir()?;
    let keys = dir.join("keys");
    let private = dir.join("private");
    let stranger = dir.join("stranger");
    release(&["keygen", "--out", path(&private)])?;
    release(&["keygen", "--out", path(&stranger)])?;
    std::fs::create_dir_all(&keys)?;
    std::fs::copy(private.join("release-ed25519.pub"), keys.join("test.pub"))?;
    let binary = dir.join("sentinel");
    std::fs::copy(env!("CARGO_BIN_EXE_sentinel"), &binary)?;
    // Smaller bundles when `strip` is there; the binary works either way.
    let _ = Command::new("strip").arg(&binary).status();
    let fixture = Arc::new(Fixture {
        dir,
        keys,
        key: private.join("release-ed25519.pk8"),
        stranger: stranger.join("release-ed25519.pk8"),
        binary,
        bundles: Mutex::new(BTreeMap::new()),
    });
    *shared = Some(fixture.clone());
    Ok(fixture)
}

/// The fixture's directory: a static lives as long as the process and is never dropped, so it
/// is under cargo's temporary directory, named by this process, and the directories of test
/// processes that are gone are removed (each holds about 100 MB of bundles).
fn fixture_dir() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for entry in std::fs::read_dir(root)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("update-fixture-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = root.join(format!("update-fixture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub(super) fn path(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// `sentinel release ARGS...`; fails unless it succeeds.
pub(super) fn release(args: &[&str]) -> anyhow::Result<String> {
    let output = command().arg("release").args(args).output()?;
    ensure!(output.status.success(), "sentinel release {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Fixture {
    /// A bundle of the binary under test as `version`, made once; `extra` are more `pack` flags.
    pub(super) fn bundle(&self, version: &str, extra: &[&str]) -> anyhow::Result<PathBuf> {
        self.bundle_signed(version, extra, &self.key)
    }

    pub(super) fn bundle_signed(&self, version: &str, extra: &[&str], key: &Path) -> anyhow::Result<PathBuf> {
        let name = format!("{version}{}{}", extra.join(""), if key == self.key { "" } else { "-stranger" });
        let mut bundles = self.bundles.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bundle) = bundles.get(&name) {
            return Ok(bundle.clone());
        }
        let out = self.dir.join(format!("{}.bundle", name.replace(['-', ' '], "_")));
        let mut args = vec!["pack", "--binary", path(&self.binary), "--key", path(key), "--version", version];
        args.extend(["--out", path(&out)]);
        args.extend(extra);
        release(&args)?;
        bundles.insert(name, out.clone());
        Ok(out)
    }
}

/// One appliance: its data directory, played by the launcher and the binary under test.
pub(super) struct Appliance {
    pub(super) fixture: Arc<Fixture>,
    pub(super) ghl: FakeGhl,
    /// A fixed webhook port, so senders reach each start of the service.
    pub(super) webhook_addr: String,
}

impl Appliance {
    pub(super) fn new() -> anyhow::Result<Appliance> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Ok(Appliance { fixture: fixture()?, ghl: FakeGhl::start()?, webhook_addr: format!("127.0.0.1:{port}") })
    }

    /// The environment every process of this appliance gets, as the unit would give it.
    pub(super) fn env(&self, dir: &Path) -> Vec<(String, String)> {
        [
            ("SENTINEL_SLOTS", dir.join("slots").display().to_string()),
            ("SENTINEL_FACTORY", env!("CARGO_BIN_EXE_sentinel").to_string()),
            // Typed as root, the launcher becomes the service user `sentinel` first
            // (tests/it/launcher.rs); these tests play that user as whoever runs them.
            (LAUNCHER_USER.0, LAUNCHER_USER.1.to_string()),
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
    pub(super) fn boot(&self, dir: tempfile::TempDir, extra: &[(&str, &str)]) -> anyhow::Result<Sentinel> {
        let mut env = self.env(dir.path());
        env.extend(extra.iter().map(|(name, value)| (name.to_string(), value.to_string())));
        let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        Sentinel::start_command(Command::new(launcher()), dir, &["run"], &env)
    }

    /// `sentinel update ARGS...` through the launcher, beside the service at `admin` if any.
    pub(super) fn update(
        &self,
        dir: &Path,
        args: &[&str],
        admin: Option<&str>,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Output> {
        Ok(self.update_command(dir, args, admin, extra).output()?)
    }

    /// Installs `bundle` beside the running `app` and waits for the restart the update asks
    /// for; answers the data directory the candidate starts from.
    pub(super) fn installed(&self, app: Sentinel, bundle: &Path) -> anyhow::Result<tempfile::TempDir> {
        let output = self.update(app.dir(), &[path(bundle)], Some(&app.admin_addr), &[])?;
        ensure!(output.status.success(), "update failed: {}", text(&output));
        restarted(app)
    }

    pub(super) fn update_command(
        &self,
        dir: &Path,
        args: &[&str],
        admin: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Command {
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
    pub(super) fn sms_with(&self, text: &str) -> usize {
        self.ghl.sends().iter().filter(|send| send.to_string().contains(text)).count()
    }
}

/// `SENTINEL_USER=root`: the launcher stays as whoever runs these tests, root included.
pub(super) const LAUNCHER_USER: (&str, &str) = ("SENTINEL_USER", "root");

pub(super) fn launcher() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/sentinel-launcher")
}

pub(super) fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The version `/health` reports.
pub(super) fn version(app: &Sentinel) -> anyhow::Result<String> {
    Ok(app.admin("GET", "/health")?.json["version"].as_str().unwrap_or_default().to_string())
}

/// A `key=value` state file of the slots, if present.
pub(super) fn state(dir: &Path, name: &str) -> BTreeMap<String, String> {
    std::fs::read_to_string(dir.join("slots").join(name))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The trial ended and the update is recorded as good.
pub(super) fn confirmed(dir: &Path) -> bool {
    state(dir, "trial").is_empty() && state(dir, "last-update").get("result").is_some_and(|result| result == "ok")
}

/// An inbound text with its own message id, from the contact named by the id's prefix (one
/// contact per sender, so its name is looked up in GHL once, not once per text).
pub(super) fn text_webhook(id: &str) -> String {
    let contact = id.split('-').next().unwrap_or(id);
    json!({ "type": "InboundMessage", "messageId": id, "contactId": format!("c-{contact}"), "messageType": "SMS",
            "body": "is anyone there?" })
    .to_string()
}

/// Posts one text; true when it was acknowledged.
pub(super) fn deliver(addr: &str, id: &str) -> bool {
    let headers = [("X-NTPP-Secret", SECRET), ("Content-Type", "application/json")];
    request(addr, "POST", "/webhook/ghl", &headers, text_webhook(id).as_bytes())
        .is_ok_and(|answer| answer.status == 200)
}

/// Sends texts until stopped, as GHL would through the tunnel, keeping the acknowledged ids.
pub(super) struct Sender {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sender {
    pub(super) fn start(addr: &str, prefix: &str) -> Sender {
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

    pub(super) fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.acknowledged.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Every acknowledged id is stored.
pub(super) fn all_stored(app: &Sentinel, acknowledged: &[String]) -> anyhow::Result<()> {
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
pub(super) fn restarted(app: Sentinel) -> anyhow::Result<tempfile::TempDir> {
    let (status, dir) = app.wait_exit(Duration::from_secs(30))?;
    ensure!(status.code() == Some(75), "expected exit code 75 (restart), got {status:?}");
    Ok(dir)
}
