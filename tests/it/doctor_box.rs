//! `sentinel doctor`'s box checks (issue 27) against the real things: a notification receiver
//! on loopback, moto's S3 server, a data budget the database overflows, nightly backups of
//! several ages. No GHL token is given, so the GHL check fails and the exit code says so; these
//! tests look at the box's lines, by name, in `--json`.

use std::path::Path;

use anyhow::{Context as _, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::harness::command;
use crate::offbox::{BUCKET, Moto};

/// Computed apart from the service, with python3's `base64` (as in `notify.rs`).
const SECRET: &str = "whsec_c2VudGluZWwtdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2Q=";
const KEY: &[u8] = b"sentinel-test-key-0123456789abcd";

/// Runs `sentinel doctor --json` on a data directory in `dir` with `env`; answers whether it
/// exited 0 and its report.
fn doctor(dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<(bool, Value)> {
    let output = command()
        .args(["doctor", "--json"])
        .env_clear()
        .env("DB_PATH", dir.join("data/sentinel.db"))
        .env("LED_PATH", dir.join("no-led"))
        .env("SENTINEL_KEYS_DIR", dir.join("keys"))
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).with_context(|| {
        format!("doctor --json printed {stdout:?}; stderr {}", String::from_utf8_lossy(&output.stderr))
    })?;
    Ok((output.status.success(), report))
}

/// The check named `name`: its level and detail, and its advice (empty for a pass).
fn line(report: &Value, name: &str) -> anyhow::Result<(String, String, String)> {
    let check = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|check| check["name"] == name))
        .with_context(|| format!("no check named {name:?} in {report:#}"))?;
    let text = |field: &str| check[field].as_str().unwrap_or("").to_string();
    ensure!(check["area"] == "box", "{name} is not a box check: {check}");
    Ok((text("level"), text("detail"), text("advice")))
}

/// A receiver on 127.0.0.1 answering every request with `status`; the requests it took that
/// carried a valid Standard Webhooks signature go to the returned list as their bodies.
fn receiver(status: u16) -> anyhow::Result<(String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>)> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(|err| anyhow::format_err!("{err}"))?;
    let addr = server.server_addr().to_string();
    let signed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let taken = signed.clone();
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let header = |name: &'static str| {
                request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.to_string()).unwrap_or_default()
            };
            let (id, stamp, signature) =
                (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, KEY);
            let tag = ring::hmac::sign(&key, format!("{id}.{stamp}.{body}").as_bytes());
            if signature == format!("v1,{}", STANDARD.encode(tag.as_ref()))
                && id.starts_with("msg_")
                && let Ok(value) = serde_json::from_str(&body)
            {
                taken.lock().expect("taken").push(value);
            }
            let _ = request.respond(tiny_http::Response::empty(status));
        }
    });
    Ok((addr, signed))
}

#[test]
fn doctor_box_a_notification_url_answering_500_fails_and_one_answering_2xx_passes() -> anyhow::Result<()> {
    let (failing, _) = receiver(500)?;
    let (working, signed) = receiver(204)?;
    let dir = tempfile::tempdir()?;
    let urls = format!("http://{failing}/hook?token=s3cr3t=all;http://{working}/ok/s3cr3t=breach,health");
    let (ok, report) = doctor(dir.path(), &[("NOTIFY_WEBHOOK_URLS", &urls), ("NOTIFY_WEBHOOK_SECRET", SECRET)])?;
    assert!(!ok, "a failed check exits non-zero");
    let (level, detail, advice) = line(&report, &format!("notify http://{failing}/…"))?;
    assert_eq!((level.as_str(), detail.as_str()), ("fail", "webhook answered 500 Internal Server Error"));
    assert!(advice.contains("NOTIFY_WEBHOOK_URLS"), "{advice}");
    let (level, detail, _) = line(&report, &format!("notify http://{working}/…"))?;
    assert_eq!((level.as_str(), detail.as_str()), ("ok", "answered a signed ping (breach, health)"));
    let signed = signed.lock().map_err(|_| anyhow::format_err!("poisoned"))?.clone();
    assert_eq!(signed.len(), 1, "one signed ping: {signed:?}");
    assert_eq!(signed[0]["type"], "ping");
    assert!(!report.to_string().contains("s3cr3t"), "URLs are masked: {report}");

    // Nothing listening: unreachable, with the URL masked.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let urls = format!("http://{closed}/hook/s3cr3t=all");
    let (_, report) = doctor(dir.path(), &[("NOTIFY_WEBHOOK_URLS", &urls), ("NOTIFY_WEBHOOK_SECRET", SECRET)])?;
    let (level, detail, _) = line(&report, &format!("notify http://{closed}/…"))?;
    assert!(level == "fail" && detail.starts_with("webhook unreachable"), "{detail}");
    assert!(!detail.contains("s3cr3t"), "{detail}");
    Ok(())
}

