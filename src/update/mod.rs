//! Updates without a visit (issue 16): signed release bundles, A/B slots on the data
//! partition, and a health-gated trial that rolls back by itself.
//!
//! `bundle` is the file format and its signature, `keys` the release keys and which are
//! trusted, `slots` the slots and their two state files (all three in `crate::release`, below
//! the store, whose nightly run counts the slots), `install` the `sentinel update`
//! command, `release` the maintainer's `sentinel release keygen|pack`, `auto` the nightly
//! check of `UPDATE_URL`, and `gate` the service's side: it confirms a new version once it is
//! healthy, or switches back when it is not, and tells managers once. The launcher that picks the slot at
//! each start is the shell script `systemd/sentinel-launcher`.

pub mod auto;
pub mod gate;
pub mod install;
pub mod release;

pub use crate::release::{bundle, keys, slots};

use std::cmp::Ordering;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The exit code that asks systemd for a restart (`RestartForceExitStatus=75` in the unit):
/// after `/jobs/restart`, or when a version on trial gives up.
pub const RESTART_EXIT: u8 = 75;

static RESTART: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Asks the service to stop gracefully and exit with [`RESTART_EXIT`].
pub fn request_restart(why: &str) {
    tracing::warn!("restarting: {why}");
    RESTART.notify_one();
}

/// Completes when a restart was asked for.
pub async fn restart_requested() {
    RESTART.notified().await;
}

/// Compares two versions `MAJOR.MINOR.PATCH[-PRE]`: numbers by value, and a pre-release
/// before its release (`0.2.0-rc1 < 0.2.0`). `None` when either is not such a version.
pub fn version_cmp(a: &str, b: &str) -> Option<Ordering> {
    fn parse(text: &str) -> Option<([u64; 3], Option<&str>)> {
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let mut numbers = core.split('.').map(|part| part.parse::<u64>().ok());
        let triple = [numbers.next()??, numbers.next()??, numbers.next()??];
        numbers.next().is_none().then_some((triple, pre))
    }
    let (a, b) = (parse(a)?, parse(b)?);
    Some(a.0.cmp(&b.0).then_with(|| match (a.1, b.1) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    }))
}

/// What `/status` and `/api/status` show of updates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatus {
    /// The active slot: `a`, `b` or `factory`.
    pub slot: String,
    /// A version on trial, in words.
    pub trial: Option<String>,
    /// How the last update ended, in words.
    pub last: Option<String>,
    /// How the last update ended, in one word: `ok`, `rolled-back` or `aborted`.
    #[serde(default)]
    pub last_result: Option<String>,
    /// When the last update ended.
    #[serde(default)]
    pub last_at: Option<jiff::Timestamp>,
}

/// Reads the slots' state for the status page.
pub fn status(data_dir: &Path) -> UpdateStatus {
    let slots = slots::Slots::in_data_dir(data_dir);
    let last = slots.last_update();
    let word = |state: &slots::State, key: &str| state.get(key).cloned().unwrap_or_else(|| "?".into());
    UpdateStatus {
        slot: slots.active(),
        trial: slots.trial().map(|trial| {
            let cut = trial
                .get("cut")
                .filter(|cut| *cut != "0")
                .map_or_else(String::new, |cut| format!(", {cut} cut off by the box going down"));
            format!(
                "{} on trial since {} (start {}, {} failed{cut})",
                word(&trial, "version"),
                word(&trial, "started"),
                word(&trial, "boots"),
                trial.get("failed").map_or("0", String::as_str)
            )
        }),
        last: last.as_ref().map(gate::describe),
        last_result: last.as_ref().and_then(|last| last.get("result").cloned()),
        last_at: last.as_ref().and_then(|last| last.get("at")?.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::version_cmp;
    use std::cmp::Ordering::*;

    #[test]
    fn versions_compare_by_number_and_a_pre_release_comes_first() {
        assert_eq!(version_cmp("0.10.0", "0.9.9"), Some(Greater));
        assert_eq!(version_cmp("1.0.0", "1.0.0"), Some(Equal));
        assert_eq!(version_cmp("0.2.0-rc1", "0.2.0"), Some(Less));
        assert_eq!(version_cmp("0.2.0-rc2", "0.2.0-rc1"), Some(Greater));
        assert_eq!(version_cmp("0.2", "0.2.0"), None);
        assert_eq!(version_cmp("0.2.0.1", "0.2.0"), None);
        assert_eq!(version_cmp("x.y.z", "0.2.0"), None);
    }
}
