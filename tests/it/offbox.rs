//! The off-box copy (issue 15 part 4) against a real S3-compatible server on loopback: moto's
//! server mode, which each test starts on 127.0.0.1 and stops when it ends. Nothing leaves the
//! machine. `.ci/run` installs moto; without it these tests fail under CI and are skipped, with
//! a message, elsewhere.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::json;

use crate::harness::{SECRET, Sentinel, command, metric, request};

pub(crate) const BUCKET: &str = "ntpp-backups";
const KEY: &str = "correct-horse-battery-staple";
const BUCKET_SECRET: &str = "moto-secret-access-key";
/// 01:59 CST on Tuesday 2026-03-03, a minute before the nightly backup.
const BEFORE_TWO: &str = "2026-03-03T07:59:00Z";
const COPY: &str = "office/sentinel-2026-03-03.offbox";

/// moto's S3 server on 127.0.0.1, stopped on drop (`doctor_box` uses it too).
pub(crate) struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts on a free port, or `None` when moto is missing and this is not CI.
    pub(crate) fn start() -> anyhow::Result<Option<Moto>> {
        Moto::start_on(free_port()?)
    }

    fn start_on(port: u16) -> anyhow::Result<Option<Moto>> {
        let installed = Command::new("python3")
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            ensure!(
                std::env::var("CI").as_deref() != Ok("true"),
                "moto is not installed, and CI must run the off-box tests: pip install 'moto[server]'"
            );
            eprintln!("skipped: the off-box tests need moto's S3 server (pip install 'moto[server]')");
            return Ok(None);
        }
        let mut child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || child.try_wait()?.is_some() {
                let _ = child.kill();
                let _ = child.wait();
                bail!("moto did not start on 127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let moto = Moto { child, port };
        let created = request(&moto.addr(), "PUT", &format!("/{BUCKET}"), &[], b"")?;
        ensure!(created.status == 200, "creating the bucket: {created:?}");
        Ok(Some(moto))
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every key in the bucket (moto does not ask for a signature).
    pub(crate) fn keys(&self) -> anyhow::Result<Vec<String>> {
        let listing = request(&self.addr(), "GET", &format!("/{BUCKET}?list-type=2"), &[], b"")?;
        ensure!(listing.status == 200, "listing: {listing:?}");
        let mut keys: Vec<String> = listing
            .text
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_string()))
            .collect();
        keys.sort();
        Ok(keys)
    }

    fn object(&self, key: &str) -> anyhow::Result<String> {
        // Anonymous reads meet the object's private ACL; moto checks no signature.
        let auth = "AWS4-HMAC-SHA256 Credential=moto-key-id/20260303/us-east-1/s3/aws4_request, \
                    SignedHeaders=host, Signature=0";
        let object = request(&self.addr(), "GET", &format!("/{BUCKET}/{key}"), &[("Authorization", auth)], b"")?;
        ensure!(object.status == 200, "getting {key}: {object:?}");
        Ok(object.text)
    }

    /// Copies `from` to `to` inside the bucket (S3's CopyObject), as anyone who can write
    /// to the bucket could, without the encryption key.
    fn copy(&self, from: &str, to: &str) -> anyhow::Result<()> {
        let source = format!("/{BUCKET}/{from}");
        let put = request(&self.addr(), "PUT", &format!("/{BUCKET}/{to}"), &[("x-amz-copy-source", &source)], b"")?;
        ensure!(put.status == 200, "copying {from} to {to}: {put:?}");
        Ok(())
    }

    fn put(&self, key: &str, body: &str) -> anyhow::Result<()> {
        let put = request(&self.addr(), "PUT", &format!("/{BUCKET}/{key}"), &[], body.as_bytes())?;
        ensure!(put.status == 200, "putting {key}: {put:?}");
        Ok(())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The OFFBOX_* settings for a bucket on `port`, as env file lines.
fn offbox_lines(port: u16, key: &str) -> String {
    format!(
        "OFFBOX_URL=http://127.0.0.1:{port}/{BUCKET}/office\nOFFBOX_ACCESS_KEY_ID=moto-key-id\n\
         OFFBOX_SECRET_ACCESS_KEY={BUCKET_SECRET}\nOFFBOX_ENCRYPTION_KEY={key}\n"
    )
}

/// The OFFBOX_* settings as environment pairs.
fn offbox_env(port: u16) -> Vec<(String, String)> {
    offbox_lines(port, KEY)
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, value)| (name.to_string(), value.to_string())))
        .collect()
}

