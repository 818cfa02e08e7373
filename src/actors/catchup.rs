//! Catch-up: asks GHL what came in that no webhook brought (SPEC §12).
//!
//! A webhook sent while the box restarts, or while the tunnel is down, is lost whenever GHL
//! gives up on it. After every gap (the start, the tunnel back up, the clock believed again),
//! on a cadence in business hours, and on `POST /jobs/catchup`, a pass lists the location's
//! conversations whose last message is inbound, and those whose last message is an automated
//! reply (a missed call's text-back hides the call from the first), with two
//! `GET /conversations/search` newest first, paged back to the watermark; it reads only those
//! that changed since Sentinel last knew them
//! (`domain::catchup`), and hands each text and call found to the store as the event its webhook
//! would have been (`ghl::catchup`): judged at its own time, and once, by the same message keys
//! as intake. Passes run one at a time, on the blocking pool, within the GHL client's shared
//! rate limiter and daily budget; the mailbox stays free for pings.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;

use super::store::StoreHandle;
use super::{ActorError, Ctx, call, cast, names, ping};
use crate::db::events::{RawEvent, body_hash};
use crate::db::found::{FoundEvent, FoundPass, Observed};
use crate::domain::catchup::{self, Listed};
use crate::ghl::catchup::{Found, ROUTE, Rules, found_in};
use crate::ghl::client::{GhlClient, GhlError};
use crate::ghl::payload::{self, ParseOptions};
use crate::signals::CatchUpInfo;

/// Conversations per search page.
const PAGE: usize = 50;
/// Search pages a pass reads at most: 250 conversations changed since the watermark.
const MAX_PAGES: usize = 5;
/// Conversations a pass reads at most; the rest wait for the next pass, whose watermark does
/// not move on until all were read.
const MAX_READS: usize = 40;

/// Catch-up's protocol.
pub enum CatchUpMsg {
    /// Run a pass now, for this reason; answer with its report when asked.
    Run {
        /// `start`, `tunnel back`, `clock trusted`, `job`.
        reason: &'static str,
        /// Where the report goes, for `POST /jobs/catchup`.
        reply: Option<RpcReplyPort<PassReport>>,
    },
    /// The cadence timer (or a move of the test clock).
    Tick,
    /// The running pass ended (sent by the pass itself).
    PassDone,
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts it.
    Fail,
}

/// Catch-up's API: callers never build a `CatchUpMsg`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchUpHandle;

impl CatchUpHandle {
    /// Runs a pass after a gap (`tunnel back`, `clock trusted`); nothing waits for it.
    pub fn after_gap(&self, reason: &'static str) {
        cast(names::CATCHUP, CatchUpMsg::Run { reason, reply: None });
    }

    /// Runs a pass now and waits at most `timeout` for its report.
    pub async fn run_now(&self, timeout: Duration) -> Result<PassReport, ActorError> {
        call(names::CATCHUP, |reply| CatchUpMsg::Run { reason: "job", reply: Some(reply) }, timeout).await
    }

    /// Runs the cadence pass if it is due.
    pub fn tick(&self) {
        cast(names::CATCHUP, CatchUpMsg::Tick);
    }

    /// Health ping.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ActorError> {
        ping(names::CATCHUP, CatchUpMsg::Ping, timeout).await
    }

    /// Test hook: makes it panic.
    pub fn fail(&self) {
        cast(names::CATCHUP, CatchUpMsg::Fail);
    }
}

/// What one pass did: `POST /jobs/catchup`'s answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    /// Why it ran.
    pub reason: &'static str,
    /// The instant it looked back to.
    pub since: Option<Timestamp>,
    /// The instant it ran.
    pub until: Option<Timestamp>,
    /// `lastMessageDate` where GHL sent it, else `published fields`.
    pub mode: &'static str,
    /// Search requests made.
    pub searches: usize,
    /// Conversations read.
    pub conversations_read: usize,
    /// Events stored that no webhook had delivered.
    pub found: usize,
    /// Issues opened.
    pub created: usize,
    /// Messages a webhook (or an earlier pass) had already brought.
    pub duplicates: usize,
    /// Managers' commands noted, not run.
    pub commands_noted: usize,
    /// Customer messages found by catch-up today.
    pub found_today: u64,
    /// The longest a found message had waited in GHL, in seconds.
    pub largest_gap_seconds: i64,
    /// The first pass of a new box: it only marks where the next one looks from.
    pub baseline: bool,
    /// Why it failed or stopped short, when it did.
    pub error: Option<String>,
}

