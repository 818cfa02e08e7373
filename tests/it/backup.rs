//! Backups while webhooks arrive, and a restore that refuses while the service runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::harness::{SECRET, Sentinel, command, request};

fn cli(app_db: &std::path::Path, args: &[&str]) -> anyhow::Result<(bool, String)> {
    let output = command().args(args).env_clear().env("DB_PATH", app_db).output()?;
    Ok((
        output.status.success(),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    ))
}

#[test]
fn a_backup_taken_under_load_holds_every_event_acknowledged_before_it() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let before: Vec<String> = (0..50).map(|n| format!("before-{n}")).collect();
    for id in &before {
        let body =
            json!({ "type": "InboundMessage", "messageId": id, "contactId": "c1", "messageType": "SMS", "body": "hi" });
        assert_eq!(app.webhook("", &body.to_string())?.status, 200);
    }
    let running = Arc::new(AtomicBool::new(true));
    let load = {
        let (addr, running) = (app.webhook_addr.clone(), running.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while running.load(Ordering::Relaxed) {
                let body = json!({ "type": "InboundMessage", "messageId": format!("during-{n}"), "contactId": "c2", "messageType": "SMS", "body": "hi" });
                let _ =
                    request(&addr, "POST", "/webhook/ghl", &[("X-NTPP-Secret", SECRET)], body.to_string().as_bytes());
                n += 1;
            }
        })
    };
    let copy = app.dir().join("copy.db");
    let (ok, out) = cli(&app.db_path(), &["backup", &copy.display().to_string()])?;
    running.store(false, Ordering::Relaxed);
    let _ = load.join();
    assert!(ok, "{out}");
    let backup = rusqlite::Connection::open(&copy)?;
    let check: String = backup.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(check, "ok");
    for id in &before {
        let found: i64 = backup.query_row(
            "SELECT COUNT(*) FROM raw_events WHERE idem_key = ?1",
            [format!("message:{id}")],
            |r| r.get(0),
        )?;
        assert_eq!(found, 1, "{id} missing from the backup");
    }

    // Restoring over a running service is refused; after a stop it works.
    let (ok, out) = cli(&app.db_path(), &["restore", &copy.display().to_string()])?;
    assert!(!ok && out.contains("the service is running"), "{out}");
    let db_path = app.db_path();
    let (_, dir) = app.stop()?;
    let (ok, out) = cli(&db_path, &["restore", &copy.display().to_string()])?;
    assert!(ok, "{out}");
    let app = Sentinel::start_in(dir, &[])?;
    assert!(app.count("SELECT COUNT(*) FROM raw_events WHERE idem_key LIKE 'message:before-%'")? == 50);
    Ok(())
}

#[test]
fn two_services_cannot_share_one_database() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let db = app.db_path().display().to_string();
    let second = command()
        .env_clear()
        .env("DB_PATH", &db)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("ADMIN_LISTEN_ADDR", "127.0.0.1:0")
        .env("WEBHOOK_SECRET", SECRET)
        .output()?;
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another sentinel is already running"));
    Ok(())
}

#[test]
fn a_nightly_backup_is_written_once_at_two_in_the_morning() -> anyhow::Result<()> {
    // Tuesday 2026-03-03 01:59 CST.
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", "2026-03-03T07:59:00Z")])?;
    let nightly = app.dir().join("backups/sentinel-2026-03-03.db");
    assert!(!nightly.exists());
    app.set_clock("2026-03-03T08:00:00Z")?;
    app.eventually("the nightly backup", || Ok(nightly.exists()))?;
    let check: String = rusqlite::Connection::open(&nightly)?.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(check, "ok");
    app.set_clock("2026-03-03T09:00:00Z")?;
    assert_eq!(std::fs::read_dir(app.dir().join("backups"))?.count(), 1, "once a night");
    Ok(())
}
