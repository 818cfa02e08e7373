//! `sentinel update FILE|URL`: check a release bundle, install it into the inactive slot, back
//! up the database, start its trial, switch slots and have the service restart.
//!
//! The steps, in order: download (a URL only, into `slots/download.part` on the data
//! partition), verify (signature, name, architecture, version, the binary's SHA-256, the
//! database's schema), write (the inactive slot), back up the database (the online backup of
//! `sentinel backup`, into `slots/pre-update.db`), record the trial, switch (`slots/current`
//! renamed atomically), and restart. Every refusal comes before the write, so a refused
//! bundle changes nothing on disk; a power cut at any step leaves `current` pointing at a whole,
//! verified slot (or the factory binary), because it only ever moves by one rename.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use jiff::Timestamp;

use super::bundle::{self, Bundle, MAX_BINARY};
use super::keys::{self, TrustedKey};
use super::slots::{self, FACTORY, Slots, State};
use super::version_cmp;
use crate::config::Config;

/// What `sentinel update` was asked.
#[derive(Debug, Clone)]
pub struct Request {
    /// A bundle file, or an `http://` or `https://` URL of one.
    pub source: String,
    /// Install an older version, or the same one again.
    pub allow_downgrade: bool,
    /// The directory of trusted public keys.
    pub keys_dir: PathBuf,
    /// Refuse the version the last update rolled back (the automatic update): judged by the
    /// signed manifest, not by whatever an update feed names.
    pub refuse_rolled_back: bool,
}

/// What was installed.
#[derive(Debug)]
pub struct Installed {
    /// The new version.
    pub version: String,
    /// The slot it went into, now active.
    pub slot: String,
    /// The version it replaces.
    pub from_version: String,
    /// The slot it replaces.
    pub from_slot: String,
    /// The key that signed it.
    pub key: TrustedKey,
}

/// A step where a test may stop the update to kill it there (`SENTINEL_TEST_UPDATE_PAUSE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Halfway through the download.
    Download,
    /// After the download, before the checks.
    Verify,
    /// Halfway through writing the slot's binary.
    Write,
    /// After the trial is recorded, just before `current` is renamed.
    Switch,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Download => "download",
            Step::Verify => "verify",
            Step::Write => "write",
            Step::Switch => "switch",
        }
    }
}

/// The test hook: with test hooks on (`version::test_hooks`) and
/// `SENTINEL_TEST_UPDATE_PAUSE=<step>`, says so on stdout and waits there for ever.
pub fn pause_at(step: &str) {
    if crate::version::test_hooks() && std::env::var("SENTINEL_TEST_UPDATE_PAUSE").is_ok_and(|at| at == step) {
        crate::outln!("paused at {step}");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// Runs the update up to the switch; `now` dates the trial (the service's clock judges its
/// deadline). The caller restarts the service: `sentinel update` through [`ask_restart`], the
/// automatic update by exiting.
pub fn update(config: &Config, request: &Request, now: Timestamp) -> anyhow::Result<Installed> {
    let slots = Slots::in_data_dir(&config.data_dir());
    crate::backup::refuse_root_over(&config.data_dir(), "update")?;
    // Said before anything is fetched: with no key trusted, no bundle could be installed.
    let keys = keys::trusted_or_explain(&request.keys_dir)?;
    refuse_during_trial(&slots)?;
    // A bundle file is checked before anything is written; a download needs its place first.
    let download = request.source.starts_with("http://") || request.source.starts_with("https://");
    let mut held = if download { Some(lock(&slots.dir)?) } else { None };
    let (file, downloaded) = fetch(&slots, &request.source)?;
    pause_at(Step::Verify.name());
    let checked = check(config, &slots, &file, &keys, request);
    if downloaded {
        let _ = std::fs::remove_file(&file);
    }
    let (bundle, key) = checked?;
    if held.is_none() {
        held = Some(lock(&slots.dir)?);
    }
    // Again under the lock: another update may have switched meanwhile.
    refuse_during_trial(&slots)?;
    let from_slot = slots.active();
    let from_version = current_version(&slots);
    let slot = slots.inactive();
    slots.write(slot, &bundle, || pause_at(Step::Write.name()))?;
    backup_database(config, &slots)?;
    let trial: State = [
        // Unique per update even on a test clock that stands still: the system's time.
        ("id", format!("{}@{}", bundle.manifest.version, Timestamp::now())),
        ("from", from_slot.clone()),
        ("to", slot.to_string()),
        ("version", bundle.manifest.version.clone()),
        ("from_version", from_version.clone()),
        ("started", now.to_string()),
        ("boots", "0".to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    slots.set_trial(&trial)?;
    slots.switch(slot, || pause_at(Step::Switch.name()))?;
    drop(held);
    Ok(Installed { version: bundle.manifest.version.clone(), slot: slot.to_string(), from_version, from_slot, key })
}

/// Now, for dating the trial: the manual test clock's start when `SENTINEL_TEST_NOW` is set
/// (the service on trial judges its deadline on the same clock), else the system's.
pub fn now() -> anyhow::Result<Timestamp> {
    match std::env::var("SENTINEL_TEST_NOW") {
        Ok(text) if !text.is_empty() => {
            text.parse().with_context(|| format!("SENTINEL_TEST_NOW={text:?}: expected an RFC 3339 instant"))
        }
        _ => Ok(Timestamp::now()),
    }
}

/// The version of the active slot, or this binary's when the factory binary is active.
pub fn current_version(slots: &Slots) -> String {
    match slots.active().as_str() {
        FACTORY => crate::version::running().to_string(),
        slot => slots.manifest(slot).map_or_else(|| crate::version::running().to_string(), |m| m.version),
    }
}

/// Refuses while a version is on trial: its previous slot is the one a new update would fill.
fn refuse_during_trial(slots: &Slots) -> anyhow::Result<()> {
    if let Some(trial) = slots.trial().filter(|trial| trial.get("to").is_some_and(|to| *to == slots.active())) {
        bail!(
            "the update to {} is still on trial (since {}); wait until it is confirmed or rolled back",
            trial.get("version").map_or("?", String::as_str),
            trial.get("started").map_or("?", String::as_str)
        );
    }
    Ok(())
}

/// One update at a time: an exclusive lock on `slots/update.lock`, held until dropped.
fn lock(dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("update.lock");
    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!("another update is running"),
        Err(std::fs::TryLockError::Error(err)) => Err(err).with_context(|| format!("locking {}", path.display())),
    }
}

/// The bundle as a file on the data partition: the file given, or a URL downloaded.
fn fetch(slots: &Slots, source: &str) -> anyhow::Result<(PathBuf, bool)> {
    let part = slots.dir.join("download.part");
    let _ = std::fs::remove_file(&part);
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return Ok((PathBuf::from(source), false));
    }
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(600))).build().into();
    let mut answer = agent.get(source).call().with_context(|| format!("downloading {source}"))?;
    let mut reader = answer.body_mut().with_config().limit(MAX_BINARY + 1024 * 1024).reader();
    let mut file = std::fs::File::create(&part).with_context(|| format!("creating {}", part.display()))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut paused = false;
    loop {
        let read = reader.read(&mut buffer).with_context(|| format!("downloading {source}"))?;
        if read == 0 {
            break;
        }
        file.write_all(&buffer[..read]).with_context(|| format!("writing {}", part.display()))?;
        if !paused {
            paused = true;
            file.sync_data()?;
            pause_at(Step::Download.name());
        }
    }
    file.sync_all().with_context(|| format!("writing {}", part.display()))?;
    Ok((part, true))
}

