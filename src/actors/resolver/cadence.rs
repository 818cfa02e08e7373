//! How the cadence pass over OPEN issues chooses what to read: one conversation search names
//! the conversations answered lately; where GHL's answer cannot say, every OPEN issue is read
//! in turn, within a request budget (issue 13).

use super::threshold;
use crate::config::Config;
use crate::domain::issue::Issue;
use crate::ghl::client::ConversationSummary;

/// Most conversations the cadence pass reads one by one when the search cannot say which
/// changed: well inside the rate limit (60 requests in 10 s) and the daily budget.
pub(super) const DIRECT_BUDGET: usize = 30;

/// How a pass chose what to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PassMode {
    /// The search's last-message fields named the changed conversations.
    Summary,
    /// The search gave no last-message fields: every OPEN issue is read, within the budget.
    EachConversation,
    /// Some conversations had the fields and some did not.
    Mixed,
}

impl std::fmt::Display for PassMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PassMode::Summary => "search summary (lastMessageDate and lastMessageDirection)",
            PassMode::EachConversation => "each conversation (the search gave no lastMessageDate/lastMessageDirection)",
            PassMode::Mixed => "search summary where given, each conversation elsewhere",
        })
    }
}

/// What a pass reads.
pub(super) struct Plan {
    pub(super) mode: PassMode,
    pub(super) check: Vec<Issue>,
    pub(super) deferred: usize,
}

/// Decides which OPEN issues a pass reads. `turn` rotates which ones the budget reaches.
pub(super) fn plan_pass(open: Vec<Issue>, recent: &[ConversationSummary], config: &Config, turn: usize) -> Plan {
    let summarised = |c: &ConversationSummary| c.last_message_at.is_some() && c.last_direction.is_some();
    // Only when every listed conversation carries the fields may an unlisted one be taken as
    // quiet; an empty answer proves nothing.
    let listing_complete = !recent.is_empty() && recent.iter().all(summarised);
    let mut by_summary = Vec::new();
    let mut unknown = Vec::new();
    for issue in open {
        let listed = recent.iter().find(|c| listed_for(&issue, c));
        match listed {
            Some(conversation) if summarised(conversation) => {
                if answered_lately(&issue, std::slice::from_ref(conversation), config) {
                    by_summary.push(issue);
                }
            }
            None if listing_complete => {}
            _ => unknown.push(issue),
        }
    }
    let mode = match (listing_complete, unknown.is_empty()) {
        (true, true) => PassMode::Summary,
        _ if recent.iter().any(summarised) => PassMode::Mixed,
        _ => PassMode::EachConversation,
    };
    let deferred = unknown.len().saturating_sub(DIRECT_BUDGET);
    if !unknown.is_empty() {
        let start = turn % unknown.len();
        unknown.rotate_left(start);
        unknown.truncate(DIRECT_BUDGET);
    }
    by_summary.extend(unknown);
    Plan { mode, check: by_summary, deferred }
}

/// Whether a listed conversation is the issue's.
fn listed_for(issue: &Issue, conversation: &ConversationSummary) -> bool {
    issue.conversation_id.as_deref() == Some(conversation.id.as_str())
        || (issue.conversation_id.is_none()
            && issue.contact_id.is_some()
            && issue.contact_id == conversation.contact_id)
}

/// Conversations the cadence pass looks at: more than an office has active in 15 minutes.
pub(super) const RECENT_CONVERSATIONS: usize = 100;

/// Whether the issue's conversation, among the recently active ones, last saw an outbound
/// message after the issue began (only then can a staff reply be waiting to be found).
fn answered_lately(issue: &Issue, recent: &[ConversationSummary], config: &Config) -> bool {
    let after = threshold(issue, config);
    recent.iter().any(|conversation| {
        listed_for(issue, conversation)
            && conversation.last_direction.as_deref() == Some("outbound")
            && conversation.last_message_at.is_some_and(|at| at > after)
    })
}
