//! The resolver poller: the safety net that checks live issues against GHL for staff replies
//! (SPEC §5.2).
//!
//! `OutboundMessage` webhooks resolve issues at once in the store; this actor covers what
//! webhooks miss. It checks each PENDING issue once at its due time (asked by the SLA clock),
//! OPEN issues on a gentle cadence in business hours, and everything live on
//! `POST /jobs/poll_resolver`. A pass fetches each conversation at most once. GHL calls block,
//! so a pass runs on a blocking thread in its own task; the mailbox stays free for pings. At the
//! due time, a text that no staff reply answers may also go through the optional AI check
//! (`ai_gate`, SPEC §10), which can only resolve, never open.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;

mod ai_gate;
mod cadence;
mod lookup;

use cadence::{DIRECT_BUDGET, PassMode, RECENT_CONVERSATIONS, plan_pass};
use lookup::{ack_check, lookup_name};

use super::store::StoreHandle;
use super::{ActorError, Ctx, call, cast, names, ping};
use crate::config::Config;
use crate::domain::event::{IssueKind, Status};
use crate::domain::issue::Issue;
use crate::domain::outcome::{Finding, FoundReply};
use crate::ghl::client::{GhlClient, GhlError, Message};
use crate::signals::PassInfo;

/// The resolver's protocol.
pub enum ResolverMsg {
    /// `POST /jobs/poll_resolver`: check up to `limit` live issues now.
    PollNow {
        /// Most issues to check.
        limit: usize,
        /// What the pass found and did.
        reply: RpcReplyPort<PollReport>,
    },
    /// The SLA clock: check these due issues once more before they open.
    CheckDue {
        /// The due PENDING issues.
        issues: Vec<Issue>,
        /// One finding per issue.
        reply: RpcReplyPort<Vec<Finding>>,
    },
    /// An issue was created without a contact name: look it up once in GHL.
    LookupName {
        /// The issue.
        issue_id: i64,
        /// Its contact.
        contact_id: String,
    },
    /// A text that only acknowledges opened an issue because no staff reply was known: ask
    /// GHL whether staff had answered just before it (SPEC §5.3).
    AckCheck {
        /// The issue.
        issue_id: i64,
    },
    /// The cadence timer: check OPEN issues if the business is open.
    Tick,
    /// The running GHL pass let go (sent by the pass itself): the next one may start.
    PassDone,
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts the resolver.
    Fail,
}

/// The resolver's API: callers never build a `ResolverMsg`. It finds the actor by name at each
/// call, so a restart is invisible.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResolverHandle;

impl ResolverHandle {
    /// Checks up to `limit` live issues against GHL now, waiting at most `timeout`.
    pub async fn poll_now(&self, limit: usize, timeout: Duration) -> Result<PollReport, ActorError> {
        call(names::RESOLVER, |reply| ResolverMsg::PollNow { limit, reply }, timeout).await
    }

    /// Checks due issues once more before they open; one finding per issue.
    pub async fn check_due(&self, issues: Vec<Issue>, timeout: Duration) -> Result<Vec<Finding>, ActorError> {
        call(names::RESOLVER, |reply| ResolverMsg::CheckDue { issues, reply }, timeout).await
    }

    /// Looks up a missing contact name once.
    pub fn lookup_name(&self, issue_id: i64, contact_id: String) {
        cast(names::RESOLVER, ResolverMsg::LookupName { issue_id, contact_id });
    }

    /// Asks GHL whether a staff reply came just before a text that only thanked it.
    pub fn ack_check(&self, issue_id: i64) {
        cast(names::RESOLVER, ResolverMsg::AckCheck { issue_id });
    }

    /// Runs the cadence check if it is due.
    pub fn tick(&self) {
        cast(names::RESOLVER, ResolverMsg::Tick);
    }

    /// Health ping.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ActorError> {
        ping(names::RESOLVER, ResolverMsg::Ping, timeout).await
    }

    /// Test hook: makes the resolver panic.
    pub fn fail(&self) {
        cast(names::RESOLVER, ResolverMsg::Fail);
    }
}

/// What a poll pass did, for `/jobs/poll_resolver`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PollReport {
    /// Issues checked.
    pub checked: usize,
    /// Issues resolved by a staff reply found in GHL.
    pub resolved: Vec<i64>,
    /// Conversations fetched.
    pub conversations_fetched: usize,
    /// What failed, in words.
    pub errors: Vec<String>,
}

/// The resolver actor.
pub struct Resolver;

/// A pass over GHL waiting for its turn: passes run one at a time, so a burst of requests
/// never multiplies GHL calls.
enum Pass {
    /// `POST /jobs/poll_resolver`.
    Poll { limit: usize, reply: RpcReplyPort<PollReport> },
    /// The cadence pass over OPEN issues.
    Cadence,
    /// The SLA clock's last check of due issues.
    CheckDue { issues: Vec<Issue>, reply: RpcReplyPort<Vec<Finding>> },
    /// Whether a lone "thanks" followed a staff reply.
    AckCheck { issue_id: i64 },
}