/// Every check, before anything is written: the bundle's framing and signature, then what
/// its signed manifest says against this box.
fn check(
    config: &Config,
    slots: &Slots,
    file: &Path,
    keys: &[TrustedKey],
    request: &Request,
) -> anyhow::Result<(Bundle, TrustedKey)> {
    let bundle = bundle::read(file)?;
    let key = bundle.verify(keys)?.clone();
    let manifest = &bundle.manifest;
    ensure!(manifest.name == "sentinel", "this bundle is for {:?}, not sentinel", manifest.name);
    let arch = crate::version::arch();
    ensure!(
        manifest.arch == arch,
        "wrong architecture: the bundle is for {} ({}), this box runs {arch} ({})",
        manifest.arch,
        manifest.target,
        crate::version::target()
    );
    if request.refuse_rolled_back
        && slots.last_update().is_some_and(|last| {
            last.get("result").is_some_and(|r| r == "rolled-back") && last.get("version") == Some(&manifest.version)
        })
    {
        bail!("version {} was rolled back here before; waiting for a newer one", manifest.version);
    }
    let current = current_version(slots);
    let order = version_cmp(&manifest.version, &current)
        .with_context(|| format!("comparing version {:?} with {current:?}", manifest.version))?;
    if order != std::cmp::Ordering::Greater && !request.allow_downgrade {
        let word = if order == std::cmp::Ordering::Equal { "the same version as" } else { "older than" };
        bail!(
            "version {} is {word} the installed {current}; add --allow-downgrade to install it anyway",
            manifest.version
        );
    }
    if let Some((schema, min_reader)) = database_schema(&config.db_path)? {
        ensure!(
            schema >= manifest.min_schema,
            "this release needs a database at schema version {} or later, and this one is at {schema}; install an \
             intermediate release first",
            manifest.min_schema
        );
        ensure!(
            min_reader <= manifest.schema,
            "this release reads schema version {} at most, and this database (at {schema}) needs {min_reader} or later",
            manifest.schema
        );
    }
    Ok((bundle, key))
}

/// The database's schema version and the oldest schema that can read it; `None` when there
/// is no database yet.
fn database_schema(db_path: &Path) -> anyhow::Result<Option<(i64, i64)>> {
    if !db_path.exists() {
        return Ok(None);
    }
    let conn = rusqlite::Connection::open_with_flags(db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", db_path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(Some(crate::db::schema::readable_by(&conn)?))
}

/// The online backup taken before the switch: `slots/pre-update.db`, replacing the last one.
fn backup_database(config: &Config, slots: &Slots) -> anyhow::Result<()> {
    if !config.db_path.exists() {
        return Ok(());
    }
    let dest = slots.dir.join("pre-update.db");
    let _ = std::fs::remove_file(&dest);
    let conn = rusqlite::Connection::open_with_flags(&config.db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", config.db_path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    crate::db::backup::backup_to(&conn, &dest).context("backing up the database before the update")?;
    slots::sync_dir(&slots.dir)
}

/// Asks the running service to restart into the new slot (`POST /jobs/restart` on the admin
/// listener, with the webhook secret); answers what happened, in words.
pub fn ask_restart(config: &Config) -> String {
    let secret = match &config.webhook_secret {
        Some(secret) => secret.expose().to_string(),
        None => match std::fs::read_to_string(crate::secret::secret_path(&config.data_dir())) {
            Ok(text) => text.trim().to_string(),
            Err(_) => return "the service has never run here; it starts the new version when it starts".into(),
        },
    };
    let url = format!("http://{}/jobs/restart", config.admin_listen_addr);
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
    match agent.post(&url).header("X-NTPP-Secret", &secret).send_empty() {
        Ok(_) => "the service is restarting into it".into(),
        Err(ureq::Error::StatusCode(code)) => format!("the service refused the restart ({code}); restart it by hand"),
        Err(_) => "the service is not running; it starts the new version when it starts".into(),
    }
}
