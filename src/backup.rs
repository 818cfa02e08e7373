//! Online backups (APPLIANCE §5.4): a consistent copy while the service runs, kept nightly,
//! and a restore that refuses while the service holds the database.
//!
//! A backup is `VACUUM INTO` a temporary file beside the destination, fsynced, then renamed
//! into place, so a crash mid-backup never leaves a half file under the real name.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use jiff::civil::Date;
use rusqlite::{Connection, OpenFlags};

/// Writes a consistent copy of the open database to `dest`; returns its size in bytes.
pub fn backup_to(conn: &Connection, dest: &Path) -> anyhow::Result<u64> {
    if dest.exists() {
        bail!("{} exists; choose a new file name", dest.display());
    }
    let dir = match dest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = dest.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "backup".into());
    let temp = dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_file(&temp);
    conn.execute("VACUUM INTO ?1", [temp.to_string_lossy()]).with_context(|| format!("writing {}", temp.display()))?;
    std::fs::File::open(&temp)?.sync_all()?;
    std::fs::rename(&temp, dest).with_context(|| format!("renaming into {}", dest.display()))?;
    // The rename is durable only once the directory is.
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(std::fs::metadata(dest)?.len())
}

/// The nightly backup: `<dir>/sentinel-YYYY-MM-DD.db`, unless it exists; keeps the newest
/// `keep` of those files and deletes older ones. Returns the file written.
pub fn nightly(conn: &Connection, dir: &Path, date: Date, keep: usize) -> anyhow::Result<Option<PathBuf>> {
    let dest = dir.join(format!("sentinel-{date}.db"));
    let written = if dest.exists() { None } else { Some(backup_to(conn, &dest).map(|_| dest)?) };
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("sentinel-"))
                .and_then(|n| n.strip_suffix(".db"))
                .is_some_and(|date| date.parse::<Date>().is_ok())
        })
        .collect();
    // The names sort by date.
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    for old in &backups[..excess] {
        std::fs::remove_file(old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(written)
}

/// Replaces the database at `db_path` with the backup `src`: refuses a file that is not a
/// healthy Sentinel database, and refuses while the service holds the database.
pub fn restore(src: &Path, db_path: &Path) -> anyhow::Result<()> {
    let backup = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", src.display()))?;
    let check: String = backup
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .with_context(|| format!("{} is not a SQLite database", src.display()))?;
    if check != "ok" {
        bail!("{} is damaged (integrity_check: {check})", src.display());
    }
    let has_issues: bool =
        backup.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'issues')", [], |row| row.get(0))?;
    if !has_issues {
        bail!("{} is not a Sentinel database (no issues table)", src.display());
    }
    drop(backup);
    if db_path.exists() {
        let live = Connection::open(db_path)?;
        live.busy_timeout(std::time::Duration::ZERO)?;
        // The running service holds the database whenever it writes; EXCLUSIVE also waits for
        // its readers. Failing here means it is running.
        if live.execute_batch("BEGIN EXCLUSIVE; ROLLBACK;").is_err() || service_listening(db_path) {
            bail!("the service is running; stop it first (systemctl stop sentinel)");
        }
    }
    let dir = db_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let temp = dir.join(".restore.partial");
    std::fs::copy(src, &temp).with_context(|| format!("copying {}", src.display()))?;
    std::fs::File::open(&temp)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db_path.display()));
    }
    std::fs::rename(&temp, db_path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The running service holds an exclusive lock on a file beside its database for its whole
/// life (see [`hold_database`]); the kernel drops it when the process dies, even by SIGKILL.
fn service_listening(db_path: &Path) -> bool {
    let Ok(file) =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(lock_path(db_path))
    else {
        return false;
    };
    file.try_lock().is_err()
}

fn lock_path(db_path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", db_path.display()))
}

/// Takes the service's lock on `db_path`; an error means another Sentinel is running on it.
/// Keep the returned file open for as long as the service runs.
pub fn hold_database(db_path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = db_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let path = lock_path(db_path);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if file.try_lock().is_err() {
        bail!("another sentinel is already running on {}", db_path.display());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;

    fn database(dir: &Path) -> anyhow::Result<Connection> {
        let conn = schema::open(&dir.join("sentinel.db"))?;
        conn.execute("INSERT INTO kv (key, value) VALUES ('k', 'v')", [])?;
        Ok(conn)
    }

    #[test]
    fn a_backup_is_a_consistent_copy() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let conn = database(dir.path())?;
        let dest = dir.path().join("copies/backup.db");
        assert!(backup_to(&conn, &dest)? > 0);
        let copy = Connection::open(&dest)?;
        let value: String = copy.query_row("SELECT value FROM kv WHERE key = 'k'", [], |r| r.get(0))?;
        assert_eq!(value, "v");
        let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        assert_eq!(check, "ok");
        assert!(backup_to(&conn, &dest).is_err(), "never overwrites");
        Ok(())
    }

    #[test]
    fn nightly_keeps_the_newest_seven() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let conn = database(dir.path())?;
        let backups = dir.path().join("backups");
        std::fs::create_dir_all(&backups)?;
        std::fs::write(backups.join("notes.txt"), "keep me")?;
        for day in 1..=9 {
            nightly(&conn, &backups, Date::new(2026, 11, day)?, 7)?;
        }
        assert!(nightly(&conn, &backups, Date::new(2026, 11, 9)?, 7)?.is_none(), "once a night");
        let mut names: Vec<String> = std::fs::read_dir(&backups)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        assert_eq!(names.len(), 8, "{names:?}");
        assert_eq!(names[0], "notes.txt");
        assert_eq!(names[1], "sentinel-2026-11-03.db");
        Ok(())
    }

    #[test]
    fn restore_refuses_foreign_files_and_a_running_service() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let conn = database(dir.path())?;
        let backup = dir.path().join("backup.db");
        backup_to(&conn, &backup)?;
        let db_path = dir.path().join("sentinel.db");
        let text = dir.path().join("text.db");
        std::fs::write(&text, "not a database at all, just text that goes on")?;
        assert!(restore(&text, &db_path).is_err());
        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)?.execute_batch("CREATE TABLE other (id INTEGER)")?;
        assert!(format!("{:#}", restore(&foreign, &db_path).expect_err("foreign")).contains("not a Sentinel database"));
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let busy = restore(&backup, &db_path).expect_err("busy");
        assert!(format!("{busy:#}").contains("the service is running"), "{busy:#}");
        conn.execute_batch("ROLLBACK")?;
        drop(conn);
        restore(&backup, &db_path)?;
        let restored = Connection::open(&db_path)?;
        let value: String = restored.query_row("SELECT value FROM kv WHERE key = 'k'", [], |r| r.get(0))?;
        assert_eq!(value, "v");
        Ok(())
    }
}
