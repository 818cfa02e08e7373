//! The off-box copy (issue 15): each nightly backup, sealed together with the env file, in an
//! S3-compatible bucket, and a restore from there onto a fresh card.
//!
//! After the nightly backup the summary sender asks [`Record::due`] whether the newest local
//! backup still has to go off the box, runs [`upload_nightly`] on a blocking thread, and keeps
//! the [`Record`] of what happened in the database (through the store) and in [`Uploads`],
//! which `/status` reads. A failed upload is retried on later wakes with growing pauses, at most
//! [`ATTEMPTS_MAX`] times for one night's copy. `sentinel restore` calls [`restore`] and
//! `sentinel offbox list` calls [`list`]. `sealed` owns the file format, `bucket` the requests;
//! `backup` still owns every local file swap.

pub(crate) mod bucket;
pub mod sealed;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::{Context as _, bail, ensure};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

pub use bucket::{Bucket, BucketUrl, Object};

use crate::config::{Config, OffboxConfig, Secret};

/// The kv entry holding the [`Record`], as JSON.
pub const RECORD_KEY: &str = "offbox_record";

/// What the nightly upload did last, kept across restarts and shown on `/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The date of the newest nightly backup now in the bucket.
    pub uploaded_date: Option<Date>,
    /// When the last upload succeeded.
    pub last_success_at: Option<Timestamp>,
    /// The object it wrote.
    pub last_object: Option<String>,
    /// Its size in bytes.
    pub last_bytes: Option<u64>,
    /// The date of the nightly backup that failed to go up, while it is still waiting.
    pub failing_date: Option<Date>,
    /// How many attempts at that backup failed.
    pub failures: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the last attempt failed.
    pub last_failure_at: Option<Timestamp>,
    /// When the next attempt is due, unless the attempts are used up.
    pub next_try_at: Option<Timestamp>,
}

/// The record as the running service knows it, for the status page.
#[derive(Debug, Default)]
pub struct Uploads {
    enabled: bool,
    record: Mutex<Record>,
    /// Set while an upload runs; here rather than in the summary sender's state, so that a
    /// restarted sender cannot start a second upload beside one still running.
    busy: std::sync::atomic::AtomicBool,
}

/// What one upload did.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The object's key.
    pub object: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Older copies deleted beyond `OFFBOX_KEEP`.
    pub removed: usize,
}

/// What [`restore`] put back.
#[derive(Debug)]
pub struct Restored {
    /// `endpoint/bucket/key` of the copy.
    pub from: String,
    /// The database written.
    pub database: PathBuf,
    /// The env file written, if the copy had one.
    pub env_file: Option<PathBuf>,
    /// What the copy says about itself.
    pub manifest: sealed::Manifest,
    /// How `latest` was chosen, and copies whose names disagree with what they hold, one
    /// sentence each.
    pub notes: Vec<String>,
}

/// Attempts at one night's copy before waiting for the next night's.
pub const ATTEMPTS_MAX: u32 = 6;

/// The pause after the `failures`-th failed attempt: 15 min, 30 min, 1 h, 2 h, 4 h, then none.
pub fn retry_after(failures: u32) -> Option<SignedDuration> {
    (1..ATTEMPTS_MAX).contains(&failures).then(|| SignedDuration::from_mins(15 << (failures - 1)))
}

impl Record {
    /// Whether the nightly backup of `newest` should go up now.
    pub fn due(&self, newest: Date, now: Timestamp) -> bool {
        if self.uploaded_date.is_some_and(|done| done >= newest) {
            return false;
        }
        // A newer night's backup starts afresh; the same one waits for its next try.
        self.failing_date != Some(newest) || self.next_try_at.is_some_and(|at| at <= now)
    }

    /// Notes a successful upload of the backup of `date`.
    pub fn succeeded(&mut self, date: Date, uploaded: &Uploaded, now: Timestamp) {
        *self = Record {
            uploaded_date: Some(date),
            last_success_at: Some(now),
            last_object: Some(uploaded.object.clone()),
            last_bytes: Some(uploaded.bytes),
            ..Record::default()
        };
    }

