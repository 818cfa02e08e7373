//! The AI check's verdict cache (SPEC §10): the resolver asks for cached verdicts before it
//! sends a thread, and keeps the fresh ones (`db::ai_gate`).

use jiff::Timestamp;

use super::{Reply, StoreError, StoreHandle, StoreMsg, StoreState, text_err};
use crate::db::{ai_gate, in_transaction};
use crate::domain::ai::{ThreadState, Verdict};

/// The AI check's requests.
pub enum Msg {
    /// The AI check's cached verdicts for these thread states, in the same order (SPEC §10).
    Cached {
        /// The thread states about to be sent.
        states: Vec<ThreadState>,
        /// A verdict for each state that has one.
        reply: Reply<Vec<Option<Verdict>>>,
    },
    /// Keep fresh AI verdicts, each for the thread state it answers.
    Record {
        /// The verdicts.
        verdicts: Vec<(ThreadState, Verdict)>,
        /// The model that gave them.
        model: String,
        /// The resolver's now.
        now: Timestamp,
        /// Answered after the commit.
        reply: Reply<()>,
    },
}

impl From<Msg> for StoreMsg {
    fn from(msg: Msg) -> StoreMsg {
        StoreMsg::Ai(msg)
    }
}

impl StoreHandle {
    /// The AI check's cached verdicts, one per thread state.
    pub async fn ai_cached(&self, states: Vec<ThreadState>) -> Result<Vec<Option<Verdict>>, StoreError> {
        self.ask(|reply| Msg::Cached { states, reply }).await
    }

    /// Keeps fresh AI verdicts.
    pub async fn ai_record(
        &self,
        verdicts: Vec<(ThreadState, Verdict)>,
        model: String,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.ask(|reply| Msg::Record { verdicts, model, now, reply }).await
    }
}

/// Answers one request of the AI check.
pub(super) fn handle(msg: Msg, state: &mut StoreState) {
    match msg {
        Msg::Cached { states, reply } => {
            let found: rusqlite::Result<Vec<Option<Verdict>>> =
                states.iter().map(|thread| ai_gate::cached(&state.conn, thread)).collect();
            let _ = reply.send(text_err(found));
        }
        Msg::Record { verdicts, model, now, reply } => {
            let kept = tokio::task::block_in_place(|| {
                in_transaction(&mut state.conn, |tx| {
                    verdicts.iter().try_for_each(|(thread, verdict)| ai_gate::record(tx, thread, verdict, &model, now))
                })
            });
            let _ = reply.send(text_err(kept));
        }
    }
}