/// A text from a customer, with a phone number that must never be readable in the bucket.
fn customer_text(app: &Sentinel) -> anyhow::Result<()> {
    customer_text_id(app, "m-offbox-1")
}

fn customer_text_id(app: &Sentinel, id: &str) -> anyhow::Result<()> {
    let body = json!({
        "type": "InboundMessage", "messageId": id, "contactId": "c-offbox", "messageType": "SMS",
        "phone": "+12145550199", "body": "Pool is green again"
    });
    let answer = app.webhook("", &body.to_string())?;
    ensure!(answer.status == 200, "{answer:?}");
    Ok(())
}

/// The env file of the box that makes the copy: the bucket, and settings to recognise.
fn env_file_text(port: u16) -> String {
    format!("{}MANAGER_CONTACT_IDS=mgr-from-the-env-file\nSMS_SLA_HOURS=3\n", offbox_lines(port, KEY))
}

/// Runs a box whose env file is `env_file_text` until its 02:00 backup is in the bucket.
fn upload_one_copy(moto: &Moto) -> anyhow::Result<(String, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let env_path = dir.path().join("sentinel.env");
    let env_text = env_file_text(moto.port);
    std::fs::write(&env_path, &env_text)?;
    let config = env_path.display().to_string();
    let app = Sentinel::start_with_args(dir, &["run", "--config", &config], &[("SENTINEL_TEST_NOW", BEFORE_TWO)])?;
    customer_text(&app)?;
    app.set_clock("2026-03-03T08:00:00Z")?;
    app.eventually("the off-box copy", || Ok(moto.keys()?.contains(&COPY.to_string())))?;
    app.eventually("the status", || Ok(app.admin("GET", "/api/status")?.json["offbox"]["last_object"] == COPY))?;
    let (_, dir) = app.stop()?;
    Ok((env_text, dir))
}

/// `sentinel ARGS` with only `env` (and the data in `db_path`): a fresh card's shell. Without
/// a `--config` among `args`, an empty scratch env file beside the database is given, so a
/// restore never writes the machine's own `/etc/sentinel/sentinel.env`.
fn cli(args: &[&str], db_path: &Path, env: &[(String, String)]) -> anyhow::Result<(bool, String)> {
    let mut args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    if !args.iter().any(|arg| arg == "--config") {
        let scratch = db_path.with_file_name("cli-scratch.env");
        std::fs::create_dir_all(db_path.parent().context("the database has no directory")?)?;
        if !scratch.exists() {
            std::fs::write(&scratch, "")?;
        }
        args.extend(["--config".to_string(), scratch.display().to_string()]);
    }
    let output = command()
        .args(&args)
        .env_clear()
        .env("DB_PATH", db_path)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

#[test]
fn the_nightly_copy_goes_off_box_sealed_and_a_fresh_card_gets_data_and_configuration_back() -> anyhow::Result<()> {
    let Some(moto) = Moto::start()? else { return Ok(()) };
    let (env_text, dir) = upload_one_copy(&moto)?;

    // What the bucket's holder sees: no phone number, no text, no setting, no secret.
    let sealed = moto.object(COPY)?;
    assert!(sealed.starts_with("SENTINEL-OFFBOX") && sealed.len() > 4096, "{} bytes", sealed.len());
    for secret in ["5550199", "Pool is green", "MANAGER_CONTACT_IDS", BUCKET_SECRET, KEY, "SQLite format"] {
        assert!(!sealed.contains(secret), "{secret} is readable in the bucket");
    }
    let (ok, listed) = cli(
        &["offbox", "list", "--config", &dir.path().join("sentinel.env").display().to_string()],
        &dir.path().join("sentinel.db"),
        &[],
    )?;
    assert!(ok && listed.contains(COPY) && listed.contains(": 1"), "{listed}");

    // A fresh card: only the bucket's settings and the key, typed in again.
    let fresh = tempfile::tempdir()?;
    let env_path = fresh.path().join("etc/sentinel.env");
    std::fs::create_dir_all(fresh.path().join("etc"))?;
    std::fs::write(&env_path, offbox_lines(moto.port, KEY))?;
    let db_path = fresh.path().join("data/sentinel.db");
    let config = env_path.display().to_string();
    let (ok, out) = cli(&["restore", "--offbox", "latest", "--config", &config], &db_path, &[])?;
    assert!(ok, "{out}");
    assert!(out.contains(COPY) && out.contains("env file restored"), "{out}");
    assert_eq!(std::fs::read_to_string(&env_path)?, env_text, "the configuration is back");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&env_path)?.permissions());
    assert_eq!(mode & 0o777, 0o600, "it holds secrets");
    let restored = rusqlite::Connection::open(&db_path)?;
    let found: i64 =
        restored
            .query_row("SELECT COUNT(*) FROM raw_events WHERE idem_key = 'message:m-offbox-1'", [], |r| r.get(0))?;
    assert_eq!(found, 1, "the data is back");
    drop(restored);
    let (ok, shown) = cli(&["check-config", "--config", &config], &db_path, &[])?;
    assert!(ok && shown.contains("MANAGER_CONTACT_IDS=mgr-from-the-env-file"), "{shown}");

    // The object's URL, and s3:// on the configured endpoint, name the same copy.
    let url = format!("http://127.0.0.1:{}/{BUCKET}/{COPY}", moto.port);
    for from in [url.as_str(), &format!("s3://{BUCKET}/{COPY}")] {
        let (ok, out) = cli(&["restore", from, "--config", &config], &db_path, &[])?;
        assert!(ok && out.contains("restored"), "{from}: {out}");
    }
    Ok(())
}