/// The OFFBOX_* settings for `bucket` on moto.
fn offbox(moto: &Moto, bucket: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OFFBOX_URL", format!("http://{}/{bucket}/office", moto.addr())),
        ("OFFBOX_ACCESS_KEY_ID", "moto-key-id".to_string()),
        ("OFFBOX_SECRET_ACCESS_KEY", "moto-secret-access-key".to_string()),
        ("OFFBOX_ENCRYPTION_KEY", "correct-horse-battery-staple".to_string()),
    ]
}

#[test]
fn doctor_box_the_off_box_bucket_is_written_and_cleaned_or_its_refusal_shown() -> anyhow::Result<()> {
    let Some(moto) = Moto::start()? else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let env = offbox(&moto, BUCKET);
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let (_, report) = doctor(dir.path(), &env)?;
    let (level, detail, _) = line(&report, "off-box bucket")?;
    assert_eq!(level, "ok", "{detail}");
    assert!(detail.ends_with(&format!("/{BUCKET}: a test object written and deleted")), "{detail}");
    assert_eq!(moto.keys()?, Vec::<String>::new(), "the test object is gone");

    // A bucket that does not exist refuses the write, and its answer is shown.
    let env = offbox(&moto, "no-such-bucket");
    let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let (ok, report) = doctor(dir.path(), &env)?;
    assert!(!ok);
    let (level, detail, advice) = line(&report, "off-box bucket")?;
    assert_eq!(level, "fail", "{detail}");
    assert!(detail.contains("404 NoSuchBucket"), "{detail}");
    assert!(advice.contains("OFFBOX_URL"), "{advice}");
    assert!(!report.to_string().contains("moto-secret-access-key"), "{report}");

    // Without OFFBOX_URL there is no bucket line.
    let (_, report) = doctor(dir.path(), &[])?;
    assert!(line(&report, "off-box bucket").is_err(), "{report}");
    Ok(())
}

#[test]
fn doctor_box_a_database_over_the_data_budget_fails_the_disk() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("data"))?;
    let (ok, report) = doctor(dir.path(), &[("DATA_MAX_MB", "8")])?;
    let (level, detail, _) = line(&report, "disk")?;
    assert!(level == "ok" && detail.starts_with("data 0 KB of the 8.0 MB budget (0%)"), "{level} {detail}");
    assert!(!ok, "the GHL token is missing");

    // 7 MB of 8: over 80%.
    std::fs::write(dir.path().join("data/sentinel.db"), vec![0u8; 7 << 20])?;
    let (_, report) = doctor(dir.path(), &[("DATA_MAX_MB", "8")])?;
    let (level, detail, _) = line(&report, "disk")?;
    assert!(level == "warn" && detail.starts_with("data 7.0 MB of the 8.0 MB budget (87%)"), "{level} {detail}");

    // Full: the database and a nightly backup take more than the budget.
    std::fs::create_dir_all(dir.path().join("data/backups"))?;
    std::fs::write(dir.path().join("data/backups/sentinel-2026-03-02.db"), vec![0u8; 2 << 20])?;
    let (_, report) = doctor(dir.path(), &[("DATA_MAX_MB", "8")])?;
    let (level, detail, advice) = line(&report, "disk")?;
    assert!(level == "fail" && detail.starts_with("data 9.0 MB of the 8.0 MB budget (112%)"), "{level} {detail}");
    assert!(advice.contains("DATA_MAX_MB"), "{advice}");
    Ok(())
}

