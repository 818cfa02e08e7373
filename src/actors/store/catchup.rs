//! Catch-up's requests (SPEC §12): what the store knows of the conversations a search listed,
//! the watermark a pass looks from, and applying what a pass found, each event at its own time,
//! in one transaction. What follows the commit is intake's [`follow_up`], as for webhooks.

use std::collections::HashMap;

use jiff::Timestamp;

use super::intake::{follow_up, with_world};
use super::{Reply, StoreHandle, StoreMsg, StoreState, hooks_resolved, text_err};
use crate::db::catchup;
use crate::db::found::{self, FoundPass, Tally};
use crate::db::in_transaction;
use crate::domain::catchup::Seen;
use crate::domain::event::Parsed;
use crate::domain::outcome::Outcome;

/// Catch-up's requests.
pub enum Msg {
    /// What is known of these conversations.
    Seen {
        /// Conversation ids.
        ids: Vec<String>,
        /// What is known of each known one.
        reply: Reply<HashMap<String, Seen>>,
    },
    /// The instant the last pass looked up to (else the last event stored).
    Watermark {
        /// It, or `None` on a new box.
        reply: Reply<Option<Timestamp>>,
    },
    /// Stores and judges what a pass found.
    Apply {
        /// The findings (boxed: they dwarf every other message).
        pass: Box<FoundPass>,
        /// What became of them.
        reply: Reply<Tally>,
    },
}

impl From<Msg> for StoreMsg {
    fn from(msg: Msg) -> StoreMsg {
        StoreMsg::CatchUp(msg)
    }
}

impl StoreHandle {
    /// What the store knows of these conversations.
    pub async fn conversations_seen(&self, ids: Vec<String>) -> Result<HashMap<String, Seen>, super::StoreError> {
        self.ask(|reply| Msg::Seen { ids, reply }).await
    }

    /// The instant the last catch-up pass looked up to (else the last event stored).
    pub async fn catchup_watermark(&self) -> Result<Option<Timestamp>, super::StoreError> {
        self.ask(|reply| Msg::Watermark { reply }).await
    }

    /// Stores and judges what a catch-up pass found.
    pub async fn apply_catchup(&self, pass: FoundPass) -> Result<Tally, super::StoreError> {
        let pass = Box::new(pass);
        self.ask(|reply| Msg::Apply { pass, reply }).await
    }
}

/// Answers one catch-up request.
pub(super) fn handle(msg: Msg, state: &mut StoreState) {
    match msg {
        Msg::Seen { ids, reply } => {
            let _ = reply.send(text_err(catchup::seen(&state.conn, &ids)));
        }
        Msg::Watermark { reply } => {
            let _ = reply.send(text_err(catchup::watermark(&state.conn)));
        }
        Msg::Apply { pass, reply } => {
            let ctx = state.ctx.clone();
            let calendar = ctx.calendar();
            let now = ctx.time.now();
            let applied = tokio::task::block_in_place(|| {
                with_world(&ctx, &state.boot_id, &calendar, |world| {
                    in_transaction(&mut state.conn, |tx| {
                        let tally = found::apply(tx, world, &pass)?;
                        hooks_resolved(tx, &ctx.config, now)?;
                        Ok::<_, rusqlite::Error>(tally)
                    })
                })
            });
            if let Ok(tally) = &applied {
                let judged: Vec<(&Parsed, &Outcome)> = pass
                    .events
                    .iter()
                    .zip(&tally.outcomes)
                    .filter_map(|(event, outcome)| Some((&event.parsed, outcome.as_ref()?)))
                    .collect();
                follow_up(&ctx, &judged);
            }
            let _ = reply.send(text_err(applied));
        }
    }
}
