//! Online backups: consistent copies while the service runs, and a restore (APPLIANCE §5.4).
//!
//! The store's nightly housekeeping calls [`nightly`] on its own connection, `sentinel backup`
//! and `sentinel restore` call [`backup_to`] and [`restore`]. Every file is written through
//! `crate::backup::write_then_rename` (a temporary name beside its destination, fsynced and
//! renamed), so a power cut leaves either the old file or the whole new one; the file handling
//! without SQL is in `crate::backup`.

use std::fs::File;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use jiff::civil::Date;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::backup::{lock, nightly_date, nightly_name, remove_if_present, suffixed, take_owner, write_then_rename};

const RUNNING: &str = "the service is running; stop it first (systemctl stop sentinel)";

/// Writes a consistent copy of the open database to `dest` with `VACUUM INTO` into a temporary
/// file in the same directory, fsyncs it and its directory, then renames it into place
/// atomically. Refuses if `dest` exists. Returns the size of the copy in bytes.
pub fn backup_to(conn: &Connection, dest: &Path) -> anyhow::Result<u64> {
    ensure!(!dest.as_os_str().is_empty(), "no backup file given");
    ensure!(!dest.exists(), "{} exists; refusing to overwrite it", dest.display());
    vacuum_into(conn, dest)
}

/// [`backup_to`] without its refusal: an existing `dest` is replaced, atomically.
fn vacuum_into(conn: &Connection, dest: &Path) -> anyhow::Result<u64> {
    write_then_rename(dest, |temp| {
        let target = temp.to_str().with_context(|| format!("{} is not UTF-8", temp.display()))?;
        // VACUUM INTO reads one snapshot, so writers carry on meanwhile, but it never fsyncs.
        conn.execute("VACUUM INTO ?1", [target]).with_context(|| format!("writing {}", temp.display()))?;
        // A backup holds customers' phone numbers: readable by its owner only.
        let owner_only = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(temp, owner_only).with_context(|| format!("restricting {}", temp.display()))
    })?;
    Ok(std::fs::metadata(dest).with_context(|| format!("reading {}", dest.display()))?.len())
}

/// Nightly: writes `<dir>/sentinel-YYYY-MM-DD.db` for `date` and deletes the oldest beyond
/// `keep` (at least one is kept) among files matching that name pattern only. Returns the path
/// written. The store calls it once a date (it keeps the date in the database), so a file of
/// that date already there came from another database, the one a restore replaced, and is
/// replaced in turn: the off-box copy must carry the data now in use.
pub fn nightly(conn: &Connection, dir: &Path, date: Date, keep: usize) -> anyhow::Result<PathBuf> {
    let dest = dir.join(nightly_name(date));
    vacuum_into(conn, &dest)?;
    let written = dest;
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    let mut dated: Vec<(Date, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| Some((nightly_date(entry.file_name().to_str()?)?, entry.path())))
        .collect();
    // The date in the name decides, not the file time: copying files about changes that.
    dated.sort_by_key(|(date, _)| std::cmp::Reverse(*date));
    for (_, old) in dated.iter().skip(keep.max(1)) {
        std::fs::remove_file(old).with_context(|| format!("removing {}", old.display()))?;
        tracing::info!(path = %old.display(), "old nightly backup removed");
    }
    Ok(written)
}

/// Restores `src` over the database at `db_path`. Refuses unless `src` is a SQLite database that
/// passes `PRAGMA integrity_check` and has an `issues` table, and while the service runs (it
/// holds [`hold_database`] or a write transaction). The old `-wal` and `-shm` files go; the copy
/// keeps the old database's owner and mode (on a fresh card, its directory's owner), since
/// `sentinel restore` may run as root.
pub fn restore(src: &Path, db_path: &Path) -> anyhow::Result<()> {
    write_then_rename(db_path, |temp| {
        std::fs::copy(src, temp).with_context(|| format!("copying {}", src.display()))?;
        // Checking the copy rather than `src` puts exactly what passed into place.
        check_backup(temp).with_context(|| format!("refusing to restore {}", src.display()))?;
        take_owner(temp, db_path)?;
        // Returned to be held past the rename, so a service starting meanwhile stops at
        // `hold_database`.
        let lock = refuse_if_running(db_path)?;
        remove_if_present(&suffixed(db_path, "-wal"))?;
        remove_if_present(&suffixed(db_path, "-shm"))?;
        Ok(lock)
    })?;
    tracing::info!(from = %src.display(), to = %db_path.display(), "database restored");
    Ok(())
}