/// The catch-up actor.
pub struct CatchUp;

/// The context, the passes (one running, the rest waiting), and the cadence timer.
pub struct CatchUpState {
    ctx: Ctx,
    passing: bool,
    waiting: VecDeque<(&'static str, Option<RpcReplyPort<PassReport>>)>,
    next_pass_at: Option<Timestamp>,
    timer: Option<tokio::task::JoinHandle<()>>,
}

impl Actor for CatchUp {
    type Msg = CatchUpMsg;
    type State = CatchUpState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<CatchUpMsg>, ctx: Ctx) -> Result<CatchUpState, ActorProcessingErr> {
        let mut state = CatchUpState { ctx, passing: false, waiting: VecDeque::new(), next_pass_at: None, timer: None };
        if state.ctx.ghl.is_configured() {
            // The start is a gap: what came while the box was off is looked for at once. With
            // the clock not yet believed, the pass waits for `clock trusted`.
            if state.ctx.signals.clock_trusted() {
                request(&myself, &mut state, "start", None);
            }
            let now = state.ctx.time.now();
            state.next_pass_at = catchup::next_pass(&state.ctx.calendar(), now, state.ctx.config.catchup.interval);
            arm(&myself, &mut state);
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<CatchUpMsg>,
        state: &mut CatchUpState,
    ) -> Result<(), ActorProcessingErr> {
        super::cancel(&mut state.timer);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<CatchUpMsg>,
        msg: CatchUpMsg,
        state: &mut CatchUpState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CatchUpMsg::Run { reason, reply } => request(&myself, state, reason, reply),
            CatchUpMsg::Tick => {
                let now = state.ctx.time.now();
                let due = state.next_pass_at.is_some_and(|at| now >= at);
                if due {
                    let interval = state.ctx.config.catchup.interval;
                    state.next_pass_at = catchup::next_pass(&state.ctx.calendar(), now, interval);
                    if state.ctx.signals.clock_trusted() && state.ctx.calendar().is_open(now) {
                        request(&myself, state, "cadence", None);
                    }
                }
                arm(&myself, state);
            }
            CatchUpMsg::PassDone => {
                state.passing = false;
                if let Some((reason, reply)) = state.waiting.pop_front() {
                    request(&myself, state, reason, reply);
                }
            }
            CatchUpMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            CatchUpMsg::Fail => panic!("catch-up: failure injected by a test"),
        }
        Ok(())
    }
}

/// Starts a pass, or queues it behind the running one; a second unanswered request waiting
/// adds nothing (the one waiting covers it).
fn request(
    myself: &ActorRef<CatchUpMsg>,
    state: &mut CatchUpState,
    reason: &'static str,
    reply: Option<RpcReplyPort<PassReport>>,
) {
    if state.passing {
        if reply.is_some() || !state.waiting.iter().any(|(_, waiting)| waiting.is_none()) {
            state.waiting.push_back((reason, reply));
        }
        return;
    }
    state.passing = true;
    let ctx = state.ctx.clone();
    let done = PassDone(myself.clone());
    tokio::spawn(async move {
        let report = pass(&ctx, reason).await;
        drop(done);
        if report.found > 0 || report.error.is_some() {
            tracing::info!(
                reason,
                found = report.found,
                created = report.created,
                error = report.error.as_deref().unwrap_or(""),
                "catch-up pass"
            );
        }
        if let Some(reply) = reply {
            let _ = reply.send(report);
        }
    });
}

/// Tells the actor its pass ended when dropped, however the pass's task ends.
struct PassDone(ActorRef<CatchUpMsg>);

impl Drop for PassDone {
    fn drop(&mut self) {
        let _ = self.0.cast(CatchUpMsg::PassDone);
    }
}

/// Arms the cadence timer for the next pass.
fn arm(myself: &ActorRef<CatchUpMsg>, state: &mut CatchUpState) {
    super::cancel(&mut state.timer);
    if let Some(at) = state.next_pass_at {
        let delay = state.ctx.time.until(at).max(Duration::from_millis(10));
        state.timer = Some(super::wake_after(myself, delay, CatchUpMsg::Tick));
    }
}