/// The context, the passes (one running, the rest waiting), and the cadence timer.
pub struct ResolverState {
    ctx: Ctx,
    /// Whether a pass runs now.
    passing: bool,
    /// Passes waiting for the running one, in order.
    waiting: std::collections::VecDeque<Pass>,
    /// Turns the cadence pass's budget over the OPEN issues, pass after pass.
    cursor: usize,
    /// When the next cadence pass is due (on the injected clock).
    next_pass_at: Timestamp,
    timer: Option<tokio::task::JoinHandle<()>>,
}

impl Actor for Resolver {
    type Msg = ResolverMsg;
    type State = ResolverState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<ResolverMsg>, ctx: Ctx) -> Result<ResolverState, ActorProcessingErr> {
        let next_pass_at = ctx.time.now() + ctx.config.resolver_interval;
        let mut state = ResolverState {
            ctx,
            passing: false,
            waiting: std::collections::VecDeque::new(),
            cursor: 0,
            next_pass_at,
            timer: None,
        };
        arm(&myself, &mut state);
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ResolverMsg>,
        state: &mut ResolverState,
    ) -> Result<(), ActorProcessingErr> {
        super::cancel(&mut state.timer);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ResolverMsg>,
        msg: ResolverMsg,
        state: &mut ResolverState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ResolverMsg::PollNow { limit, reply } => request(&myself, state, Pass::Poll { limit, reply }),
            ResolverMsg::Tick => {
                let now = state.ctx.time.now();
                if now < state.next_pass_at {
                    // Woken early (the test clock moved, or a restart): just re-arm.
                    arm(&myself, state);
                    return Ok(());
                }
                state.next_pass_at = now + state.ctx.config.resolver_interval;
                arm(&myself, state);
                if state.ctx.calendar().is_open(now) && state.ctx.signals.clock_trusted() {
                    request(&myself, state, Pass::Cadence);
                }
            }
            ResolverMsg::CheckDue { issues, reply } => request(&myself, state, Pass::CheckDue { issues, reply }),
            ResolverMsg::AckCheck { issue_id } => request(&myself, state, Pass::AckCheck { issue_id }),
            ResolverMsg::PassDone => {
                state.passing = false;
                if let Some(next) = state.waiting.pop_front() {
                    request(&myself, state, next);
                }
            }
            ResolverMsg::LookupName { issue_id, contact_id } => {
                let ctx = state.ctx.clone();
                tokio::spawn(async move { lookup_name(ctx, issue_id, contact_id).await });
            }
            ResolverMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            ResolverMsg::Fail => panic!("resolver: failure injected by a test"),
        }
        Ok(())
    }
}

/// Starts a pass, or queues it behind the running one. GHL calls block, so the pass runs on
/// the blocking pool beside the mailbox (which stays free for pings) and reports back with
/// [`ResolverMsg::PassDone`] once it no longer calls GHL.
fn request(myself: &ActorRef<ResolverMsg>, state: &mut ResolverState, pass: Pass) {
    if state.passing {
        state.waiting.push_back(pass);
        return;
    }
    state.passing = true;
    let (ctx, done) = (state.ctx.clone(), PassDone(myself.clone()));
    match pass {
        Pass::Poll { limit, reply } => {
            tokio::spawn(async move {
                let report = poll(ctx, vec![Status::Open, Status::Pending], limit).await;
                drop(done);
                let _ = reply.send(report);
            });
        }
        Pass::Cadence => {
            let turn = state.cursor;
            state.cursor = state.cursor.wrapping_add(DIRECT_BUDGET);
            tokio::spawn(async move {
                let report = poll_changed(ctx, turn).await;
                drop(done);
                if !report.resolved.is_empty() || !report.errors.is_empty() {
                    tracing::info!(resolved = ?report.resolved, errors = ?report.errors, "resolver pass");
                }
            });
        }
        Pass::CheckDue { issues, reply } => {
            tokio::spawn(async move {
                let (mut findings, threads) = check_due_blocking(&ctx, issues).await;
                drop(done);
                // The AI check runs after the GHL pass has let go, within its own budget.
                if !threads.is_empty() {
                    let mut checks = ai_gate::screen(&ctx, threads).await;
                    for finding in &mut findings {
                        finding.ai = checks.remove(&finding.issue_id);
                    }
                }
                let _ = reply.send(findings);
            });
        }
        Pass::AckCheck { issue_id } => {
            tokio::spawn(async move {
                ack_check(ctx, issue_id).await;
                drop(done);
            });
        }
    }
}

