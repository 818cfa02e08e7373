//! The files of backups (APPLIANCE §5.4), without SQL: writing a file whole or not at all
//! ([`write_then_rename`]), the nightly copies' names, sizes and trimming, the lock that says
//! the service runs on a database ([`hold_database`], which `app.rs` holds for as long as it
//! runs), and the room on the data partition. The copies themselves (`VACUUM INTO`), the
//! restore and its checks are SQL, so they are in `db::backup`, which builds on these.

use std::fs::{File, TryLockError};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use jiff::civil::Date;

/// How many nightly backups [`nightly`] keeps when the caller has no reason to choose.
pub const DEFAULT_KEEP: usize = 7;

/// The filesystem holding `dir`: its size, and the bytes free to an unprivileged writer.
// The statvfs fields are 64-bit here but not on every target (32-bit ARM).
#[allow(clippy::useless_conversion)]
pub fn filesystem_space(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt as _;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statvfs is a valid buffer for statvfs to fill.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a pointer to a local buffer.
    let read = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    let block = u64::from(stat.f_frsize);
    (read == 0)
        .then(|| (u64::from(stat.f_blocks).saturating_mul(block), u64::from(stat.f_bavail).saturating_mul(block)))
}

/// Bytes the nightly backups in `dir` take.
pub fn nightly_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| entry.file_name().to_str().is_some_and(|name| nightly_date(name).is_some()))
                .filter_map(|entry| entry.metadata().ok())
                .map(|meta| meta.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Deletes the oldest nightly backups in `dir` while they take more than `limit` bytes, keeping
/// the newest one whatever its size; returns how many went.
pub fn trim_nightly(dir: &Path, limit: u64) -> anyhow::Result<usize> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    let mut dated: Vec<(Date, PathBuf, u64)> = entries
        .flatten()
        .filter_map(|entry| {
            let date = nightly_date(entry.file_name().to_str()?)?;
            Some((date, entry.path(), entry.metadata().ok()?.len()))
        })
        .collect();
    dated.sort_by_key(|(date, _, _)| *date);
    let mut total: u64 = dated.iter().map(|(_, _, size)| size).sum();
    let mut removed = 0;
    for (_, old, size) in dated.iter().take(dated.len().saturating_sub(1)) {
        if total <= limit {
            break;
        }
        std::fs::remove_file(old).with_context(|| format!("removing {}", old.display()))?;
        tracing::info!(path = %old.display(), "nightly backup removed to keep within DATA_MAX_MB");
        total -= size;
        removed += 1;
    }
    Ok(removed)
}

/// Writes `bytes` to `dest` as [`restore`] writes a database: in full or not at all, with the
/// old file's owner (else its directory's), readable by that owner only: it holds secrets (the
/// env file). Creates the directory.
pub fn install_file(dest: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = dest.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_then_rename(dest, |temp| {
        std::fs::write(temp, bytes).with_context(|| format!("writing {}", temp.display()))?;
        take_owner(temp, dest)?;
        std::fs::set_permissions(temp, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", temp.display()))
    })
}

/// Refuses to run as root on a data directory another user owns (the service user's, on a
/// hand-installed box): that user can plant links there for root to write through, and files
/// root left there would be root's, which the service could not rewrite. `command` is what to
/// run as that user instead, e.g. `restore`. On the image the launcher has already switched to
/// the service user (README "Updates").
pub fn refuse_root_over(data_dir: &Path, command: &str) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    match std::fs::metadata(data_dir) {
        Ok(meta) if euid == 0 && meta.uid() != 0 => anyhow::bail!(
            "{} belongs to another user (uid {}); run this as that user, e.g. sudo -u sentinel sentinel {command} …",
            data_dir.display(),
            meta.uid()
        ),
        _ => Ok(()),
    }
}

/// The newest nightly backup in `dir` and its date.
pub fn newest_nightly(dir: &Path) -> Option<(Date, PathBuf)> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries.flatten().filter_map(|entry| Some((nightly_date(entry.file_name().to_str()?)?, entry.path()))).max()
}

/// Gives `temp` the owner and mode of `dest`, or when there is no `dest` yet (a fresh card),
/// the owner of its directory: `sentinel restore` may run as root for a service that does not.
pub(crate) fn take_owner(temp: &Path, dest: &Path) -> anyhow::Result<()> {
    let given = match std::fs::metadata(dest) {
        Ok(old) => std::fs::set_permissions(temp, old.permissions())
            .and_then(|()| std::os::unix::fs::chown(temp, Some(old.uid()), Some(old.gid()))),
        Err(_) => {
            let dir = dest.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
            match std::fs::metadata(dir) {
                Ok(dir) if std::fs::metadata(temp).is_ok_and(|temp| temp.uid() != dir.uid()) => {
                    std::os::unix::fs::chown(temp, Some(dir.uid()), Some(dir.gid()))
                }
                _ => Ok(()),
            }
        }
    };
    given.with_context(|| format!("giving {} the owner of {}", temp.display(), dest.display()))
}

/// Takes the lock that says the service runs on `db_path` (the file `<db_path>.lock`, which
/// [`restore`] checks) and creates the directory. Keep the file open while the service runs;
/// the kernel drops the lock when the process ends, even by SIGKILL. Errors if it is taken.
pub fn hold_database(db_path: &Path) -> anyhow::Result<File> {
    if let Some(dir) = db_path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    lock(db_path)?.with_context(|| format!("another sentinel is already running on {}", db_path.display()))
}

/// `<db_path>.lock`, locked, or `None` when another process holds it.
pub(crate) fn lock(db_path: &Path) -> anyhow::Result<Option<File>> {
    let path = suffixed(db_path, ".lock");
    let file = File::options().write(true).create(true).truncate(false).open(&path);
    let file = file.with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(err)) => Err(err).with_context(|| format!("locking {}", path.display())),
    }
}

pub(crate) fn nightly_name(date: Date) -> String {
    format!("sentinel-{date}.db")
}

/// The date in a name [`nightly`] writes; `None` for any other file.
pub(crate) fn nightly_date(name: &str) -> Option<Date> {
    let date: Date = name.strip_prefix("sentinel-")?.strip_suffix(".db")?.parse().ok()?;
    (nightly_name(date) == name).then_some(date)
}

/// `path` with `suffix` appended to its file name, as SQLite names `-wal` and `-shm`.
pub(crate) fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub(crate) fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Runs `write` on `<dest>.partial`, fsyncs that, renames it to `dest` and fsyncs the directory
/// so that the rename survives a power cut too. The partial file goes if anything fails.
pub(crate) fn write_then_rename<T>(dest: &Path, write: impl FnOnce(&Path) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let temp = suffixed(dest, ".partial");
    // Left over from a crash: VACUUM INTO refuses to write over it.
    remove_if_present(&temp)?;
    let sync = |path: &Path| File::open(path).and_then(|file| file.sync_all());
    let written = write(&temp).and_then(|value| {
        sync(&temp).with_context(|| format!("syncing {}", temp.display()))?;
        std::fs::rename(&temp, dest).with_context(|| format!("renaming into {}", dest.display()))?;
        Ok(value)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    let value = written?;
    let dir = dest.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    sync(dir).with_context(|| format!("syncing {}", dir.display()))?;
    Ok(value)
}