/// A box migrated from the original keeps `DB_PATH=/data/sentinel.db` in its env file, which the
/// service sets aside under systemd; a restore of its copy on a fresh card must put the database
/// where the service will look (the state directory), not under `/data`.
#[test]
fn a_copy_with_the_originals_docker_db_path_restores_into_the_state_directory() -> anyhow::Result<()> {
    let Some(moto) = Moto::start()? else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let env_path = dir.path().join("sentinel.env");
    std::fs::write(&env_path, format!("{}DB_PATH=/data/sentinel.db\n", env_file_text(moto.port)))?;
    let config = env_path.display().to_string();
    let app = Sentinel::start_with_args(dir, &["run", "--config", &config], &[("SENTINEL_TEST_NOW", BEFORE_TWO)])?;
    customer_text(&app)?;
    app.set_clock("2026-03-03T08:00:00Z")?;
    app.eventually("the off-box copy", || Ok(moto.keys()?.contains(&COPY.to_string())))?;
    app.stop()?;
    let fresh = tempfile::tempdir()?;
    let (state, etc) = (fresh.path().join("state"), fresh.path().join("etc"));
    std::fs::create_dir_all(&state)?;
    std::fs::create_dir_all(&etc)?;
    let fresh_env = etc.join("sentinel.env");
    std::fs::write(&fresh_env, offbox_lines(moto.port, KEY))?;
    let data_existed = Path::new("/data/sentinel.db").exists();
    let output = command()
        .args(["restore", "--offbox", "latest", "--config", &fresh_env.display().to_string()])
        .env_clear()
        .env("STATE_DIRECTORY", &state)
        .output()?;
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{said}");
    assert!(said.contains(&state.join("sentinel.db").display().to_string()), "{said}");
    assert!(state.join("sentinel.db").exists(), "{said}");
    assert!(data_existed || !Path::new("/data/sentinel.db").exists(), "restored under /data: {said}");
    Ok(())
}

#[test]
fn a_wrong_key_is_refused_and_changes_nothing() -> anyhow::Result<()> {
    let Some(moto) = Moto::start()? else { return Ok(()) };
    let (_, source) = upload_one_copy(&moto)?;

    // A box with its own data and settings, and the wrong key.
    let target = Sentinel::start(&[])?;
    customer_text(&target)?;
    let db_path = target.db_path();
    let env_path = target.dir().join("sentinel.env");
    let wrong = format!("{}TIMEZONE=America/Denver\n", offbox_lines(moto.port, "not-the-key-it-was-sealed-with"));
    std::fs::write(&env_path, &wrong)?;
    let config = env_path.display().to_string();
    let (ok, out) = cli(&["restore", "--offbox", "latest", "--config", &config], &db_path, &[])?;
    assert!(!ok && out.contains("the service is running"), "{out}");
    let (_, dir) = target.stop()?;
    let before = std::fs::read(&db_path)?;

    let (ok, out) = cli(&["restore", "--offbox", "latest", "--config", &config], &db_path, &[])?;
    assert!(!ok, "{out}");
    assert!(out.contains("OFFBOX_ENCRYPTION_KEY does not open this copy"), "{out}");
    assert!(!out.contains("not-the-key"), "the key is never printed: {out}");
    assert_eq!(std::fs::read(&db_path)?, before, "the database is untouched");
    assert_eq!(std::fs::read_to_string(&env_path)?, wrong, "the env file is untouched");
    let left: Vec<String> = std::fs::read_dir(dir.path())?
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().to_string())
        .filter(|name| name.contains("partial") || name.contains("offbox"))
        .collect();
    assert!(left.is_empty(), "working files left behind: {left:?}");
    drop(source);
    Ok(())
}

