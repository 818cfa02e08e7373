//! The optional AI check at the due time (SPEC §10): one run over the due texts that no staff
//! reply answers, just before they would open.
//!
//! The resolver hands over each text's conversation as GHL gave it. Here the recent thread is
//! cut and masked (`domain::ai`) — a thread that does not show the customer's latest text yet is
//! not asked about — the store is asked for verdicts already given for the same thread state,
//! and only the rest are sent, one by one, through `clients::ai`: at most
//! `AI_GATE_MAX_ISSUES_PER_RUN` requests, each within `AI_GATE_TIMEOUT_SECONDS`, the whole run
//! within `AI_GATE_RUN_BUDGET_SECONDS`. Fresh verdicts go back to the store. The result per issue
//! is an [`AiCheck`] that the store's settlement reads: only a confident NO resolves; a failure,
//! a timeout or a skipped check leaves the issue to open as if the check did not exist. Nothing
//! here holds the store or touches the webhook path: requests run on blocking threads.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::actors::Ctx;
use crate::actors::store::StoreHandle;
use crate::clients::ai::{AiError, CheckResult};
use crate::domain::ai::{
    Author, ThreadMessage, ThreadState, Verdict, shows_customer_text, thread_state, transcript, window,
};
use crate::domain::event::IssueKind;
use crate::domain::issue::Issue;
use crate::domain::outcome::{AiCheck, Finding};
use crate::ghl::client::{GhlError, Message};

/// A due text's conversation, as GHL gave it.
#[derive(Debug, Clone)]
pub struct Thread {
    /// The issue.
    pub issue_id: i64,
    /// Its GHL conversation.
    pub conversation_id: String,
    /// The conversation's messages, in any order.
    pub messages: Vec<ThreadMessage>,
    /// The issue's latest text, which the thread must show.
    pub latest_text: Option<String>,
}

/// How much longer than its own timeout a request is waited for before it is given up: the
/// client's timeout should end it first; this bound holds even if it does not.
const GRACE: Duration = Duration::from_millis(250);

/// Less time than this left in the run's budget is not worth a request.
const MIN_REQUEST_TIME: Duration = Duration::from_millis(100);

/// The threads worth asking about: texts (never calls) for which GHL could be read and showed
/// no staff reply.
pub fn threads(
    issues: &[Issue],
    findings: &[Finding],
    conversations: &HashMap<String, Result<Vec<Message>, GhlError>>,
) -> Vec<Thread> {
    issues
        .iter()
        .zip(findings)
        .filter(|(issue, finding)| issue.kind == IssueKind::Sms && finding.reply.is_none() && finding.error.is_none())
        .filter_map(|(issue, finding)| {
            let conversation_id = issue.conversation_id.clone().or_else(|| finding.conversation_id.clone())?;
            let Some(Ok(messages)) = conversations.get(&conversation_id) else { return None };
            let messages = messages.iter().map(thread_message).collect();
            Some(Thread { issue_id: issue.id, conversation_id, messages, latest_text: issue.last_text.clone() })
        })
        .collect()
}

fn thread_message(message: &Message) -> ThreadMessage {
    ThreadMessage {
        id: message.id.clone(),
        at: message.date_added,
        author: if message.outbound { Author::Internal } else { Author::Customer },
        text: message.body.clone().unwrap_or_default(),
    }
}

