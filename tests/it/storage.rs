//! A full SD card (issue 15): the data directory on a small filesystem the test mounts (a
//! size-limited tmpfs; CI runs as root). While it is full every webhook gets 503 and nothing
//! acknowledged is lost; `/health` says why, the managers hear once, and the service takes
//! webhooks again as soon as space returns, without a restart.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::fake_ghl::FakeGhl;
use crate::harness::{Sentinel, request, with_ghl};

/// A tmpfs of `megabytes`, unmounted when dropped.
pub(crate) struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    pub(crate) fn mount(megabytes: u32) -> anyhow::Result<SmallDisk> {
        let dir = tempfile::tempdir()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m,mode=0700"), "tmpfs"])
            .arg(dir.path())
            .output()?;
        anyhow::ensure!(
            mounted.status.success(),
            "mounting a small tmpfs needs root (CI runs as root): {}",
            String::from_utf8_lossy(&mounted.stderr)
        );
        Ok(SmallDisk { dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fills the disk to the brim, then gives `leave` bytes back.
pub(crate) fn fill(disk: &SmallDisk, leave: u64) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    let filler = disk.path().join("filler");
    let mut file = std::fs::File::create(&filler)?;
    let chunk = vec![0u8; 16 * 1024];
    let mut written = 0u64;
    while file.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    file.set_len(written.saturating_sub(leave))?;
    Ok(filler)
}

#[test]
fn a_full_card_refuses_webhooks_says_why_and_recovers_without_losing_one() -> anyhow::Result<()> {
    let disk = SmallDisk::mount(8)?;
    let ghl = FakeGhl::start()?;
    let db = disk.path().join("sentinel.db");
    let db_path = db.display().to_string();
    let app = with_ghl(&ghl)
        .without("GHL_LOCATION_ID")
        .and(&[
            ("DB_PATH", db_path.as_str()),
            ("MANAGER_CONTACT_IDS", "m1"),
            ("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z"),
        ])
        .start()?;
    let filler = fill(&disk, 48 * 1024)?;
    let text = "x".repeat(2000);
    let mut accepted = Vec::new();
    let mut refused = 0;
    for n in 0..400 {
        let body = json!({ "contact_id": format!("c{n}"), "message": { "body": text } }).to_string();
        let answer = app.webhook("inbound_sms", &body)?;
        match answer.status {
            200 => accepted.push(format!("c{n}")),
            503 => {
                refused += 1;
                if refused >= 5 {
                    break;
                }
            }
            other => anyhow::bail!("unexpected {other}: {answer:?}"),
        }
    }
    assert!(refused >= 5, "the disk never filled ({} accepted)", accepted.len());
    let health = request(&app.webhook_addr, "GET", "/health", &[], b"")?;
    assert_eq!(health.status, 503, "{health:?}\n{}", app.log());
    assert!(health.json["reason"].as_str().unwrap_or_default().contains("data partition is full"), "{health:?}");
    let storage_notices =
        || ghl.sends().iter().filter(|s| s["message"].as_str().unwrap_or_default().contains("storage is full")).count();
    app.eventually("managers are told", || Ok(storage_notices() == 1))?;
    // Still full: more refusals, but no second notice, and the process keeps running.
    for n in 0..3 {
        let body = json!({ "contact_id": format!("late{n}"), "message": { "body": text } }).to_string();
        assert_eq!(app.webhook("inbound_sms", &body)?.status, 503);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(storage_notices(), 1);

    // Space returns: webhooks are taken again at once, and /health is well.
    std::fs::remove_file(&filler)?;
    let after = app.webhook("inbound_sms", r#"{"contact_id":"after","message":{"body":"back?"}}"#)?;
    assert_eq!(after.status, 200, "{after:?}");
    let health = request(&app.webhook_addr, "GET", "/health", &[], b"")?;
    assert_eq!(health.status, 200, "{health:?}");
    // Nothing acknowledged was lost.
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    for contact in accepted.iter().chain(std::iter::once(&"after".to_string())) {
        let stored: i64 =
            conn.query_row("SELECT COUNT(*) FROM issues WHERE contact_id = ?1", [contact], |row| row.get(0))?;
        assert_eq!(stored, 1, "{contact} got 200 but is not stored");
    }
    Ok(())
}

#[test]
fn sentinel_never_fills_the_card_itself() -> anyhow::Result<()> {
    // A 1 MB budget: the database may keep a quarter of it, the backups the rest.
    let app = Sentinel::start(&[("DATA_MAX_MB", "1"), ("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")])?;
    let text = "y".repeat(1500);
    for n in 0..600 {
        // One customer, many texts: the issue stays small, the raw events grow.
        let body = json!({ "contact_id": "talker", "message": { "body": format!("{n} {text}") } }).to_string();
        assert_eq!(app.webhook("inbound_sms", &body)?.status, 200);
    }
    let before = app.count("SELECT COUNT(*) FROM raw_events")?;
    assert_eq!(before, 600);
    // The nightly run (02:00 local) prunes the oldest raw events to fit, backs up, and trims
    // the backups; it records the date when all of that is done. These events are less than a
    // day old, so they keep their rows and duplicate keys (a replay of a GHL-signed event must
    // still meet them, issue 23) and lose their bodies, oldest first.
    app.set_clock("2026-03-03T08:30:00Z")?;
    app.eventually("the nightly run done", || {
        Ok(app.count("SELECT COUNT(*) FROM kv WHERE key = 'last_backup_date' AND value = '2026-03-03'")? == 1)
    })?;
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, before, "a day's events keep their keys");
    assert!(app.count("SELECT COUNT(*) FROM raw_events WHERE body = ''")? > 0, "pruned to fit");
    let used = app.count(
        "SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM pragma_freelist_count)",
    )? * app.count("SELECT page_size FROM pragma_page_size")?;
    assert!(used <= 256 * 1024, "the database takes {used} bytes");
    assert_eq!(app.count("SELECT inbound_count FROM issues WHERE contact_id = 'talker'")?, 600, "the record stays");
    assert!(app.dir().join("backups/sentinel-2026-03-03.db").exists());
    let backups: u64 = std::fs::read_dir(app.dir().join("backups"))?
        .flatten()
        .filter_map(|entry| entry.metadata().ok())
        .map(|meta| meta.len())
        .sum();
    assert!(backups + used as u64 <= 1 << 20, "backups {backups} + database {used} exceed 1 MB");
    let status = app.admin("GET", "/status")?;
    assert!(status.text.contains("of 1 MB (DATA_MAX_MB"), "{}", status.text);
    Ok(())
}

#[test]
fn the_update_slots_and_the_pre_update_backup_count_toward_data_max_mb() -> anyhow::Result<()> {
    const MB: u64 = 1 << 20;
    let app = Sentinel::start(&[("DATA_MAX_MB", "4"), ("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")])?;
    // What updates left on the data partition: the active slot a, the previous version in b,
    // the pre-update backup, and a download an interrupted update left: 4.1 MB of a 4 MB budget.
    let slots = app.dir().join("slots");
    for sub in ["a", "b"] {
        std::fs::create_dir_all(slots.join(sub))?;
    }
    let planted =
        [("a/sentinel", 3 * MB / 2), ("b/sentinel", 3 * MB / 2), ("pre-update.db", MB), ("download.part", MB / 10)];
    for (name, size) in planted {
        std::fs::write(slots.join(name), vec![0u8; size as usize])?;
    }
    std::os::unix::fs::symlink("a", slots.join("current"))?;
    let used = |app: &Sentinel| -> anyhow::Result<u64> {
        let status = app.admin("GET", "/api/status")?.json;
        Ok(status["data_bytes"][0].as_u64().unwrap_or_default())
    };
    assert!(used(&app)? > 4 * MB, "the slots count: {} bytes", used(&app)?);
    let page = app.admin("GET", "/status")?.text;
    assert!(page.contains("MB used of 4 MB (DATA_MAX_MB: the database, its backups and the update slots)"), "{page}");
    // The nightly run frees what no rollback needs, least needed first: the leftover download,
    // then the slot that is not active. The active slot and the pre-update backup stay.
    app.set_clock("2026-03-03T08:30:00Z")?;
    app.eventually("the nightly run done", || {
        Ok(app.count("SELECT COUNT(*) FROM kv WHERE key = 'last_backup_date' AND value = '2026-03-03'")? == 1)
    })?;
    assert!(!slots.join("download.part").exists(), "the leftover download is kept");
    assert!(!slots.join("b").exists(), "the inactive slot is kept");
    assert!(slots.join("a/sentinel").exists(), "the active slot's binary went");
    assert!(slots.join("pre-update.db").exists(), "more went than needed");
    assert!(app.dir().join("backups/sentinel-2026-03-03.db").exists(), "the nightly backup is there");
    assert!(used(&app)? <= 4 * MB, "still over the budget: {} bytes", used(&app)?);
    Ok(())
}
