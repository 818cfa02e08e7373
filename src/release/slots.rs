//! The slots on the data partition, and the two small state files beside them.
//!
//! ```text
//! slots/a/            one installed release: sentinel, manifest.json, signature, sentinel.sha256
//! slots/b/            the other
//! slots/current       symlink to a or b; absent means the factory binary on the read-only root
//! slots/trial         while a new slot is on trial: from, to, versions, started, and the
//!                     launcher's counts: boots (starts), failed, cut (by power loss), pending
//! slots/last-update   how the last update ended: result, versions, reason, announced
//! slots/pre-update.db the database as it was before the last update
//! ```
//!
//! All of it is on the data partition and counts toward `DATA_MAX_MB`: the nightly run removes
//! what no rollback needs ([`Slots::expendable`]) before it trims the nightly backups.
//!
//! The launcher (`systemd/sentinel-launcher`) reads `current` and `trial` with nothing but
//! `sh`, so both state files are `key=value` lines. Every write here goes through a temporary
//! file that is fsynced and renamed, then the directory is fsynced: a power cut leaves the old
//! state or the new one, never half of either.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, ensure};

use super::bundle::{Bundle, Manifest};
use crate::version::MANIFEST_FILE;

/// The name the trial and the status use for the binary on the read-only root.
pub const FACTORY: &str = "factory";
/// The two slots.
pub const SLOTS: [&str; 2] = ["a", "b"];

/// The slots directory of one data partition.
#[derive(Debug, Clone)]
pub struct Slots {
    /// `$STATE/slots`.
    pub dir: PathBuf,
}

/// A `key=value` state file.
pub type State = BTreeMap<String, String>;

impl Slots {
    /// The slots beside the database's directory.
    pub fn in_data_dir(data_dir: &Path) -> Slots {
        Slots { dir: data_dir.join("slots") }
    }

    /// The active slot (`a` or `b`), or [`FACTORY`].
    pub fn active(&self) -> String {
        match std::fs::read_link(self.dir.join("current")) {
            Ok(target) => target.to_string_lossy().into_owned(),
            Err(_) => FACTORY.to_string(),
        }
    }