/// One pass, start to end; what it did is kept for `/status` as well as returned.
async fn pass(ctx: &Ctx, reason: &'static str) -> PassReport {
    let now = ctx.time.now();
    let mut report = PassReport { reason, until: Some(now), ..PassReport::default() };
    if let Err(why) = run(ctx, now, &mut report).await {
        report.error = Some(why);
    }
    let before = ctx.signals.catchup().unwrap_or_default();
    ctx.signals.set_catchup(CatchUpInfo {
        last_pass_at: Some(now),
        reason: reason.to_string(),
        mode: report.mode.to_string(),
        searches: report.searches,
        conversations_read: report.conversations_read,
        found: report.found,
        found_today: report.found_today,
        found_total: before.found_total + report.found as u64,
        largest_gap_seconds: before.largest_gap_seconds.max(report.largest_gap_seconds),
        error: report.error.clone(),
    });
    report
}

async fn run(ctx: &Ctx, now: Timestamp, report: &mut PassReport) -> Result<(), String> {
    if !ctx.ghl.is_configured() {
        return Err("no GHL token: catch-up cannot ask GHL".to_string());
    }
    if !ctx.signals.clock_trusted() {
        return Err("the clock is not believed yet; the pass runs once it is".to_string());
    }
    let store = StoreHandle::default();
    let watermark = store.catchup_watermark().await.map_err(|err| err.to_string())?;
    let since = catchup::since(watermark, now, ctx.config.catchup.lookback);
    report.since = Some(since);
    report.baseline = watermark.is_none();
    if report.baseline {
        // A new box: what came before it was installed is not its to answer. It looks from
        // now on, and asks GHL nothing yet.
        let zone = ctx.config.calendar.zone().clone();
        let day = now.to_zoned(zone).date().to_string();
        let pass = FoundPass { events: Vec::new(), observed: Vec::new(), watermark: Some(now), found_at: now, day };
        store.apply_catchup(pass).await.map_err(|err| err.to_string())?;
        return Ok(());
    }

    let client = ctx.ghl.clone();
    let (listed, searches, search_error) = blocking(move || search(&client, since)).await?;
    report.searches = searches;
    report.mode = if listed.iter().any(|l| l.last_at.is_some()) { "lastMessageDate" } else { "published fields" };
    let ids: Vec<String> = listed.iter().map(|l| l.id.clone()).collect();
    let seen = store.conversations_seen(ids).await.map_err(|err| err.to_string())?;
    let mut changed: Vec<Listed> =
        listed.iter().filter(|l| catchup::changed(l, seen.get(&l.id), since)).cloned().collect();
    let capped = changed.len() > MAX_READS;
    changed.truncate(MAX_READS);

    let client = ctx.ghl.clone();
    let rules_config = ctx.config.clone();
    let location = ctx.ghl.location_id();
    let reads = blocking(move || {
        let rules =
            Rules { internal_user_ids: &rules_config.internal_user_ids, voicemail: rules_config.call_voicemail };
        read(&client, &changed, location.as_deref(), since, now, rules)
    })
    .await?;
    report.conversations_read = reads.read.len();

    let options = ParseOptions {
        missed_marker_keys: ctx.config.call_missed_marker_keys.clone(),
        require_missed_marker: ctx.config.call_require_missed_marker,
    };
    let mut events: Vec<FoundEvent> = reads.found.into_iter().map(|found| event(found, &options)).collect();
    events.sort_by_key(|event| event.at);
    let observed = listed
        .iter()
        .map(|l| {
            let read = reads.read.get(&l.id);
            Observed {
                id: l.id.clone(),
                last_at: l.last_at.or(read.copied().flatten()).unwrap_or(now),
                fingerprint: l.fingerprint.clone(),
                unread: l.unread,
                known: read.is_some(),
            }
        })
        .collect();
    let complete = search_error.is_none() && reads.errors.is_empty() && !capped;
    let zone = ctx.config.calendar.zone().clone();
    let pass = FoundPass {
        events,
        observed,
        watermark: complete.then_some(now),
        found_at: now,
        day: now.to_zoned(zone).date().to_string(),
    };
    let tally = store.apply_catchup(pass).await.map_err(|err| err.to_string())?;
    report.found = tally.found;
    report.created = tally.created;
    report.duplicates = tally.duplicates;
    report.commands_noted = tally.noted;
    report.found_today = tally.found_today;
    report.largest_gap_seconds = tally.largest_gap_seconds;
    if tally.customer > 0 {
        tell_managers(ctx, now, tally.found_today).await;
    }
    let mut problems: Vec<String> = search_error.into_iter().chain(reads.errors).collect();
    if capped {
        problems.push(format!("more than {MAX_READS} conversations changed; the next pass reads the rest"));
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}

/// Runs GHL's blocking calls off the runtime's threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(work).await.map_err(|err| format!("the catch-up pass failed: {err}"))
}