    /// Notes a failed attempt at the backup of `date`, and when to try again.
    pub fn failed(&mut self, date: Date, error: String, now: Timestamp) {
        if self.failing_date != Some(date) {
            self.failing_date = Some(date);
            self.failures = 0;
        }
        self.failures += 1;
        self.last_error = Some(error);
        self.last_failure_at = Some(now);
        self.next_try_at = retry_after(self.failures).map(|pause| now + pause);
    }
}

impl Uploads {
    /// Empty; `enabled` when `OFFBOX_URL` is set.
    pub fn new(enabled: bool) -> Uploads {
        Uploads { enabled, record: Mutex::default(), busy: Default::default() }
    }

    /// Claims the one upload slot; false while another upload runs.
    pub fn begin(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.busy.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    /// Gives the upload slot back.
    pub fn end(&self) {
        self.busy.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the nightly upload is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The record now.
    pub fn record(&self) -> Record {
        self.record.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces the record.
    pub fn set(&self, record: Record) {
        *self.record.lock().unwrap_or_else(PoisonError::into_inner) = record;
    }

    /// The record when the upload is on, for the status page.
    pub fn status(&self) -> Option<Record> {
        self.enabled.then(|| self.record())
    }
}

/// `sentinel-YYYY-MM-DD.offbox`: the object name of a night's copy.
pub fn object_name(date: Date) -> String {
    format!("sentinel-{date}.offbox")
}

/// The date in an object name [`object_name`] gives; `None` for any other object.
fn object_date(name: &str) -> Option<Date> {
    let date: Date = name.strip_prefix("sentinel-")?.strip_suffix(".offbox")?.parse().ok()?;
    (object_name(date) == name).then_some(date)
}

/// Seals the nightly backup at `backup` (of `date`) with the env file and uploads it, then
/// deletes the oldest copies beyond `OFFBOX_KEEP`. The sealed file is written beside the
/// backup (the appliance's /tmp is a small tmpfs) and removed afterwards.
///
/// A database that never uploaded (`record` is empty) uploads only into an empty prefix: a
/// fresh card booted with the bucket's settings must not put its empty database in front of
/// the copies it is meant to restore (an off-box restore writes the record, see [`restore`]).
pub fn upload_nightly(
    config: &Config,
    record: &Record,
    backup: &Path,
    date: Date,
    now: Timestamp,
) -> anyhow::Result<Uploaded> {
    let offbox = &config.offbox;
    let url = offbox.bucket.as_ref().context("OFFBOX_URL is not set")?;
    let passphrase = offbox.encryption_key.as_ref().context("OFFBOX_ENCRYPTION_KEY is not set")?;
    let bucket = Bucket::new(url, offbox)?;
    if record.uploaded_date.is_none() {
        let copies = dated(bucket.list(&url.prefix)?, &url.prefix);
        if let Some((_, newest)) = copies.iter().max_by_key(|(date, _)| *date) {
            bail!(
                "{}/{} already holds {} copies that this database did not upload (newest {}): restore them with \
                 `sentinel restore --offbox latest`, or give this box a prefix of its own in OFFBOX_URL; nothing was uploaded",
                bucket.label(),
                url.prefix,
                copies.len(),
                newest.key
            );
        }
    }
    let env = match &config.env_file {
        Some(path) => Some(std::fs::read(path).with_context(|| format!("reading the env file {}", path.display()))?),
        None => None,
    };
    let manifest = sealed::Manifest {
        sentinel_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now,
        backup_date: Some(date),
        env_file: config.env_file.as_ref().map(|path| path.display().to_string()),
    };
    let sealed_path = backup.with_file_name("offbox-upload.partial");
    let _remove = RemoveOnDrop(sealed_path.clone());
    let file = owner_only_file(&sealed_path)?;
    let mut writer = std::io::BufWriter::new(file);
    sealed::seal(passphrase, &manifest, backup, env.as_deref(), &mut writer)?;
    writer.flush().with_context(|| format!("writing {}", sealed_path.display()))?;
    drop(writer);
    let bytes = std::fs::metadata(&sealed_path).with_context(|| format!("reading {}", sealed_path.display()))?.len();
    let object = format!("{}{}", url.prefix, object_name(date));
    bucket.put(&object, &sealed_path)?;
    let removed = match prune(&bucket, &url.prefix, offbox.keep, &object) {
        Ok(removed) => removed,
        // The copy is up; an old one left over is tried again next night.
        Err(err) => {
            tracing::warn!("removing old off-box copies failed: {err:#}");
            0
        }
    };
    Ok(Uploaded { object, bytes, removed })
}

/// Deletes the oldest copies under `prefix` beyond `keep`, never `uploaded`; other objects in
/// the bucket are left alone.
fn prune(bucket: &Bucket, prefix: &str, keep: usize, uploaded: &str) -> anyhow::Result<usize> {
    let mut copies = dated(bucket.list(prefix)?, prefix);
    copies.sort_by_key(|(date, _)| std::cmp::Reverse(*date));
    let mut removed = 0;
    for (_, object) in copies.iter().skip(keep.max(1)).filter(|(_, object)| object.key != uploaded) {
        bucket.delete(&object.key)?;
        tracing::info!(object = %object.key, "old off-box copy removed");
        removed += 1;
    }
    Ok(removed)
}

/// The copies among `objects`: those directly under `prefix` named by [`object_name`].
fn dated(objects: Vec<Object>, prefix: &str) -> Vec<(Date, Object)> {
    objects.into_iter().filter_map(|object| Some((object_date(object.key.strip_prefix(prefix)?)?, object))).collect()
}

/// `sentinel offbox list`: the copies in the configured bucket, oldest first.
pub fn list(config: &Config) -> anyhow::Result<(String, Vec<Object>)> {
    let url = config.offbox.bucket.as_ref().context("OFFBOX_URL is not set: there is no bucket to list")?;
    let bucket = Bucket::new(url, &config.offbox)?;
    let mut copies = dated(bucket.list(&url.prefix)?, &url.prefix);
    copies.sort_by_key(|(date, _)| *date);
    Ok((format!("{}/{}", bucket.label(), url.prefix), copies.into_iter().map(|(_, object)| object).collect()))
}

/// Where a restore reads from: `latest` or a copy's name in the configured bucket, an
/// `s3://bucket/key` URL (on the configured endpoint, else AWS's for `OFFBOX_REGION`), or an
/// object's path-style URL. `latest` is answered by [`newest_sealed`]; the others by name.
fn locate(offbox: &OffboxConfig, from: &str) -> anyhow::Result<(Bucket, String)> {
    if from.starts_with("http://") || from.starts_with("https://") {
        let (url, key) = BucketUrl::parse_object(from).map_err(|why| anyhow::format_err!("{from}: {why}"))?;
        return Ok((Bucket::new(&url, offbox)?, key));
    }
    if let Some(rest) = from.strip_prefix("s3://") {
        let (name, key) = rest
            .split_once('/')
            .filter(|(_, key)| !key.is_empty())
            .with_context(|| format!("{from}: expected s3://bucket/object"))?;
        let endpoint = match &offbox.bucket {
            Some(configured) => configured.endpoint.clone(),
            None => format!("https://s3.{}.amazonaws.com", offbox.region),
        };
        let url =
            BucketUrl::parse(&format!("{endpoint}/{name}")).map_err(|why| anyhow::format_err!("{from}: {why}"))?;
        return Ok((Bucket::new(&url, offbox)?, key.to_string()));
    }
    let Some(url) = &offbox.bucket else {
        bail!("OFFBOX_URL is not set: give the copy's URL (s3://bucket/object or https://host/bucket/object)");
    };
    let bucket = Bucket::new(url, offbox)?;
    let key = if from.contains('/') { from.to_string() } else { format!("{}{from}", url.prefix) };
    Ok((bucket, key))
}

/// The copy `latest` means: of the copies under `prefix`, the one whose sealed manifest was
/// sealed last. Object names are whatever anyone who can write to the bucket chose: an older
/// copy put back under a newer night's name would roll the box back unnoticed if the name
/// decided. The manifest is sealed with the key, so it cannot be forged or altered without it;
/// only each copy's first chunk is downloaded to read it. Answers the key, its manifest and
/// the notes to print: how it was chosen, copies whose names disagree with what they hold, and
/// copies that could not be read (a copy none of which opens is an error).
fn newest_sealed(
    bucket: &Bucket,
    prefix: &str,
    passphrase: &Secret,
) -> anyhow::Result<(String, sealed::Manifest, Vec<String>)> {
    let copies = dated(bucket.list(prefix)?, prefix);
    ensure!(!copies.is_empty(), "no off-box copy in {}/{prefix}", bucket.label());
    let mut notes = Vec::new();
    let mut read = Vec::new();
    let mut first_error = None;
    for (named, object) in &copies {
        let manifest = bucket
            .get_start(&object.key, sealed::MANIFEST_BYTES)
            .and_then(|start| sealed::read_manifest(passphrase, start.as_slice()));
        match manifest {
            Ok(manifest) => {
                notes.extend(name_disagrees(&object.key, *named, &manifest));
                read.push((object.key.clone(), manifest));
            }
            Err(err) => {
                notes.push(format!("{} was passed over: {err:#}", object.key));
                first_error.get_or_insert(err.context(format!("opening {}/{}", bucket.label(), object.key)));
            }
        }
    }
    let newest = read.into_iter().max_by(|(a_key, a), (b_key, b)| {
        (a.created_at, a.backup_date, a_key).cmp(&(b.created_at, b.backup_date, b_key))
    });
    let Some((key, manifest)) = newest else {
        return Err(first_error.unwrap_or_else(|| anyhow::format_err!("no off-box copy could be read")));
    };
    notes.insert(
        0,
        format!(
            "{key} is the newest of the {} copies by the date sealed inside each (names are not trusted)",
            copies.len()
        ),
    );
    Ok((key, manifest, notes))
}

/// A note when a copy's object name names another night than the backup it holds.
fn name_disagrees(key: &str, named: Date, manifest: &sealed::Manifest) -> Option<String> {
    (manifest.backup_date != Some(named)).then(|| {
        let holds = manifest
            .backup_date
            .map_or_else(|| "an unnamed backup".to_string(), |date| format!("the backup of {date}"));
        format!("{key} is named for {named} but holds {holds}, sealed {}: its name is not trusted", manifest.created_at)
    })
}

/// `sentinel restore` from the bucket: downloads the copy, opens it with
/// `OFFBOX_ENCRYPTION_KEY`, restores the database by `backup::restore`'s rules (refused while
/// the service runs, checked before the swap) and then writes the env file to `env_file`.
/// The database goes to `DB_PATH` from the process environment, else from the copy's env file,
/// else to the configured one. A wrong key or a damaged copy changes nothing.
pub fn restore(config: &Config, from: &str, env_file: &Path) -> anyhow::Result<Restored> {
    let offbox = &config.offbox;
    let passphrase = offbox
        .encryption_key
        .as_ref()
        .context("OFFBOX_ENCRYPTION_KEY is not set: the copy cannot be opened without the key it was sealed with")?;
    crate::db::backup::ensure_stopped(&config.db_path)?;
    let (bucket, key, chosen, mut notes) = if from == "latest" {
        let url = offbox
            .bucket
            .as_ref()
            .context("OFFBOX_URL is not set: give the copy's URL (s3://bucket/object or https://host/bucket/object)")?;
        let bucket = Bucket::new(url, offbox)?;
        let (key, manifest, notes) = newest_sealed(&bucket, &url.prefix, passphrase)?;
        (bucket, key, Some(manifest), notes)
    } else {
        let (bucket, key) = locate(offbox, from)?;
        (bucket, key, None, Vec::new())
    };
    let from = format!("{}/{key}", bucket.label());
    let work = config.data_dir();
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let download = work.join("offbox-download.partial");
    let database = work.join("offbox-restore.db.partial");
    let _remove = (RemoveOnDrop(download.clone()), RemoveOnDrop(database.clone()));
    for stale in [&download, &database] {
        let _ = std::fs::remove_file(stale);
    }
    let mut file = owner_only_file(&download)?;
    bucket.get(&key, &mut file)?;
    drop(file);
    let file = std::fs::File::open(&download).with_context(|| format!("reading {}", download.display()))?;
    let opened = sealed::open(passphrase, std::io::BufReader::new(file), &database)
        .with_context(|| format!("opening {from}"))?;
    // The copy chosen by its manifest must still be that copy: one replaced in between (by
    // whoever can write to the bucket) is not restored.
    if chosen.as_ref().is_some_and(|chosen| *chosen != opened.manifest) {
        bail!(
            "{from} changed in the bucket while it was being restored (its sealed manifest differs); nothing was restored"
        );
    }
    if chosen.is_none()
        && let Some(named) = key.rsplit('/').next().and_then(object_date)
    {
        notes.extend(name_disagrees(&key, named, &opened.manifest));
    }
    let db_path = match (&opened.env, std::env::var_os("DB_PATH").filter(|path| !path.is_empty())) {
        // The original's Docker path is set aside under systemd, as the service does at start,
        // so the database lands where the service will look for it.
        (Some(env), None) => {
            env_db_path(env).map(crate::config::db_path_here).unwrap_or_else(|| config.db_path.clone())
        }
        _ => config.db_path.clone(),
    };
    crate::db::backup::restore(&database, &db_path)?;
    // The restored database continues the bucket's copies: its next nightly backup may go up.
    let size = std::fs::metadata(&download).map(|meta| meta.len()).ok();
    if let Some(date) = opened.manifest.backup_date
        && let Err(err) = note_restored(&db_path, date, &key, size, opened.manifest.created_at)
    {
        tracing::warn!("the restored database does not know it came from the bucket: {err:#}");
    }
    let env_written = match &opened.env {
        Some(env) => {
            crate::backup::install_file(env_file, env)
                .with_context(|| format!("the database is restored, but writing {} failed", env_file.display()))?;
            Some(env_file.to_path_buf())
        }
        None => None,
    };
    tracing::info!(from, "restored from the off-box copy");
    Ok(Restored { from, database: db_path, env_file: env_written, manifest: opened.manifest, notes })
}

/// Which backup `sentinel offbox push` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFrom {
    /// The newest nightly backup, or a fresh backup when there is none yet.
    Newest,
    /// A fresh backup of the database as it is now (`--fresh`).
    Fresh,
}

/// `sentinel offbox push`: sends a backup off the box now, as the nightly upload would (sealed
/// with the env file, older copies pruned beyond `OFFBOX_KEEP`), and records it in the
/// database like a nightly upload. A fresh backup is dated `now`'s local date and removed
/// after the upload. Returns what to print.
pub fn push(config: &Config, from: PushFrom, now: Timestamp) -> anyhow::Result<String> {
    let offbox = &config.offbox;
    let Some(url) = offbox.bucket.as_ref() else {
        bail!(
            "off-box copies are not configured: set OFFBOX_URL (the bucket, e.g. s3://my-bucket/office), \
             OFFBOX_ACCESS_KEY_ID, OFFBOX_SECRET_ACCESS_KEY and OFFBOX_ENCRYPTION_KEY in the env file \
             (see README, \"Off-box copies\"); nothing was uploaded"
        )
    };
    ensure!(offbox.encryption_key.is_some(), "OFFBOX_ENCRYPTION_KEY is not set; nothing was uploaded");
    let dir = config.data_dir().join("backups");
    let newest = match from {
        PushFrom::Newest => crate::backup::newest_nightly(&dir),
        PushFrom::Fresh => None,
    };
    let (date, backup, what, _fresh) = match newest {
        Some((date, path)) => {
            let what = format!("the nightly backup of {date} ({})", path.display());
            (date, path, what, None)
        }
        None => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join("offbox-push.db");
            let _ = std::fs::remove_file(&path);
            let fresh = RemoveOnDrop(path.clone());
            let db = rusqlite::Connection::open_with_flags(&config.db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("opening {}", config.db_path.display()))?;
            db.busy_timeout(std::time::Duration::from_secs(10))?;
            crate::db::backup::backup_to(&db, &path)?;
            let date = now.to_zoned(config.calendar.zone().clone()).date();
            (date, path, "a fresh backup of the database".to_string(), Some(fresh))
        }
    };
    let conn =
        rusqlite::Connection::open(&config.db_path).with_context(|| format!("opening {}", config.db_path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut record: Record = crate::db::kv_json(&conn, RECORD_KEY, None)?;
    let uploaded = upload_nightly(config, &record, &backup, date, now)?;
    if record.uploaded_date.is_none_or(|done| done <= date) {
        record.succeeded(date, &uploaded, now);
        crate::db::kv_json(&conn, RECORD_KEY, Some(&record))?;
    }
    let bucket = Bucket::new(url, offbox)?;
    let removed = match uploaded.removed {
        0 => String::new(),
        1 => "; 1 older copy removed".to_string(),
        n => format!("; {n} older copies removed"),
    };
    Ok(format!(
        "uploaded {what}, sealed with the env file, to {}/{} ({} bytes){removed}",
        bucket.label(),
        uploaded.object,
        uploaded.bytes
    ))
}

/// Writes the record of the copy restored into the restored database.
fn note_restored(db_path: &Path, date: Date, key: &str, size: Option<u64>, sealed_at: Timestamp) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open(db_path).with_context(|| format!("opening {}", db_path.display()))?;
    let mut record: Record = crate::db::kv_json(&conn, RECORD_KEY, None)?;
    if record.uploaded_date.is_none_or(|done| done < date) {
        let uploaded = Uploaded { object: key.to_string(), bytes: size.unwrap_or(0), removed: 0 };
        record.succeeded(date, &uploaded, sealed_at);
        crate::db::kv_json(&conn, RECORD_KEY, Some(&record))?;
    }
    Ok(())
}

/// `DB_PATH` as set in an env file's text, if it is.
fn env_db_path(env: &[u8]) -> Option<PathBuf> {
    let pairs = crate::config::parse_env_file(&String::from_utf8_lossy(env)).ok()?;
    let (_, value) = pairs.into_iter().rev().find(|(name, value)| name == "DB_PATH" && !value.trim().is_empty())?;
    Some(PathBuf::from(value.trim()))
}

/// A new file readable by its owner only: what it holds is sealed, but nobody else needs it.
fn owner_only_file(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Removes a working file however the work ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_pause_longer_each_time_and_stop() {
        let pauses: Vec<Option<i64>> = (1..=7).map(|n| retry_after(n).map(|pause| pause.as_mins())).collect();
        assert_eq!(pauses, [Some(15), Some(30), Some(60), Some(120), Some(240), None, None]);
    }

    #[test]
    fn a_failed_copy_waits_for_its_retry_and_a_newer_night_starts_afresh() -> anyhow::Result<()> {
        let night: Date = "2026-03-03".parse()?;
        let at = |time: &str| -> anyhow::Result<Timestamp> { Ok(format!("2026-03-03T{time}Z").parse()?) };
        let mut record = Record::default();
        assert!(record.due(night, at("08:00:00")?));
        for failures in 1..=ATTEMPTS_MAX {
            record.failed(night, "connection refused".into(), at("08:00:00")?);
            assert_eq!(record.failures, failures);
        }
        assert_eq!(record.next_try_at, None, "used up");
        assert!(!record.due(night, at("23:00:00")?));
        assert!(record.due(night.tomorrow()?, at("23:00:00")?), "the next night's copy tries again");

        let mut record = Record::default();
        record.failed(night, "connection refused".into(), at("08:00:00")?);
        assert!(!record.due(night, at("08:14:59")?));
        assert!(record.due(night, at("08:15:00")?));
        let uploaded = Uploaded { object: object_name(night), bytes: 10, removed: 0 };
        record.succeeded(night, &uploaded, at("08:15:01")?);
        assert!(!record.due(night, at("09:00:00")?));
        assert_eq!((record.failures, record.last_error.as_deref()), (0, None));
        Ok(())
    }

    #[test]
    fn only_copies_directly_under_the_prefix_count() {
        let object = |key: &str| Object { key: key.into(), size: 1, last_modified: None };
        let objects = vec![
            object("office/sentinel-2026-03-03.offbox"),
            object("office/sentinel-2026-3-4.offbox"),
            object("office/notes.txt"),
            object("office/old/sentinel-2026-03-01.offbox"),
            object("sentinel-2026-03-02.offbox"),
        ];
        let found: Vec<String> = dated(objects, "office/").into_iter().map(|(_, object)| object.key).collect();
        assert_eq!(found, ["office/sentinel-2026-03-03.offbox"]);
    }

    #[test]
    fn db_path_is_read_from_a_restored_env_file() {
        assert_eq!(env_db_path(b"TIMEZONE=UTC\nDB_PATH=/data/s.db\n"), Some(PathBuf::from("/data/s.db")));
        assert_eq!(env_db_path(b"DB_PATH=\n"), None);
    }
}