#[test]
fn an_unreachable_bucket_is_retried_on_a_later_wake_and_shown_on_status() -> anyhow::Result<()> {
    // The bucket's port is chosen now and served only later.
    let port = free_port()?;
    let mut env: Vec<(String, String)> = offbox_env(port);
    env.push(("SENTINEL_TEST_NOW".into(), BEFORE_TWO.into()));
    let extra: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let app = Sentinel::start(&extra)?;
    customer_text(&app)?;
    app.set_clock("2026-03-03T08:00:00Z")?;
    app.eventually("a failed attempt", || Ok(app.admin("GET", "/api/status")?.json["offbox"]["failures"] == 1))?;
    let status = app.admin("GET", "/api/status")?.json;
    let record = &status["offbox"];
    assert!(record["last_error"].as_str().unwrap_or("").contains("cannot be reached"), "{record}");
    assert_eq!(record["next_try_at"], "2026-03-03T08:15:00Z", "{record}");
    let page = app.admin("GET", "/status")?.text;
    assert!(page.contains("Off-box copy: FAILING: 1 attempt(s) at the 2026-03-03 backup"), "{page}");
    assert!(page.contains("next try 2:15am"), "{page}");
    let screen = command()
        .arg("status")
        .env_clear()
        .env("ADMIN_LISTEN_ADDR", &app.admin_addr)
        .env("WEBHOOK_SECRET", SECRET)
        .output()?;
    let screen = String::from_utf8_lossy(&screen.stdout);
    assert!(screen.contains("off-box copy:  FAILING: 1 attempt(s)"), "{screen}");
    assert!(!screen.contains(BUCKET_SECRET) && !page.contains(BUCKET_SECRET) && !app.log().contains(BUCKET_SECRET));

    // Not before its time.
    app.set_clock("2026-03-03T08:14:00Z")?;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(app.admin("GET", "/api/status")?.json["offbox"]["failures"], 1);

    let Some(moto) = Moto::start_on(port)? else { return Ok(()) };
    app.set_clock("2026-03-03T08:15:00Z")?;
    app.eventually("the retry", || Ok(app.admin("GET", "/api/status")?.json["offbox"]["last_object"] == COPY))?;
    assert_eq!(moto.keys()?, [COPY]);
    let record = app.admin("GET", "/api/status")?.json["offbox"].clone();
    assert_eq!((record["failures"].as_u64(), record["last_error"].is_null()), (Some(0), true), "{record}");
    assert!(app.admin("GET", "/status")?.text.contains("Off-box copy: last upload 2:15am"));
    let metrics = app.admin("GET", "/metrics")?.text;
    assert_eq!(metric(&metrics, "sentinel_offbox_failures"), Some("0"), "{metrics}");
    Ok(())
}

#[test]
fn the_bucket_keeps_the_newest_n_copies_and_nothing_else_is_touched() -> anyhow::Result<()> {
    let Some(moto) = Moto::start()? else { return Ok(()) };
    moto.put("office/notes.txt", "not a copy")?;
    moto.put("elsewhere/sentinel-2026-01-01.offbox", "not under the prefix")?;
    let mut env = offbox_env(moto.port);
    env.push(("OFFBOX_KEEP".into(), "2".into()));
    env.push(("SENTINEL_TEST_NOW".into(), BEFORE_TWO.into()));
    let extra: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let app = Sentinel::start(&extra)?;
    for day in 3..=6 {
        app.set_clock(&format!("2026-03-0{day}T08:00:00Z"))?;
        let copy = format!("office/sentinel-2026-03-0{day}.offbox");
        app.eventually("the night's copy", || {
            Ok(app.admin("GET", "/api/status")?.json["offbox"]["last_object"] == copy.as_str())
        })?;
    }
    let expected = [
        "elsewhere/sentinel-2026-01-01.offbox",
        "office/notes.txt",
        "office/sentinel-2026-03-05.offbox",
        "office/sentinel-2026-03-06.offbox",
    ];
    assert_eq!(moto.keys()?, expected);
    Ok(())
}