    /// The slot an update goes into: the one not active.
    pub fn inactive(&self) -> &'static str {
        if self.active() == SLOTS[0] { SLOTS[1] } else { SLOTS[0] }
    }

    /// A slot's directory.
    pub fn slot_dir(&self, slot: &str) -> PathBuf {
        self.dir.join(slot)
    }

    /// The manifest installed in `slot`, if any.
    pub fn manifest(&self, slot: &str) -> Option<Manifest> {
        let bytes = std::fs::read(self.slot_dir(slot).join(MANIFEST_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes the bundle's binary, manifest and signature into `slot`: into a fresh
    /// `.slot.new` directory first, each file fsynced, then the old slot goes and the new one
    /// is renamed into its place. `halfway` runs when half the binary is written (a test hook).
    pub fn write(&self, slot: &str, bundle: &Bundle, halfway: impl FnOnce()) -> anyhow::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::PermissionsExt as _;
        ensure!(SLOTS.contains(&slot), "{slot:?} is not a slot");
        let fresh = self.dir.join(format!(".{slot}.new"));
        remove_dir(&fresh)?;
        std::fs::create_dir_all(&fresh).with_context(|| format!("creating {}", fresh.display()))?;
        let binary = fresh.join("sentinel");
        let mut file = std::fs::File::create(&binary).with_context(|| format!("creating {}", binary.display()))?;
        let half = bundle.binary.len() / 2;
        file.write_all(&bundle.binary[..half])?;
        file.sync_data()?;
        halfway();
        file.write_all(&bundle.binary[half..])?;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        file.sync_all().with_context(|| format!("writing {}", binary.display()))?;
        let sha_line = format!("{}  sentinel\n", bundle.manifest.sha256);
        for (name, bytes) in [
            (MANIFEST_FILE, bundle.manifest_bytes.as_slice()),
            ("signature", bundle.signature.as_slice()),
            ("sentinel.sha256", sha_line.as_bytes()),
        ] {
            write_synced(&fresh.join(name), bytes)?;
        }
        sync_dir(&fresh)?;
        let target = self.slot_dir(slot);
        remove_dir(&target)?;
        std::fs::rename(&fresh, &target)
            .with_context(|| format!("renaming {} to {}", fresh.display(), target.display()))?;
        sync_dir(&self.dir)
    }

    /// Makes `slot` (`a`, `b` or [`FACTORY`]) the active one, atomically: a new symlink renamed
    /// over `current`, or `current` removed for the factory binary. `before_rename` runs just
    /// before that one step (a test hook).
    pub fn switch(&self, slot: &str, before_rename: impl FnOnce()) -> anyhow::Result<()> {
        let current = self.dir.join("current");
        if slot == FACTORY {
            before_rename();
            match std::fs::remove_file(&current) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err).with_context(|| format!("removing {}", current.display())),
            }
            return sync_dir(&self.dir);
        }
        ensure!(SLOTS.contains(&slot), "{slot:?} is not a slot");
        let fresh = self.dir.join("current.new");
        let _ = std::fs::remove_file(&fresh);
        std::os::unix::fs::symlink(slot, &fresh).with_context(|| format!("creating {}", fresh.display()))?;
        before_rename();
        std::fs::rename(&fresh, &current).with_context(|| format!("switching {} to {slot}", current.display()))?;
        sync_dir(&self.dir)
    }

    /// The trial in progress, if any.
    pub fn trial(&self) -> Option<State> {
        read_state(&self.dir.join("trial"))
    }

    /// Records a trial (or rewrites it).
    pub fn set_trial(&self, trial: &State) -> anyhow::Result<()> {
        write_state(&self.dir.join("trial"), trial)
    }

    /// Ends the trial: removes its file.
    pub fn clear_trial(&self) -> anyhow::Result<()> {
        let path = self.dir.join("trial");
        match std::fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err).with_context(|| format!("removing {}", path.display())),
        }
    }

    /// Bytes the slots directory takes on the card: both slots, the pre-update backup, a
    /// download, and whatever an interrupted update left. They count toward `DATA_MAX_MB`.
    pub fn bytes(&self) -> u64 {
        tree_bytes(&self.dir)
    }

    /// What may go when the data takes more than `DATA_MAX_MB`, least needed first: what an
    /// interrupted update left (`download.part`, `.a.new`, temporary files), every slot but the
    /// active one (outside a trial no rollback runs from them), then `pre-update.db`. Nothing
    /// while an update is on trial (its previous slot and the backup are what a rollback needs)
    /// or at all when the update's lock is held; the active slot is never listed. The lock is
    /// returned with the list: hold it while removing.
    pub fn expendable(&self) -> Option<(std::fs::File, Vec<PathBuf>)> {
        if !self.dir.is_dir() || self.dir.join("trial").exists() {
            return None;
        }
        let lock = std::fs::File::create(self.dir.join("update.lock")).ok()?;
        lock.try_lock().ok()?;
        // Read again under the lock: an update may have recorded its trial meanwhile.
        if self.dir.join("trial").exists() {
            return None;
        }
        let active = self.active();
        let mut leftovers: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|entry| {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        name == "download.part" || name.ends_with(".new") || name.ends_with(".tmp")
                    })
                    .map(|entry| entry.path())
                    .collect()
            })
            .unwrap_or_default();
        leftovers.sort();
        let spare_slots = SLOTS.iter().filter(|slot| **slot != active).map(|slot| self.slot_dir(slot));
        let list = leftovers.into_iter().chain(spare_slots).chain([self.dir.join("pre-update.db")]);
        Some((lock, list.filter(|path| path.symlink_metadata().is_ok()).collect()))
    }

    /// How the last update ended, if one did.
    pub fn last_update(&self) -> Option<State> {
        read_state(&self.dir.join("last-update"))
    }

    /// Records how an update ended.
    pub fn set_last_update(&self, outcome: &State) -> anyhow::Result<()> {
        write_state(&self.dir.join("last-update"), outcome)
    }
}

