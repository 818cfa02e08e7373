//! What `sentinel doctor --send-test-sms` waits for (SPEC §13): each manager's latest "OK",
//! kept in `kv` under `doctor:ok:<contact id>`, written by the `OK` command in `db::commands`.

use jiff::Timestamp;
use rusqlite::Connection;

use super::{kv_set, parse_ts, ts};

const OK_PREFIX: &str = "doctor:ok:";

/// Records that `contact_id` texted "OK" at `now`.
pub fn record_ok(conn: &Connection, contact_id: &str, now: Timestamp) -> rusqlite::Result<()> {
    kv_set(conn, &format!("{OK_PREFIX}{contact_id}"), &ts(now))
}

/// Each contact's latest "OK" at or after `since`, oldest first.
pub fn oks_since(conn: &Connection, since: Timestamp) -> rusqlite::Result<Vec<(String, Timestamp)>> {
    let mut stmt = conn.prepare(
        "SELECT substr(key, ?1), value FROM kv WHERE key >= ?2 AND key < ?3 AND value >= ?4 ORDER BY value, key",
    )?;
    // Keys between the prefix and the prefix with its last byte raised: a range the index serves.
    let end = format!("{}{}", &OK_PREFIX[..OK_PREFIX.len() - 1], char::from(b':' + 1));
    let start = OK_PREFIX.len() as i64 + 1;
    let rows = stmt.query_map(rusqlite::params![start, OK_PREFIX, end, ts(since)], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    rows.map(|row| {
        let (contact, at) = row?;
        Ok((contact, parse_ts(&at)?))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_latest_ok_after_the_test_counts() -> anyhow::Result<()> {
        let conn = crate::db::schema::open_in_memory()?;
        let at = |text: &str| text.parse::<Timestamp>();
        record_ok(&conn, "m1", at("2026-03-02T15:00:00Z")?)?;
        record_ok(&conn, "m2", at("2026-03-02T16:00:00Z")?)?;
        crate::db::kv_set(&conn, "doctor:okay", "2026-03-02T17:00:00.000Z")?;
        assert_eq!(oks_since(&conn, at("2026-03-02T15:30:00Z")?)?, [("m2".to_string(), at("2026-03-02T16:00:00Z")?)]);
        record_ok(&conn, "m1", at("2026-03-02T16:30:00Z")?)?;
        let both: Vec<String> = oks_since(&conn, at("2026-03-02T15:30:00Z")?)?.into_iter().map(|(c, _)| c).collect();
        assert_eq!(both, ["m2", "m1"]);
        Ok(())
    }
}