#[test]
fn a_fresh_card_uploads_nothing_over_the_copies_until_it_is_restored_from_them() -> anyhow::Result<()> {
    let Some(moto) = Moto::start()? else { return Ok(()) };
    let (_, _old_card) = upload_one_copy(&moto)?;
    let sealed = moto.object(COPY)?;

    // The next day, after 02:00: a new card with only the bucket's settings takes its first
    // nightly backup at once, of an empty database.
    let fresh = tempfile::tempdir()?;
    let env_path = fresh.path().join("sentinel.env");
    std::fs::write(&env_path, offbox_lines(moto.port, KEY))?;
    let config = env_path.display().to_string();
    let next_day = [("SENTINEL_TEST_NOW", "2026-03-04T16:00:00Z")];
    let app = Sentinel::start_with_args(fresh, &["run", "--config", &config], &next_day)?;
    app.eventually("the refusal", || Ok(app.admin("GET", "/api/status")?.json["offbox"]["failures"] == 1))?;
    let error = app.admin("GET", "/api/status")?.json["offbox"]["last_error"].clone();
    assert!(error.as_str().unwrap_or("").contains("copies that this database did not upload"), "{error}");
    assert_eq!(moto.keys()?, [COPY]);
    assert_eq!(moto.object(COPY)?, sealed, "the copy is untouched");

    let db_path = app.db_path();
    let (_, fresh) = app.stop()?;
    let (ok, out) = cli(&["restore", "--offbox", "latest", "--config", &config], &db_path, &[])?;
    assert!(ok, "{out}");
    // Restored, it carries on the bucket's copies, with the data it got back.
    let app = Sentinel::start_with_args(fresh, &["run", "--config", &config], &next_day)?;
    let next = "office/sentinel-2026-03-04.offbox";
    app.eventually("the next copy", || Ok(app.admin("GET", "/api/status")?.json["offbox"]["last_object"] == next))?;
    let (_, fresh) = app.stop()?;
    let again = fresh.path().join("again/sentinel.db");
    let (ok, out) = cli(&["restore", "--offbox", "sentinel-2026-03-04.offbox", "--config", &config], &again, &[])?;
    assert!(ok, "{out}");
    let found: i64 = rusqlite::Connection::open(&again)?.query_row(
        "SELECT COUNT(*) FROM raw_events WHERE idem_key = 'message:m-offbox-1'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(found, 1, "the new copy holds the restored data, not the empty database");
    Ok(())
}

/// Object names are the bucket's, not the box's: whoever can write to the bucket can put an
/// older copy under a newer night's name. `latest` is the copy sealed last by the date inside
/// it, which cannot be forged without the key; the restore says which copy and its date, and
/// that the misnamed copy's name is not trusted.
#[test]
fn latest_is_the_copy_sealed_last_whatever_the_names_say() -> anyhow::Result<()> {
    let Some(moto) = Moto::start()? else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let env_path = dir.path().join("sentinel.env");
    std::fs::write(&env_path, env_file_text(moto.port))?;
    let config = env_path.display().to_string();
    let app = Sentinel::start_with_args(dir, &["run", "--config", &config], &[("SENTINEL_TEST_NOW", BEFORE_TWO)])?;
    customer_text(&app)?;
    app.set_clock("2026-03-03T08:00:00Z")?;
    app.eventually("the first copy", || Ok(moto.keys()?.contains(&COPY.to_string())))?;
    // A second text, then the next night's copy, which alone holds it.
    customer_text_id(&app, "m-offbox-2")?;
    let newest = "office/sentinel-2026-03-04.offbox";
    app.set_clock("2026-03-04T08:00:00Z")?;
    app.eventually("the second copy", || Ok(moto.keys()?.contains(&newest.to_string())))?;
    let (_, _old_card) = app.stop()?;
    // The older copy, put back under a later night's name.
    let misnamed = "office/sentinel-2026-03-09.offbox";
    moto.copy(COPY, misnamed)?;
    assert_eq!(moto.keys()?, [COPY, newest, misnamed]);

    let fresh = tempfile::tempdir()?;
    let env_path = fresh.path().join("sentinel.env");
    std::fs::write(&env_path, offbox_lines(moto.port, KEY))?;
    let config = env_path.display().to_string();
    let db_path = fresh.path().join("data/sentinel.db");
    let (ok, out) = cli(&["restore", "--offbox", "latest", "--config", &config], &db_path, &[])?;
    assert!(ok, "{out}");
    assert!(out.contains(&format!("/{BUCKET}/{newest}\n")), "the copy sealed last is restored: {out}");
    assert!(out.contains("sealed 2026-03-04T08:00:00Z (the backup of 2026-03-04)"), "its date: {out}");
    assert!(
        out.contains(&format!("note: {misnamed} is named for 2026-03-09 but holds the backup of 2026-03-03")),
        "the misnamed copy is called out: {out}"
    );
    let texts = |db: &Path| -> anyhow::Result<i64> {
        Ok(rusqlite::Connection::open(db)?.query_row(
            "SELECT COUNT(*) FROM raw_events WHERE idem_key IN ('message:m-offbox-1', 'message:m-offbox-2')",
            [],
            |row| row.get(0),
        )?)
    };
    assert_eq!(texts(&db_path)?, 2, "the newest data is back");

    // Named by hand, the misnamed copy is restored as asked, and said to be what it is.
    let by_name = fresh.path().join("by-name/sentinel.db");
    let (ok, out) = cli(&["restore", "--offbox", "sentinel-2026-03-09.offbox", "--config", &config], &by_name, &[])?;
    assert!(ok, "{out}");
    assert!(out.contains("sealed 2026-03-03T08:00:00Z (the backup of 2026-03-03)"), "{out}");
    assert!(out.contains("is named for 2026-03-09 but holds the backup of 2026-03-03"), "{out}");
    assert_eq!(texts(&by_name)?, 1);
    Ok(())
}

/// Issue 24 item 9g: `sentinel offbox push` sends a copy now, and says what it sent.
#[test]
fn offbox_push_sends_a_copy_now_and_says_which() -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let db_path = scratch.path().join("data/sentinel.db");
    let now = [("SENTINEL_TEST_NOW".to_string(), BEFORE_TWO.to_string())];
    let (ok, out) = cli(&["manager", "add", "Pat", "--contact-id", "pat", "--pin", "24681357"], &db_path, &now)?;
    assert!(ok, "{out}");
    let (ok, out) = cli(&["offbox", "push"], &db_path, &now)?;
    assert!(!ok && out.contains("off-box copies are not configured: set OFFBOX_URL"), "{out}");

    let Some(moto) = Moto::start()? else { return Ok(()) };
    let mut env = offbox_env(moto.port);
    env.extend(now);
    // No nightly backup yet: a fresh one goes up, dated today (Tuesday, 01:59 CST).
    let (ok, out) = cli(&["offbox", "push"], &db_path, &env)?;
    assert!(ok, "{out}");
    assert!(out.contains("uploaded a fresh backup of the database") && out.contains(COPY), "{out}");
    assert_eq!(moto.keys()?, vec![COPY.to_string()]);
    assert!(!db_path.with_file_name("backups").join("offbox-push.db").exists(), "the fresh backup is removed");
    let record: String = rusqlite::Connection::open(&db_path)?.query_row(
        "SELECT value FROM kv WHERE key = 'offbox_record'",
        [],
        |r| r.get(0),
    )?;
    assert!(record.contains(COPY), "recorded as the nightly upload would be: {record}");

    // With a nightly backup on the box, that one goes up (another bucket: this one holds
    // copies the box's database did not upload, which it refuses to go in front of).
    drop(moto);
    let Some(moto) = Moto::start()? else { return Ok(()) };
    let (_, dir) = upload_one_copy(&moto)?;
    let config = dir.path().join("sentinel.env").display().to_string();
    let (ok, out) = cli(&["offbox", "push", "--config", &config], &dir.path().join("sentinel.db"), &[])?;
    assert!(ok && out.contains("uploaded the nightly backup of 2026-03-03") && out.contains(COPY), "{out}");
    Ok(())
}