/// The conversations listed since `since` by both searches (last message inbound; last
/// message an automated reply), each once, the searches it took, and why paging stopped short,
/// if it did.
fn search(client: &GhlClient, since: Timestamp) -> (Vec<Listed>, usize, Option<String>) {
    let (mut listed, mut searches, mut problems) = (Vec::<Listed>::new(), 0, Vec::new());
    for automated in [false, true] {
        let (found, made, problem) = search_one(client, automated, since);
        searches += made;
        problems.extend(problem);
        for conversation in found {
            if !listed.iter().any(|known| known.id == conversation.id) {
                listed.push(conversation);
            }
        }
        if problems.iter().any(|problem| problem.starts_with("GHL")) {
            break;
        }
    }
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    (listed, searches, problem)
}

/// One search, paged back to `since`.
fn search_one(client: &GhlClient, automated: bool, since: Timestamp) -> (Vec<Listed>, usize, Option<String>) {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for page_number in 0..MAX_PAGES {
        let (page, next) = match client.catchup_conversations(automated, PAGE, cursor.as_deref()) {
            Ok(answer) => answer,
            Err(err) => return (listed, page_number + 1, Some(format!("GHL search: {err}"))),
        };
        let more = catchup::page_on(&page, PAGE, since);
        listed.extend(page);
        match next {
            Some(next) if more && cursor.as_ref() != Some(&next) => cursor = Some(next),
            _ => return (listed, page_number + 1, None),
        }
    }
    (listed, MAX_PAGES, Some(format!("more than {} conversations changed; the next pass goes on", PAGE * MAX_PAGES)))
}

/// What reading the changed conversations gave.
struct Reads {
    found: Vec<Found>,
    /// Each conversation read, with its newest message's time.
    read: HashMap<String, Option<Timestamp>>,
    errors: Vec<String>,
}

fn read(
    client: &GhlClient,
    changed: &[Listed],
    location: Option<&str>,
    since: Timestamp,
    now: Timestamp,
    rules: Rules<'_>,
) -> Reads {
    let mut reads = Reads { found: Vec::new(), read: HashMap::new(), errors: Vec::new() };
    for listed in changed {
        match client.messages_since(&listed.id, since) {
            Ok(messages) => {
                let newest = messages.iter().map(|m| m.date_added).max();
                reads.found.extend(found_in(&listed.id, location, &messages, since, now, rules));
                reads.read.insert(listed.id.clone(), newest);
            }
            Err(err) => {
                reads.errors.push(format!("conversation {}: {err}", listed.id));
                if matches!(
                    err,
                    GhlError::Auth(_)
                        | GhlError::Scope(_)
                        | GhlError::CircuitOpen
                        | GhlError::BudgetExhausted
                        | GhlError::RateLimited(_)
                ) {
                    break;
                }
            }
        }
    }
    reads
}

/// A found message as the raw event and parsed event a webhook would have made.
fn event(found: Found, options: &ParseOptions) -> FoundEvent {
    let parsed = payload::parse(ROUTE, &found.body, options);
    let text = serde_json::Value::Object(found.body).to_string();
    let raw = RawEvent {
        received_at: found.at,
        route: ROUTE.as_str(),
        idem_keys: parsed.idem_keys(),
        body_hash: body_hash(ROUTE.as_str(), text.as_bytes()),
        body: text,
    };
    FoundEvent { raw, parsed, at: found.at }
}

/// More customer messages than `CATCHUP_ALERT_AFTER` found in one business day mean the way in
/// is broken: managers are told once that day, as when no webhook came all day.
async fn tell_managers(ctx: &Ctx, now: Timestamp, found_today: u64) {
    let config = &ctx.config.catchup;
    if !config.webhooks || config.alert_after == 0 || found_today <= u64::from(config.alert_after) {
        return;
    }
    let zone = ctx.config.calendar.zone().clone();
    let today = now.to_zoned(zone).date();
    if !ctx.calendar().is_business_day(today) {
        return;
    }
    let body = format!(
        "{} — {found_today} customer messages today were found by catch-up: no webhook brought them. The way in is \
         broken: check the tunnel and the GHL workflows.",
        crate::domain::format::BRAND
    );
    match StoreHandle::default().queue_notice(format!("notice:catchup:{today}"), body, None, now).await {
        Ok(true) => tracing::warn!(found_today, "managers told that webhooks are not arriving"),
        Ok(false) => {}
        Err(err) => tracing::warn!("queueing the catch-up notice failed: {err}"),
    }
}