/// Errors while the service runs on `db_path`, as [`restore`] would, before a long download.
pub fn ensure_stopped(db_path: &Path) -> anyhow::Result<()> {
    if db_path.parent().is_some_and(|dir| !dir.as_os_str().is_empty() && !dir.exists()) {
        return Ok(());
    }
    refuse_if_running(db_path).map(drop)
}

/// Errors while the service runs; the returned lock keeps it from starting until dropped.
fn refuse_if_running(db_path: &Path) -> anyhow::Result<File> {
    let lock = lock(db_path)?.context(RUNNING)?;
    if !db_path.exists() {
        return Ok(lock);
    }
    // The lock file finds the service between writes; an exclusive transaction finds any
    // writer, such as an older binary or the sqlite3 shell.
    let probe = Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .with_context(|| format!("opening {}", db_path.display()))?;
    probe.busy_timeout(Duration::ZERO)?;
    let Err(err) = probe.execute_batch("BEGIN EXCLUSIVE; ROLLBACK;") else { return Ok(lock) };
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => bail!(RUNNING),
        // A damaged database is what restores are for, and nothing can be writing to it.
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Ok(lock),
        _ => Err(err).with_context(|| format!("checking whether the service is using {}", db_path.display())),
    }
}

/// Whether the copy at `path` is a whole Sentinel database.
fn check_backup(path: &Path) -> anyhow::Result<()> {
    let path = path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))?;
    // `immutable=1`: no locks and no -wal or -shm beside the copy; only its own bytes are read.
    let uri = format!("file:{}?immutable=1", path.replace('%', "%25").replace('?', "%3f").replace('#', "%23"));
    let conn = Connection::open_with_flags(uri, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)?;
    let check: String =
        conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).context("not a SQLite database")?;
    ensure!(check == "ok", "the database is damaged (integrity_check: {check})");
    let sql = "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'issues')";
    let has_issues: bool = conn.query_row(sql, [], |row| row.get(0)).context("reading the schema")?;
    ensure!(has_issues, "not a Sentinel database (no issues table)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::backup::{DEFAULT_KEEP, hold_database};

    /// A WAL database like the service's with `rows` more issues, the newest still in the WAL.
    fn database(path: &Path, rows: i64) -> anyhow::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS issues (id INTEGER PRIMARY KEY, phone TEXT)")?;
        for id in 0..rows {
            conn.execute("INSERT INTO issues (phone) VALUES (?1)", [format!("+1555000{id:04}")])?;
        }
        Ok(conn)
    }

    fn count(path: &Path) -> anyhow::Result<i64> {
        Ok(Connection::open(path)?.query_row("SELECT count(*) FROM issues", [], |row| row.get(0))?)
    }

    fn message<T>(result: anyhow::Result<T>) -> String {
        result.err().map(|err| format!("{err:#}")).unwrap_or_default()
    }

    #[test]
    fn a_backup_of_a_live_wal_database_is_whole_and_never_overwrites() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let conn = database(&dir.path().join("sentinel.db"), 50)?;
        let dest = dir.path().join("copy.db");
        assert!(backup_to(&conn, &dest)? > 0);
        assert_eq!(count(&dest)?, 50);
        let check: String = Connection::open(&dest)?.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        assert_eq!(check, "ok");
        std::fs::write(&dest, "precious")?;
        assert!(message(backup_to(&conn, &dest)).contains("exists"));
        assert_eq!(std::fs::read_to_string(&dest)?, "precious");
        // `sentinel backup` reads through a read-only connection.
        let reader = Connection::open_with_flags(dir.path().join("sentinel.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        backup_to(&reader, &dir.path().join("second.db"))?;
        assert_eq!(count(&dir.path().join("second.db"))?, 50);
        Ok(())
    }

    #[test]
    fn nightly_keeps_the_newest_seven_and_replaces_a_stale_one_and_touches_nothing_else() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let conn = database(&dir.path().join("sentinel.db"), 3)?;
        let others = ["notes.txt", "sentinel-latest.db", "sentinel-2026-3-1.db", "sentinel-2026-02-01.db.bak"];
        for other in others {
            std::fs::write(dir.path().join(other), "not a nightly backup")?;
        }
        for day in 1..=9 {
            let written = nightly(&conn, dir.path(), Date::new(2026, 3, day)?, DEFAULT_KEEP)?;
            assert_eq!(written, dir.path().join(format!("sentinel-2026-03-0{day}.db")));
        }
        // A file of that date from the database a restore replaced gives way to the one in use.
        std::fs::write(dir.path().join("sentinel-2026-03-09.db"), "the replaced database")?;
        nightly(&conn, dir.path(), Date::new(2026, 3, 9)?, DEFAULT_KEEP)?;
        assert_eq!(count(&dir.path().join("sentinel-2026-03-09.db"))?, 3);
        drop(conn);
        let names: BTreeSet<String> =
            std::fs::read_dir(dir.path())?.flatten().map(|entry| entry.file_name().to_string_lossy().into()).collect();
        let nightlies = (3..=9).map(|day| format!("sentinel-2026-03-0{day}.db"));
        let expected: BTreeSet<String> =
            nightlies.chain(others.map(String::from)).chain(["sentinel.db".into()]).collect();
        assert_eq!(names, expected);
        Ok(())
    }

    #[test]
    fn restore_refuses_what_is_not_a_sentinel_database() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let db_path = dir.path().join("sentinel.db");
        drop(database(&db_path, 2)?);
        let text = dir.path().join("notes.db");
        std::fs::write(&text, "a shopping list, long enough to be taken for a database header")?;
        assert!(message(restore(&text, &db_path)).contains("not a SQLite database"));
        let other = dir.path().join("other.db");
        Connection::open(&other)?.execute_batch("CREATE TABLE contacts (id INTEGER PRIMARY KEY)")?;
        assert!(message(restore(&other, &db_path)).contains("no issues table"));
        assert!(restore(&dir.path().join("missing.db"), &db_path).is_err());
        assert_eq!(count(&db_path)?, 2, "the database is untouched");
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 3, "no partial file is left");
        Ok(())
    }

    #[test]
    fn restore_refuses_while_the_service_runs_and_succeeds_after() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let db_path = dir.path().join("sentinel.db");
        let backup = dir.path().join("backup.db");
        backup_to(&database(&db_path, 4)?, &backup)?;
        let service = database(&db_path, 6)?;
        service.execute_batch("BEGIN IMMEDIATE")?;
        assert_eq!(message(restore(&backup, &db_path)), RUNNING);
        service.execute_batch("ROLLBACK")?;
        // Between writes the service is known by its lock file.
        let held = hold_database(&db_path)?;
        assert_eq!(message(restore(&backup, &db_path)), RUNNING);
        assert!(hold_database(&db_path).is_err(), "one service per database");
        drop((held, service));
        assert_eq!(count(&db_path)?, 10);
        restore(&backup, &db_path)?;
        assert_eq!(count(&db_path)?, 4);
        // A damaged database, and a stale WAL beside it, give way to the backup too.
        std::fs::write(&db_path, vec![0x5a; 8192])?;
        std::fs::write(dir.path().join("sentinel.db-wal"), "stale")?;
        restore(&backup, &db_path)?;
        assert_eq!(count(&db_path)?, 4);
        Ok(())
    }
}