/// A data partition that is really full (a small tmpfs filled to the brim): the disk fails
/// with the room left, whatever the budget says.
#[test]
fn doctor_box_a_full_data_partition_fails_the_disk() -> anyhow::Result<()> {
    let disk = crate::storage::SmallDisk::mount(4)?;
    std::fs::create_dir_all(disk.path().join("data"))?;
    crate::storage::fill(&disk, 0)?;
    let (ok, report) = doctor(disk.path(), &[])?;
    assert!(!ok, "{report}");
    let (level, detail, advice) = line(&report, "disk")?;
    assert_eq!(level, "fail", "{detail}");
    assert!(detail.contains("0 KB free on the data partition"), "{detail}");
    assert!(!advice.is_empty(), "what to do is said: {report}");
    Ok(())
}

#[test]
fn doctor_box_the_last_backups_age_is_shown() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("backups"))?;
    // The database was made now; the doctor's clock reads ten days later, at noon UTC.
    std::fs::write(data.join("sentinel.db"), b"")?;
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let later = today.checked_add(jiff::Span::new().days(10))?;
    let at = format!("{later}T12:00:00Z");
    let env = [("TIMEZONE", "UTC"), ("SENTINEL_TEST_NOW", at.as_str())];

    let (_, report) = doctor(dir.path(), &env)?;
    let (level, detail, advice) = line(&report, "backups")?;
    assert_eq!(level, "fail", "{detail}");
    assert!(detail.starts_with("no nightly backup, and the database is ") && detail.ends_with(" days old"), "{detail}");
    assert!(advice.contains("sentinel backup"), "{advice}");
    let (level, _, _) = line(&report, "clock")?;
    assert_eq!(level, "ok", "the test clock is synchronized");

    let five_days_before = later.checked_sub(jiff::Span::new().days(5))?;
    std::fs::write(data.join(format!("backups/sentinel-{five_days_before}.db")), b"")?;
    let (_, report) = doctor(dir.path(), &env)?;
    let (level, detail, _) = line(&report, "backups")?;
    assert_eq!((level.as_str(), detail.as_str()), ("warn", "the last nightly backup is 5 days old"));

    let yesterday = later.yesterday()?;
    std::fs::write(data.join(format!("backups/sentinel-{yesterday}.db")), b"")?;
    let (_, report) = doctor(dir.path(), &env)?;
    let (level, detail, _) = line(&report, "backups")?;
    assert_eq!((level.as_str(), detail.as_str()), ("ok", "the last nightly backup is from yesterday"));

    // Without a database, the service has not run with this configuration.
    let (_, report) = doctor(dir.path(), &[("DB_PATH", "/nonexistent/sentinel.db")])?;
    let (level, detail, _) = line(&report, "backups")?;
    assert!(level == "warn" && detail.starts_with("no database at /nonexistent/sentinel.db"), "{detail}");
    Ok(())
}

#[test]
fn doctor_box_a_check_failing_at_start_makes_the_service_degraded_with_its_reason() -> anyhow::Result<()> {
    // A nightly backup already larger than the whole 1 MB budget, and the clock at 01:00
    // local, before the nightly run that would trim it: the disk check fails at start.
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("backups"))?;
    std::fs::write(dir.path().join("backups/sentinel-2026-03-01.db"), vec![0u8; 2 << 20])?;
    let app = crate::harness::Sentinel::start_in(
        dir,
        &[("DATA_MAX_MB", "1"), ("SENTINEL_TEST_NOW", "2026-03-02T07:00:00Z")],
    )?;
    app.eventually("degraded by the disk check", || {
        let health = app.admin("GET", "/health")?;
        Ok(health.json["state"] == "degraded")
    })?;
    let health = app.admin("GET", "/health")?;
    assert_eq!(health.status, 200, "degraded, not failing: {health:?}");
    let reason = health.json["degraded_reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("set-up check failed: disk: data 2."), "{health:?}");
    assert!(reason.contains(" MB of the 1.0 MB budget"), "{health:?}");
    Ok(())
}
