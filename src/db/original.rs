//! Reading the original Python service's database, for `sentinel import-original`: its tables
//! gained columns over time, so each is looked up before use, and every value is read as the
//! text (or number) it was stored as; `import` makes our types of them.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension as _};

/// The `issues` columns [`each_issue`] reads; those a file lacks read as NULL.
const ISSUE_COLUMNS: [&str; 15] = [
    "id",
    "issue_type",
    "status",
    "contact_id",
    "phone",
    "created_ts",
    "due_ts",
    "resolved_ts",
    "meta",
    "first_inbound_ts",
    "last_inbound_ts",
    "inbound_count",
    "conversation_id",
    "breach_notified_ts",
    "contact_name",
];

/// One row of the original's, whose columns are read by name, as stored, when asked for: a
/// row skipped for its first columns is never read further.
pub struct Row<'a, 'stmt>(&'a rusqlite::Row<'stmt>);

impl Row<'_, '_> {
    /// The row's `id`.
    pub fn id(&self) -> rusqlite::Result<i64> {
        self.0.get("id")
    }

    /// A text column.
    pub fn text(&self, column: &str) -> rusqlite::Result<Option<String>> {
        self.0.get(column)
    }

    /// A number column.
    pub fn number(&self, column: &str) -> rusqlite::Result<Option<i64>> {
        self.0.get(column)
    }
}

/// `PRAGMA table_info`: the names of `table`'s columns, none when there is no such table.
pub fn columns(conn: &Connection, table: &str) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt.query_map([], |row| row.get::<_, String>(1))?;
    names.collect()
}

/// Whether the file has a table of this name.
pub fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)", [table], |row| {
        row.get(0)
    })
}

/// Hands `each` every issue, by id; `columns` are the table's own ([`columns`]).
pub fn each_issue<E: From<rusqlite::Error>>(
    conn: &Connection,
    columns: &HashSet<String>,
    each: impl FnMut(&Row) -> Result<(), E>,
) -> Result<(), E> {
    let select: Vec<String> = ISSUE_COLUMNS
        .iter()
        .map(|c| if columns.contains(*c) { c.to_string() } else { format!("NULL AS {c}") })
        .collect();
    each_row(conn, &format!("SELECT {} FROM issues ORDER BY id", select.join(", ")), each)
}

/// Hands `each` every row of `spam_phones`: `phone`, `created_ts`.
pub fn each_spam_phone<E: From<rusqlite::Error>>(
    conn: &Connection,
    each: impl FnMut(&Row) -> Result<(), E>,
) -> Result<(), E> {
    each_row(conn, "SELECT phone, created_ts FROM spam_phones", each)
}

/// Hands `each` every row of `conversation_state`: `conversation_id`, and
/// `last_internal_outbound_ts`, when staff last wrote in it.
pub fn each_staff_reply<E: From<rusqlite::Error>>(
    conn: &Connection,
    each: impl FnMut(&Row) -> Result<(), E>,
) -> Result<(), E> {
    each_row(conn, "SELECT conversation_id, last_internal_outbound_ts FROM conversation_state", each)
}

/// A value of `kv_store`.
pub fn kv_value(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM kv_store WHERE key = ?1", [key], |row| row.get(0)).optional()
}

fn each_row<E: From<rusqlite::Error>>(
    conn: &Connection,
    sql: &str,
    mut each: impl FnMut(&Row) -> Result<(), E>,
) -> Result<(), E> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        each(&Row(row))?;
    }
    Ok(())
}
