//! SQL and nothing else: the only code that writes queries, and the transactions built from
//! them. `actors::store` holds the one `Connection` and calls these functions; nothing here
//! imports an actor, GHL, HTTP or the status page ([`World`] brings what they know).
//!
//! Instants are stored as UTC text with exactly three fractional digits
//! (`2026-03-02T15:00:00.000Z`), so text order is time order and the file stays readable.

pub mod ai_gate;
pub mod apply;
pub mod backup;
pub mod catchup;
pub mod commands;
pub mod console;
pub mod doctor;
pub mod events;
pub mod facts;
pub mod found;
pub mod hours;
pub mod housekeeping;
pub mod issues;
pub mod notify;
pub mod original;
pub mod outbox;
pub mod schema;
pub mod settle;
pub mod summary;

use std::time::Duration;

use jiff::Timestamp;

use crate::config::Config;
use crate::domain::calendar::Calendar;

/// What the store's transactions are told about the world outside the database. The store
/// actor fills it in before each transaction, so nothing in `db/` reaches into the actors,
/// GHL or the clock.
#[derive(Debug, Clone, Copy)]
pub struct World<'a> {
    /// The validated configuration.
    pub config: &'a Config,
    /// The calendar in force: the configured one with the stored special days over it.
    pub calendar: &'a Calendar,
    /// Whether the wall clock is believed; while it is not, events are kept and deferred.
    pub clock_trusted: bool,
    /// The monotonic clock's reading and this boot's id, which date a deferred event.
    pub monotonic: Duration,
    /// This boot's id.
    pub boot_id: &'a str,
    /// The GHL location, configured or learned, for conversation links.
    pub location_id: Option<&'a str>,
    /// How long the service has run, for the `STATUS` command.
    pub uptime: Duration,
    /// GHL's state in a word (`ok`, `degraded`, `not configured`), for the `STATUS` command.
    pub ghl_state: &'a str,
}

/// Runs `work` in one transaction, committed only when it succeeds.
pub fn in_transaction<T, E: From<rusqlite::Error>>(
    conn: &mut rusqlite::Connection,
    work: impl FnOnce(&rusqlite::Transaction) -> Result<T, E>,
) -> Result<T, E> {
    let tx = conn.transaction()?;
    let result = work(&tx)?;
    tx.commit()?;
    Ok(result)
}

/// Runs a statement through the connection's statement cache: the intake path runs the same
/// few statements thousands of times, and parsing them once is a measurable share of a commit.
pub fn exec(conn: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// One row through the statement cache.
pub fn one<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, row)
}

/// The stored form of an instant.
pub fn ts(at: Timestamp) -> String {
    // Written digit by digit: `strftime` was a measurable part of every statement's cost. The
    // same text as `%Y-%m-%dT%H:%M:%S%.3fZ` (a unit test compares them).
    let time = jiff::tz::Offset::UTC.to_datetime(at);
    let mut text = String::with_capacity(24);
    let mut field = |value: i32, width: u32, then: char| {
        for place in (0..width).rev() {
            let digit = (value.unsigned_abs() / 10u32.pow(place)) % 10;
            text.push(char::from(b'0' + digit as u8));
        }
        text.push(then);
    };
    field(i32::from(time.year()), 4, '-');
    field(i32::from(time.month()), 2, '-');
    field(i32::from(time.day()), 2, 'T');
    field(i32::from(time.hour()), 2, ':');
    field(i32::from(time.minute()), 2, ':');
    field(i32::from(time.second()), 2, '.');
    field(time.subsec_nanosecond() / 1_000_000, 3, 'Z');
    text
}

/// Reads a stored instant; a malformed one is a database error, not a panic.
pub fn parse_ts(text: &str) -> rusqlite::Result<Timestamp> {
    text.parse().map_err(|err: jiff::Error| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
    })
}

/// The GHL location the service learned from its webhooks, read from the database at `path`
/// without changing it (for `check-config`); `None` when there is no database or none learned.
pub fn learned_location(path: &std::path::Path) -> Option<String> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    kv_get(&conn, apply::LEARNED_LOCATION).ok().flatten()
}

/// A value kept as JSON under `key`: `save` replaces it when given; answers with the value
/// kept. A value this version cannot read reads as the default (for the off-box record, that
/// costs the status page only its history).
pub fn kv_json<T>(conn: &rusqlite::Connection, key: &str, save: Option<&T>) -> rusqlite::Result<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default + Clone,
{
    if let Some(value) = save {
        let json = serde_json::to_string(value).map_err(|err| rusqlite::Error::ToSqlConversionFailure(err.into()))?;
        kv_set(conn, key, &json)?;
        return Ok(value.clone());
    }
    Ok(kv_get(conn, key)?.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default())
}

/// Reads a stored key-value entry.
pub fn kv_get(conn: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension as _;
    one(conn, "SELECT value FROM kv WHERE key = ?1", [key], |row| row.get(0)).optional()
}

/// Writes a key-value entry.
pub fn kv_set(conn: &rusqlite::Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    exec(
        conn,
        "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
