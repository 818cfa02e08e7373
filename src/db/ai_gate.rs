//! The AI check's verdict cache (SPEC §10): one row per conversation, holding the verdict for
//! the thread state it was given for.
//!
//! A thread state is the conversation's newest message (id and time). The resolver asks here
//! before it sends a thread, so one state is never sent twice; a newer message is a new state,
//! which misses and, once answered, replaces the row. Only verdicts are kept, never failures, and
//! never the transcript.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::{exec, one, ts};
use crate::domain::ai::{ThreadState, Verdict};

/// The verdict stored for exactly this thread state, if any.
pub fn cached(conn: &Connection, state: &ThreadState) -> rusqlite::Result<Option<Verdict>> {
    let row: Option<(bool, f64, String)> = one(
        conn,
        "SELECT needs_follow_up, confidence, evidence FROM ai_verdicts
         WHERE conversation_id = ?1 AND newest_message_id = ?2 AND newest_at = ?3",
        params![state.conversation_id, state.newest_message_id, ts(state.newest_at)],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
    .optional()?;
    // A row that no longer reads is a miss, not an error: the thread is simply asked again.
    Ok(row.and_then(|(needs_follow_up, confidence, evidence)| {
        let evidence: Vec<String> = serde_json::from_str(&evidence).ok()?;
        Some(Verdict { needs_follow_up, confidence, evidence })
    }))
}

/// Keeps a verdict for its thread state, replacing the conversation's older one.
pub fn record(
    conn: &Connection,
    state: &ThreadState,
    verdict: &Verdict,
    model: &str,
    at: Timestamp,
) -> rusqlite::Result<()> {
    let evidence = serde_json::Value::from(verdict.evidence.clone()).to_string();
    exec(
        conn,
        "INSERT INTO ai_verdicts (conversation_id, newest_message_id, newest_at, needs_follow_up, confidence,
                                  evidence, model, checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (conversation_id) DO UPDATE SET
             newest_message_id = excluded.newest_message_id, newest_at = excluded.newest_at,
             needs_follow_up = excluded.needs_follow_up, confidence = excluded.confidence,
             evidence = excluded.evidence, model = excluded.model, checked_at = excluded.checked_at",
        params![
            state.conversation_id,
            state.newest_message_id,
            ts(state.newest_at),
            verdict.needs_follow_up,
            verdict.confidence,
            evidence,
            model,
            ts(at),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(message: &str, at: &str) -> anyhow::Result<ThreadState> {
        Ok(ThreadState { conversation_id: "conv1".into(), newest_message_id: message.into(), newest_at: at.parse()? })
    }

    #[test]
    fn a_verdict_is_found_only_for_its_thread_state() -> anyhow::Result<()> {
        let conn = crate::db::schema::open_in_memory()?;
        let now: Timestamp = "2026-03-02T17:00:00Z".parse()?;
        let first = state("m1", "2026-03-02T15:00:00Z")?;
        assert_eq!(cached(&conn, &first)?, None);
        let no = Verdict { needs_follow_up: false, confidence: 0.95, evidence: vec!["said \"thanks\"".into()] };
        record(&conn, &first, &no, "gpt-4o-mini", now)?;
        assert_eq!(cached(&conn, &first)?, Some(no.clone()));
        // A newer message is a new state: a miss, and its verdict replaces the old one.
        let second = state("m2", "2026-03-02T16:00:00Z")?;
        assert_eq!(cached(&conn, &second)?, None);
        let yes = Verdict { needs_follow_up: true, confidence: 0.8, evidence: vec!["asks when".into()] };
        record(&conn, &second, &yes, "gpt-4o-mini", now)?;
        assert_eq!(cached(&conn, &second)?, Some(yes));
        assert_eq!(cached(&conn, &first)?, None);
        let rows: i64 = conn.query_row("SELECT COUNT(*) FROM ai_verdicts", [], |row| row.get(0))?;
        assert_eq!(rows, 1);
        Ok(())
    }
}