/// Reads a `key=value` file; `None` when it is missing or unreadable.
pub fn read_state(path: &Path) -> Option<State> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.trim().to_string(), value.to_string()))
            .collect(),
    )
}

/// Writes a `key=value` file atomically. Values lose any line breaks.
pub fn write_state(path: &Path, state: &State) -> anyhow::Result<()> {
    let text: String =
        state.iter().map(|(key, value)| format!("{key}={}\n", value.replace(['\n', '\r'], " "))).collect();
    let temp = path.with_extension("tmp");
    write_synced(&temp, text.as_bytes())?;
    std::fs::rename(&temp, path).with_context(|| format!("renaming {} to {}", temp.display(), path.display()))?;
    path.parent().map_or(Ok(()), sync_dir)
}

/// Writes a file and fsyncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("writing {}", path.display()))
}

/// Fsyncs a directory, so the renames in it survive a power cut.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))
}

/// Bytes the files under `path` take (links are not followed), or the file's own.
pub fn tree_bytes(path: &Path) -> u64 {
    let Ok(meta) = path.symlink_metadata() else { return 0 };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    std::fs::read_dir(path).map(|entries| entries.flatten().map(|entry| tree_bytes(&entry.path())).sum()).unwrap_or(0)
}

/// Removes a file or a whole directory.
pub fn remove_path(path: &Path) -> anyhow::Result<()> {
    if path.symlink_metadata().is_ok_and(|meta| meta.is_dir()) {
        remove_dir(path)
    } else {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err).with_context(|| format!("removing {}", path.display())),
        }
    }
}

fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("removing {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switching_moves_current_and_the_factory_removes_it() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let slots = Slots { dir: dir.path().to_path_buf() };
        assert_eq!(slots.active(), FACTORY);
        assert_eq!(slots.inactive(), "a");
        slots.switch("a", || {})?;
        assert_eq!((slots.active().as_str(), slots.inactive()), ("a", "b"));
        slots.switch("b", || {})?;
        assert_eq!(slots.active(), "b");
        slots.switch(FACTORY, || {})?;
        assert_eq!(slots.active(), FACTORY);
        assert!(slots.switch("c", || {}).is_err());
        Ok(())
    }

    #[test]
    fn only_what_no_rollback_needs_is_expendable_and_nothing_during_a_trial() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let slots = Slots { dir: dir.path().to_path_buf() };
        for name in ["a", "b", ".a.new"] {
            std::fs::create_dir_all(dir.path().join(name))?;
        }
        for name in ["a/sentinel", "b/sentinel", "pre-update.db", "download.part", "last-update"] {
            std::fs::write(dir.path().join(name), b"bytes")?;
        }
        slots.switch("b", || {})?;
        assert_eq!(slots.bytes(), 5 * 5, "links are not followed");
        let listed = |slots: &Slots| slots.expendable().map(|(_lock, paths)| paths);
        let names: Vec<String> = listed(&slots)
            .unwrap_or_default()
            .iter()
            .filter_map(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(names, [".a.new", "download.part", "a", "pre-update.db"], "the active slot b is never listed");
        // On trial, the previous slot and the backup are what a rollback needs.
        slots.set_trial(&[("from".to_string(), "a".to_string()), ("to".to_string(), "b".to_string())].into())?;
        assert_eq!(listed(&slots), None);
        slots.clear_trial()?;
        // While an update runs (it holds the lock), nothing either.
        let held = std::fs::File::create(dir.path().join("update.lock"))?;
        held.lock()?;
        assert_eq!(listed(&slots), None);
        drop(held);
        assert!(listed(&slots).is_some());
        Ok(())
    }

    #[test]
    fn state_files_round_trip_without_line_breaks() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("trial");
        let state: State =
            [("boots".to_string(), "2".to_string()), ("reason".to_string(), "a\nb=c".to_string())].into();
        write_state(&path, &state)?;
        let back = read_state(&path).unwrap_or_default();
        assert_eq!(back["boots"], "2");
        assert_eq!(back["reason"], "a b=c");
        Ok(())
    }
}