/// One run: a decision for every thread, keyed by issue.
pub async fn screen(ctx: &Ctx, threads: Vec<Thread>) -> HashMap<i64, AiCheck> {
    let config = &ctx.config.ai_gate;
    let mut checks = HashMap::new();
    let mut asks: Vec<(i64, ThreadState, String)> = Vec::new();
    for thread in threads {
        let recent = window(&thread.messages, config.max_messages, config.gap);
        let text = transcript(&recent, config.redaction);
        let latest = thread.latest_text.as_deref().filter(|latest| !latest.trim().is_empty());
        let skipped = match thread_state(&thread.conversation_id, &recent) {
            _ if text.is_empty() => "the thread has no text",
            None => "the thread has no messages",
            Some(_) if latest.is_some_and(|latest| !shows_customer_text(&recent, latest)) => {
                "GHL does not show the customer's latest text in the thread yet"
            }
            Some(state) => {
                asks.push((thread.issue_id, state, text));
                continue;
            }
        };
        let check = waiting(format!("AI check skipped: {skipped}"));
        checks.insert(thread.issue_id, counted(ctx, CheckResult::Skipped, check));
    }
    if asks.is_empty() {
        return checks;
    }

    let states: Vec<ThreadState> = asks.iter().map(|(_, state, _)| state.clone()).collect();
    let store = StoreHandle::default();
    let cached = match store.ai_cached(states).await {
        Ok(cached) if cached.len() == asks.len() => cached,
        Ok(_) => vec![None; asks.len()],
        Err(err) => {
            tracing::warn!("reading the AI verdict cache failed: {err}");
            vec![None; asks.len()]
        }
    };

    // Real time, not the service's clock: the budget bounds how long managers' alerts wait.
    let started = Instant::now();
    let threshold = config.suppress_no_confidence;
    let mut sent = 0;
    let mut fresh: Vec<(ThreadState, Verdict)> = Vec::new();
    for ((issue_id, state, text), cached) in asks.into_iter().zip(cached) {
        // Two due texts of one thread state in one run are asked about once.
        let known = cached.or_else(|| fresh.iter().find(|(seen, _)| *seen == state).map(|(_, v)| v.clone()));
        if let Some(verdict) = known {
            checks.insert(issue_id, counted(ctx, CheckResult::Cached, decide(&verdict, threshold, "cached")));
            continue;
        }
        let left = config.run_budget.saturating_sub(started.elapsed());
        if sent >= config.max_per_run || left < MIN_REQUEST_TIME {
            let why = if sent >= config.max_per_run {
                format!("AI check skipped: {} requests already made in this run", config.max_per_run)
            } else {
                "AI check skipped: this run's time budget is spent".to_string()
            };
            checks.insert(issue_id, counted(ctx, CheckResult::Skipped, waiting(why)));
            continue;
        }
        sent += 1;
        match ask(ctx, text, config.timeout.min(left)).await {
            Ok(verdict) => {
                let check = decide(&verdict, threshold, ctx.ai.model());
                let result = if check.suppress { CheckResult::Suppressed } else { CheckResult::Waiting };
                tracing::info!(issue = issue_id, result = result.as_str(), "AI check answered");
                checks.insert(issue_id, counted(ctx, result, check));
                fresh.push((state, verdict));
            }
            Err(err) => {
                tracing::warn!(issue = issue_id, "AI check failed, the issue opens as usual: {err}");
                ctx.ai.note_error(&err);
                let check = waiting(format!("AI check failed ({err}), counted as still waiting"));
                checks.insert(issue_id, counted(ctx, CheckResult::Failed, check));
            }
        }
    }

    if !fresh.is_empty() {
        let (model, now) = (ctx.ai.model().to_string(), ctx.time.now());
        if let Err(err) = store.ai_record(fresh, model, now).await {
            tracing::warn!("keeping AI verdicts failed: {err}");
        }
    }
    checks
}

/// Sends one transcript on a blocking thread and waits at most `timeout` (plus a little).
async fn ask(ctx: &Ctx, transcript: String, timeout: Duration) -> Result<Verdict, AiError> {
    let client = ctx.ai.clone();
    let request = tokio::task::spawn_blocking(move || client.classify(&transcript, timeout));
    match tokio::time::timeout(timeout + GRACE, request).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(err)) => Err(AiError::Unreachable(format!("the request task failed: {err}"))),
        Err(_) => Err(AiError::TimedOut),
    }
}

/// The decision a verdict makes: resolve on a confident NO, else open.
fn decide(verdict: &Verdict, threshold: f64, source: &str) -> AiCheck {
    let suppress = verdict.suppresses(threshold);
    let meaning = if suppress {
        "the customer is not waiting".to_string()
    } else if verdict.needs_follow_up {
        "the customer is still waiting".to_string()
    } else {
        format!("not sure enough to resolve (below {threshold:.2})")
    };
    AiCheck { suppress, detail: format!("AI check ({source}): {meaning}; {}", verdict.describe()) }
}

fn waiting(detail: String) -> AiCheck {
    AiCheck { suppress: false, detail }
}

fn counted(ctx: &Ctx, result: CheckResult, check: AiCheck) -> AiCheck {
    ctx.ai.count(result, ctx.time.now());
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_confident_no_suppresses() {
        let verdict = |needs_follow_up, confidence| Verdict { needs_follow_up, confidence, evidence: vec!["x".into()] };
        assert!(decide(&verdict(false, 0.9), 0.9, "m").suppress);
        let unsure = decide(&verdict(false, 0.89), 0.9, "m");
        assert!(!unsure.suppress && unsure.detail.contains("not sure enough"), "{unsure:?}");
        let waiting = decide(&verdict(true, 1.0), 0.9, "m");
        assert!(!waiting.suppress && waiting.detail.contains("still waiting"), "{waiting:?}");
        let cached = decide(&verdict(false, 0.99), 0.9, "cached");
        assert_eq!(cached.detail, r#"AI check (cached): the customer is not waiting; NO, confidence 0.99: "x""#);
    }
}
