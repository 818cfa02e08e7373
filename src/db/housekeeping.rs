//! The nightly run: raw events past their retention go (with the breach webhooks' marks of issues
//! gone or resolved that long ago), the database is kept within its share of `DATA_MAX_MB`, and
//! a dated backup is taken once per local date (APPLIANCE §5.4, issue 15).

use std::path::PathBuf;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;

use super::{events, kv_get, kv_set};
use crate::config::Config;
use crate::release::slots::{self, Slots};

/// Nightly backups kept.
pub const BACKUPS_KEPT: usize = 7;

/// Where the date of the last nightly run is kept.
const LAST_BACKUP_DATE: &str = "last_backup_date";

/// Runs the nightly housekeeping and backup for `date`, once: `None` when this date was done
/// already, else the backup written.
///
/// Raw events older than `RAW_EVENTS_RETENTION_DAYS` go first; then, while the database takes
/// more than a quarter of `DATA_MAX_MB`, the oldest raw events go too, so Sentinel never fills
/// the card itself; one younger than `events::KEYS_KEPT_FOR` only loses its body, since its
/// keys still guard against replays. The update slots and the pre-update backup count too:
/// while the whole is over the budget, what of them no rollback needs goes
/// ([`Slots::expendable`]). The nightly backups get what is left, the newest always.
pub fn nightly(conn: &Connection, config: &Config, date: Date, now: Timestamp) -> anyhow::Result<Option<PathBuf>> {
    if kv_get(conn, LAST_BACKUP_DATE)?.as_deref() == Some(date.to_string().as_str()) {
        return Ok(None);
    }
    let dir = config.data_dir().join("backups");
    std::fs::create_dir_all(&dir)?;
    let days = i64::from(config.raw_events_retention_days);
    let expired = events::prune(conn, now - SignedDuration::from_hours(24 * days), now, false)?;
    let fitted = events::prune_to_fit(conn, config.data_budget() / 4, now)?;
    if expired + fitted.deleted + fitted.emptied > 0 {
        tracing::info!(expired, fitted = fitted.deleted, emptied = fitted.emptied, "raw events pruned");
    }
    let hook_keys = super::summary::prune_hook_keys(conn, now - SignedDuration::from_hours(24 * days))?;
    if hook_keys > 0 {
        tracing::info!(hook_keys, "breach-webhook marks of old issues pruned");
    }
    let written = crate::db::backup::nightly(conn, &dir, date, BACKUPS_KEPT)?;
    let used = events::used_bytes(conn)?;
    let budget = config.data_budget();
    let slots = Slots::in_data_dir(&config.data_dir());
    fit_slots(&slots, (used + crate::backup::nightly_bytes(&dir) + slots.bytes()).saturating_sub(budget));
    crate::backup::trim_nightly(&dir, budget.saturating_sub(used + slots.bytes()))?;
    kv_set(conn, LAST_BACKUP_DATE, &date.to_string())?;
    Ok(Some(written))
}

/// Removes what of the slots directory no rollback needs, least needed first, until `excess`
/// bytes are freed or nothing expendable is left.
fn fit_slots(slots: &Slots, mut excess: u64) {
    if excess == 0 {
        return;
    }
    let Some((_lock, expendable)) = slots.expendable() else { return };
    for path in expendable {
        if excess == 0 {
            break;
        }
        let size = slots::tree_bytes(&path);
        match slots::remove_path(&path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), size, "update slot files removed to keep within DATA_MAX_MB");
                excess = excess.saturating_sub(size);
            }
            Err(err) => tracing::warn!("removing {} to keep within DATA_MAX_MB: {err:#}", path.display()),
        }
    }
    let _ = slots::sync_dir(&slots.dir);
}