/// Tells the resolver its pass let go of GHL when dropped: at the point the pass says, or when
/// its task ends in any other way (a panic included), so a failed pass never blocks the rest.
struct PassDone(ActorRef<ResolverMsg>);

impl Drop for PassDone {
    fn drop(&mut self) {
        let _ = self.0.cast(ResolverMsg::PassDone);
    }
}

/// Arms the cadence timer for `next_pass_at`; only with a GHL token, so an appliance without
/// one never wakes for nothing.
fn arm(myself: &ActorRef<ResolverMsg>, state: &mut ResolverState) {
    super::cancel(&mut state.timer);
    if !state.ctx.ghl.is_configured() {
        return;
    }
    let delay = state.ctx.time.until(state.next_pass_at);
    state.timer = Some(super::wake_after(myself, delay, ResolverMsg::Tick));
}

/// One pass over live issues with the given statuses.
async fn poll(ctx: Ctx, statuses: Vec<Status>, limit: usize) -> PollReport {
    let store = StoreHandle::default();
    let issues = match store.list_issues(statuses).await {
        Ok(mut issues) => {
            issues.truncate(limit);
            issues
        }
        Err(err) => return PollReport { errors: vec![err.to_string()], ..PollReport::default() },
    };
    let mut report = PollReport { checked: issues.len(), ..PollReport::default() };
    if issues.is_empty() {
        return report;
    }
    let (findings, fetched) = check_blocking(&ctx, issues).await;
    report.conversations_fetched = fetched;
    report.errors = findings.iter().filter_map(|f| f.error.clone()).collect();
    report.errors.dedup();
    match store.apply_findings(findings).await {
        Ok(resolved) => report.resolved = resolved,
        Err(err) => report.errors.push(err.to_string()),
    }
    report
}

/// The cadence pass over OPEN issues. One search lists the recently active conversations;
/// where GHL gives each one's last message time and direction (not in its published schema,
/// but sent live), only the conversations answered since the issue began are read. Where it
/// does not, every OPEN issue's conversation is read, the least recently read first, at most
/// [`DIRECT_BUDGET`] per pass. How the pass ran is kept for `/status`.
async fn poll_changed(ctx: Ctx, turn: usize) -> PollReport {
    let statuses = vec![Status::Open];
    let store = StoreHandle::default();
    let open = match store.list_issues(statuses).await {
        Ok(open) => open,
        Err(err) => return PollReport { errors: vec![err.to_string()], ..PollReport::default() },
    };
    if open.is_empty() {
        return PollReport::default();
    }
    let client = ctx.ghl.clone();
    let recent = match tokio::task::spawn_blocking(move || client.recent_conversations(RECENT_CONVERSATIONS)).await {
        Ok(Ok(recent)) => recent,
        Ok(Err(err)) => {
            return PollReport { checked: open.len(), errors: vec![err.to_string()], ..PollReport::default() };
        }
        Err(err) => return PollReport { errors: vec![err.to_string()], ..PollReport::default() },
    };
    let total = open.len();
    let plan = plan_pass(open, &recent, &ctx.config, turn);
    let info = PassInfo {
        at: ctx.time.now(),
        mode: plan.mode.to_string(),
        open: total,
        checked: plan.check.len(),
        deferred: plan.deferred,
    };
    if plan.deferred > 0 || plan.mode != PassMode::Summary {
        tracing::info!(mode = plan.mode.to_string(), checked = info.checked, deferred = info.deferred, "resolver pass");
    }
    ctx.signals.set_resolver_pass(info);
    let mut report = PollReport { checked: plan.check.len(), ..PollReport::default() };
    if plan.check.is_empty() {
        return report;
    }
    let (findings, fetched) = check_blocking(&ctx, plan.check).await;
    report.conversations_fetched = fetched;
    report.errors = findings.iter().filter_map(|f| f.error.clone()).collect();
    match store.apply_findings(findings).await {
        Ok(resolved) => report.resolved = resolved,
        Err(err) => report.errors.push(err.to_string()),
    }
    report
}

/// Runs [`check`] on a blocking thread.
async fn check_blocking(ctx: &Ctx, issues: Vec<Issue>) -> (Vec<Finding>, usize) {
    let ctx = ctx.clone();
    let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
    match tokio::task::spawn_blocking(move || check(&ctx.ghl, &ctx.config, &issues)).await {
        Ok(result) => result,
        Err(err) => (failed_findings(ids, &format!("the GHL check failed: {err}")), 0),
    }
}

