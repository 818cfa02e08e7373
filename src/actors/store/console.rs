//! The managers' console's part of the store protocol (issue 17): sessions, sign-in links, and
//! the console's buttons, with their typed methods on [`StoreHandle`].
//!
//! Each request is one short transaction in `db::console`. An action that changed due times
//! or live issues tells the SLA clock to look again, as the SMS commands do, and a resolution
//! queues its notification webhooks.

use jiff::{SignedDuration, Timestamp};

use super::{Reply, StoreError, StoreHandle, StoreMsg, StoreState, hooks_resolved, text_err};
use crate::actors::clock::ClockHandle;
use crate::db::console::{self, Acted, Action, Grant, KnownMessage, Manager, Session, Sms};
use crate::db::in_transaction;

/// What the console asks of the store.
pub enum Msg {
    /// The manager of this name (case-insensitive), to check a PIN against.
    Manager {
        /// The name typed.
        name: String,
        /// The manager, if any.
        reply: Reply<Option<Manager>>,
    },
    /// Opens a session for a manager whose PIN was right.
    OpenSession {
        /// The manager's name.
        manager: String,
        /// The manager's contact id.
        contact_id: String,
        /// The console's now.
        now: Timestamp,
        /// How long it lasts.
        lifetime: SignedDuration,
        /// The new session and its token.
        reply: Reply<Grant>,
    },
    /// The session of a cookie's token, unless it has ended.
    Session {
        /// The cookie's token.
        token: String,
        /// The console's now.
        now: Timestamp,
        /// The session, if any.
        reply: Reply<Option<Session>>,
    },
    /// Ends a session.
    EndSession {
        /// The cookie's token.
        token: String,
        /// Answered after the commit.
        reply: Reply<()>,
    },
    /// Whose sign-in link this is, if it can still be used.
    LinkOwner {
        /// The link's token.
        token: String,
        /// The console's now.
        now: Timestamp,
        /// The manager's name.
        reply: Reply<Option<String>>,
    },
    /// Uses up a sign-in link and opens its session.
    RedeemLink {
        /// The link's token.
        token: String,
        /// The console's now.
        now: Timestamp,
        /// How long the session lasts.
        lifetime: SignedDuration,
        /// The new session, or `None` for an unknown, used or expired link.
        reply: Reply<Option<Grant>>,
    },
    /// A console button on one issue.
    Act {
        /// The issue.
        id: i64,
        /// What to do.
        action: Action,
        /// The signed-in manager's name.
        manager: String,
        /// The console's now.
        now: Timestamp,
        /// What came of it.
        reply: Reply<Acted>,
    },
    /// The webhooks that created or repeated an issue.
    Messages {
        /// The issue.
        id: i64,
        /// The webhooks, oldest first.
        reply: Reply<Vec<KnownMessage>>,
    },
    /// Manager SMS queued or sent since an instant.
    SmsSince {
        /// The instant (the start of today).
        since: Timestamp,
        /// The SMS, newest first.
        reply: Reply<Vec<Sms>>,
    },
}

impl From<Msg> for StoreMsg {
    fn from(msg: Msg) -> StoreMsg {
        StoreMsg::Console(msg)
    }
}

/// Answers one console request.
pub(super) fn handle(msg: Msg, state: &mut StoreState) {
    let conn = &mut state.conn;
    match msg {
        Msg::Manager { name, reply } => {
            let _ = reply.send(text_err(console::manager_named(conn, &name)));
        }
        Msg::OpenSession { manager, contact_id, now, lifetime, reply } => {
            let grant = tokio::task::block_in_place(|| {
                in_transaction(conn, |tx| console::create_session(tx, &manager, &contact_id, now, lifetime))
            });
            let _ = reply.send(text_err(grant));
        }
        Msg::Session { token, now, reply } => {
            let _ = reply.send(text_err(console::session(conn, &token, now)));
        }
        Msg::EndSession { token, reply } => {
            let _ = reply.send(text_err(console::end_session(conn, &token)));
        }
        Msg::LinkOwner { token, now, reply } => {
            let _ = reply.send(text_err(console::link_owner(conn, &token, now)));
        }
        Msg::RedeemLink { token, now, lifetime, reply } => {
            let grant = tokio::task::block_in_place(|| {
                in_transaction(conn, |tx| console::redeem_link(tx, &token, now, lifetime))
            });
            let _ = reply.send(text_err(grant));
        }
        Msg::Act { id, action, manager, now, reply } => {
            let config = &state.ctx.config;
            let calendar = state.ctx.calendar();
            let acted = tokio::task::block_in_place(|| {
                in_transaction(conn, |tx| {
                    let acted = console::act(tx, id, &action, &manager, &calendar, now)?;
                    hooks_resolved(tx, config, now)?;
                    Ok(acted)
                })
            });
            if matches!(acted, Ok(Acted::Done { deadlines: true })) {
                ClockHandle.rescheduled();
            }
            let _ = reply.send(text_err(acted));
        }
        Msg::Messages { id, reply } => {
            let _ = reply.send(text_err(console::messages(conn, id)));
        }
        Msg::SmsSince { since, reply } => {
            let _ = reply.send(text_err(console::sms_since(conn, since)));
        }
    }
}

impl StoreHandle {
    /// The manager of this name (case-insensitive), to check a PIN against.
    pub async fn console_manager(&self, name: String) -> Result<Option<Manager>, StoreError> {
        self.ask(|reply| Msg::Manager { name, reply }).await
    }

    /// Opens a session for a manager whose PIN was right.
    pub async fn open_session(
        &self,
        manager: String,
        contact_id: String,
        now: Timestamp,
        lifetime: SignedDuration,
    ) -> Result<Grant, StoreError> {
        self.ask(|reply| Msg::OpenSession { manager, contact_id, now, lifetime, reply }).await
    }

    /// The session of a cookie's token, unless it has ended by `now`.
    pub async fn session(&self, token: String, now: Timestamp) -> Result<Option<Session>, StoreError> {
        self.ask(|reply| Msg::Session { token, now, reply }).await
    }

    /// Ends a session.
    pub async fn end_session(&self, token: String) -> Result<(), StoreError> {
        self.ask(|reply| Msg::EndSession { token, reply }).await
    }

    /// Whose sign-in link this is, if it can still be used.
    pub async fn link_owner(&self, token: String, now: Timestamp) -> Result<Option<String>, StoreError> {
        self.ask(|reply| Msg::LinkOwner { token, now, reply }).await
    }

    /// Uses up a sign-in link and opens its session.
    pub async fn redeem_link(
        &self,
        token: String,
        now: Timestamp,
        lifetime: SignedDuration,
    ) -> Result<Option<Grant>, StoreError> {
        self.ask(|reply| Msg::RedeemLink { token, now, lifetime, reply }).await
    }

    /// A console button on issue `id`, for `manager`.
    pub async fn act(&self, id: i64, action: Action, manager: String, now: Timestamp) -> Result<Acted, StoreError> {
        self.ask(|reply| Msg::Act { id, action, manager, now, reply }).await
    }

    /// The webhooks that created or repeated issue `id`, oldest first.
    pub async fn known_messages(&self, id: i64) -> Result<Vec<KnownMessage>, StoreError> {
        self.ask(|reply| Msg::Messages { id, reply }).await
    }

    /// Manager SMS queued or sent since `since`, newest first.
    pub async fn sms_since(&self, since: Timestamp) -> Result<Vec<Sms>, StoreError> {
        self.ask(|reply| Msg::SmsSince { since, reply }).await
    }
}
