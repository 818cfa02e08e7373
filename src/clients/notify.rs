//! The only code that POSTs notification webhooks (issue 18).
//!
//! The outbox sender hands each due `webhook` row here on the blocking pool. One delivery is
//! one POST of the row's JSON body, signed in the Standard Webhooks form: `webhook-id` is
//! `msg_` and the row's UUIDv7, the same on every retry (so a receiver can drop a repeat) and
//! never another delivery's, even after a restore or from another box; `webhook-timestamp` is the
//! attempt's time and `webhook-signature` covers both and the body. Any 2xx counts as
//! delivered; everything else is a failure the outbox retries with backoff.

use std::time::Duration;

use jiff::Timestamp;

use crate::db::outbox::{Attempt, Entry};
use crate::domain::notify;

/// Longest wait for a receiver's answer: a stalled receiver fails the attempt, and the
/// delivery is tried again later under the same id.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Sends webhook deliveries; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    agent: ureq::Agent,
    key: Option<Vec<u8>>,
}

impl Notifier {
    /// A sender that signs with `key` (the decoded `NOTIFY_WEBHOOK_SECRET`), if any.
    pub fn new(key: Option<Vec<u8>>) -> Notifier {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .user_agent(concat!("sentinel/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Notifier { agent, key }
    }

    /// One attempt at delivering `entry` (its URL in `contact_id`) at `now`.
    pub fn deliver(&self, entry: &Entry, now: Timestamp) -> Attempt {
        match self.post(&entry.contact_id, &format!("msg_{}", entry.delivery_id), &entry.body, now) {
            Ok(()) => Attempt::Sent(None),
            Err(why) => Attempt::Failed(why),
        }
    }

    /// POSTs `body` to `url` as delivery `id` (`msg_…`), signed at `now`: `Ok` on a 2xx, else
    /// why not, without the URL's path (see [`notify::scrub`]). Real deliveries and the
    /// doctor's ping go through here alike.
    pub fn post(&self, url: &str, id: &str, body: &str, now: Timestamp) -> Result<(), String> {
        let timestamp = now.as_second();
        let mut request = self
            .agent
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(key) = &self.key {
            request = request.header("webhook-signature", notify::signature(key, id, timestamp, body));
        }
        // The failure is stored, logged and shown: never with the URL's path, which may be a
        // credential (a Slack hook's is).
        match request.send(body) {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("webhook answered {}", response.status())),
            Err(err) => Err(notify::scrub(&format!("webhook unreachable: {err}"), url)),
        }
    }
}