/// The check at the due time, on a blocking thread: the findings and, when the AI check is on,
/// the threads of due texts that no staff reply answers, read from the same GHL requests.
async fn check_due_blocking(ctx: &Ctx, issues: Vec<Issue>) -> (Vec<Finding>, Vec<ai_gate::Thread>) {
    let task_ctx = ctx.clone();
    let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
    let checked = tokio::task::spawn_blocking(move || {
        let (findings, conversations) = check_conversations(&task_ctx.ghl, &task_ctx.config, &issues);
        let threads = if task_ctx.config.ai_gate.enabled {
            ai_gate::threads(&issues, &findings, &conversations)
        } else {
            Vec::new()
        };
        (findings, threads)
    })
    .await;
    match checked {
        Ok(result) => result,
        Err(err) => (failed_findings(ids, &format!("the GHL check failed: {err}")), Vec::new()),
    }
}

fn failed_findings(ids: Vec<i64>, error: &str) -> Vec<Finding> {
    ids.into_iter()
        .map(|issue_id| Finding {
            issue_id,
            reply: None,
            conversation_id: None,
            error: Some(error.to_string()),
            ai: None,
        })
        .collect()
}

/// Looks for a staff reply to each issue, fetching each conversation at most once.
/// Returns the findings and how many conversations were fetched.
pub fn check(client: &GhlClient, config: &Config, issues: &[Issue]) -> (Vec<Finding>, usize) {
    let (findings, conversations) = check_conversations(client, config, issues);
    (findings, conversations.len())
}

/// What a check read from GHL: each conversation's messages (or why they could not be read).
type Conversations = HashMap<String, Result<Vec<Message>, GhlError>>;

/// [`check`], also returning the conversations it read.
fn check_conversations(client: &GhlClient, config: &Config, issues: &[Issue]) -> (Vec<Finding>, Conversations) {
    let mut conversations: Conversations = HashMap::new();
    let mut by_contact: HashMap<String, Result<Option<String>, GhlError>> = HashMap::new();
    // The oldest instant any issue of a conversation needs, so one fetch serves them all.
    let mut since: HashMap<String, Timestamp> = HashMap::new();
    let mut resolved_conversation: Vec<Option<String>> = Vec::with_capacity(issues.len());
    let mut errors: Vec<Option<String>> = vec![None; issues.len()];
    for (index, issue) in issues.iter().enumerate() {
        let conversation = match (&issue.conversation_id, &issue.contact_id) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(contact)) => {
                match by_contact.entry(contact.clone()).or_insert_with(|| client.find_conversation(contact)) {
                    Ok(found) => found.clone(),
                    Err(err) => {
                        errors[index] = Some(err.to_string());
                        None
                    }
                }
            }
            (None, None) => None,
        };
        if let Some(id) = &conversation {
            let needed = threshold(issue, config);
            since.entry(id.clone()).and_modify(|at| *at = (*at).min(needed)).or_insert(needed);
        }
        resolved_conversation.push(conversation);
    }
    let mut findings = Vec::with_capacity(issues.len());
    for ((issue, conversation), error) in issues.iter().zip(resolved_conversation).zip(errors) {
        let mut finding = Finding {
            issue_id: issue.id,
            reply: None,
            conversation_id: conversation.clone().filter(|_| issue.conversation_id.is_none()),
            error,
            ai: None,
        };
        if let Some(id) = conversation {
            let oldest = since.get(&id).copied().unwrap_or(issue.created_at);
            // Older messages on the same pages come along at no cost: the AI check's context.
            let messages = conversations.entry(id.clone()).or_insert_with(|| client.messages_reaching(&id, oldest));
            match messages {
                Ok(messages) => finding.reply = staff_reply_in(messages, issue, config),
                Err(err) => finding.error = Some(err.to_string()),
            }
        } else if finding.error.is_none() {
            finding.error = Some(format!("issue {} has no GHL conversation to check", issue.id));
        }
        findings.push(finding);
    }
    (findings, conversations)
}

/// A reply must be later than this to answer the issue (SPEC §5.2): the first inbound for a
/// text; for a call, the creation minus the lookback, for callbacks placed before the webhook.
pub fn threshold(issue: &Issue, config: &Config) -> Timestamp {
    match issue.kind {
        IssueKind::Sms => issue.first_inbound_at,
        IssueKind::Call => issue.created_at - config.call_resolve_lookback,
    }
}

/// The earliest message that is a staff reply answering the issue.
pub fn staff_reply_in(messages: &[Message], issue: &Issue, config: &Config) -> Option<FoundReply> {
    let party = issue.party();
    let after = threshold(issue, config);
    messages
        .iter()
        .filter(|message| message.date_added > after)
        .filter_map(|message| {
            let reply = message.as_outbound(&party)?.staff_reply(
                &config.internal_user_ids,
                config.call_voicemail,
                message.date_added,
            )?;
            reply.answers(issue.kind).then(|| FoundReply {
                message_id: message.id.clone(),
                at: message.date_added,
                acknowledged: false,
            })
        })
        .min_by_key(|found| found.at)
}
