//! The admin listener's jobs (`/jobs/*`, SPEC §2) and, under a manual clock, the test hooks
//! (`/debug/*`). A job asks an actor to act now and answers with what happened; a GHL outage
//! is reported in the JSON, never as a 500.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{HttpContext, Reply};
use crate::actors::CALL_TIMEOUT;
use crate::actors::catchup::CatchUpHandle;
use crate::actors::clock::ClockHandle;
use crate::actors::outbox::OutboxHandle;
use crate::actors::resolver::ResolverHandle;
use crate::actors::store::StoreError;
use crate::actors::store::StoreHandle;
use crate::actors::summary::SummaryHandle;
use crate::domain::issue::Delivery;
use crate::supervisor::Child;

fn limit_param(query: &HashMap<String, String>, default: usize) -> Result<usize, Reply> {
    match query.get("limit") {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| Reply::error(400, format!("limit={text:?}: expected a whole number from 1 to 10000"))),
    }
}

fn flag_param(query: &HashMap<String, String>, name: &str, default: bool) -> Result<bool, Reply> {
    match query.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(Reply::error(400, format!("{name}={v:?}: expected 1 or 0"))),
    }
}

pub(super) fn verify_pending(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let limit = match limit_param(query, 200) {
        Ok(limit) => limit,
        Err(reply) => return reply,
    };
    // The optional AI check may take up to its run budget before the settlement is known.
    let ai = &http.ctx.config.ai_gate;
    let wait = if ai.enabled { CALL_TIMEOUT + ai.run_budget } else { CALL_TIMEOUT };
    match http.runtime.block_on(ClockHandle.settle_now(limit, wait)) {
        Ok(report) => Reply::ok(json!({
            "job": "verify_pending",
            "checked": report.checked,
            "promoted_open": report.promoted_open.len(),
            "auto_resolved": report.auto_resolved.len(),
            "ai_resolved": report.ai_resolved.len(),
            "opened_ids": report.promoted_open,
            "resolved_ids": report.auto_resolved,
        })),
        Err(err) => Reply::ok(json!({
            "job": "verify_pending", "checked": 0, "promoted_open": 0, "auto_resolved": 0, "errors": [err.to_string()]
        })),
    }
}

/// How long `/jobs/poll_resolver` waits for a pass (GHL may be slow or rate-limiting).
const POLL_TIMEOUT: Duration = Duration::from_secs(600);

pub(super) fn poll_resolver(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let limit = match limit_param(query, 500) {
        Ok(limit) => limit,
        Err(reply) => return reply,
    };
    match http.runtime.block_on(ResolverHandle.poll_now(limit, POLL_TIMEOUT)) {
        Ok(report) => Reply::ok(json!({
            "job": "poll_resolver",
            "checked": report.checked,
            "resolved": report.resolved.len(),
            "resolved_ids": report.resolved,
            "conversations_fetched": report.conversations_fetched,
            "errors": report.errors,
            "ghl": http.ctx.ghl.status().state,
        })),
        // A GHL outage never turns a job into a 500 (SPEC §2).
        Err(err) => {
            Reply::ok(json!({ "job": "poll_resolver", "checked": 0, "resolved": 0, "errors": [err.to_string()] }))
        }
    }
}

/// `POST /jobs/test_sms`: one test text to each manager through the outbox (SPEC §13,
/// `sentinel doctor --send-test-sms`), answered once GHL took each or refused it (or after
/// [`SEND_WAIT`]).
pub(super) fn test_sms(http: &HttpContext) -> Reply {
    let now = http.ctx.time.now();
    let purpose = format!("doctor:test:{}", now.as_millisecond());
    let body = format!(
        "{}: a test text from sentinel doctor. If it reached you, alerts and digests will too. Reply OK so the installer sees it.",
        crate::domain::format::BRAND
    );
    let managers = http.ctx.config.manager_contact_ids.clone();
    let queued = http.runtime.block_on(StoreHandle::default().queue_notice(purpose.clone(), body, None, now));
    let queued = match queued {
        Ok(queued) => queued,
        Err(err) => return Reply::ok(json!({ "job": "test_sms", "sent": false, "errors": [err.to_string()] })),
    };
    if queued {
        OutboxHandle.wake();
    }
    let (sent, sent_to, errors) = sending(http, queued, managers.clone(), Some(purpose));
    Reply::ok(json!({
        "job": "test_sms",
        "queued_at": now.to_string(),
        "sent": sent,
        "managers": managers,
        "sent_to": sent_to,
        "errors": errors,
    }))
}

/// `GET /api/test_sms?since=<instant>`: each manager's latest "OK" at or after `since`, the
/// answers `sentinel doctor --send-test-sms` waits for (SPEC §13).
pub(super) fn test_sms_oks(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let Some(since) = query.get("since") else {
        return Reply::error(400, "since=<instant> is required, e.g. since=2026-03-02T15:00:00Z");
    };
    let Ok(since) = since.parse::<jiff::Timestamp>() else {
        return Reply::error(400, format!("since={since:?}: expected an instant such as 2026-03-02T15:00:00Z"));
    };
    match http.runtime.block_on(StoreHandle::default().manager_oks(since)) {
        Ok(oks) => {
            let oks: Vec<_> =
                oks.into_iter().map(|(contact, at)| json!({ "contact_id": contact, "at": at.to_string() })).collect();
            Reply::ok(json!({ "since": since.to_string(), "oks": oks }))
        }
        Err(err) => Reply::error(503, format!("the store did not answer: {err}")),
    }
}

/// `POST /jobs/catchup`: a catch-up pass now (SPEC §12), answered with what it found.
pub(super) fn catchup(http: &HttpContext) -> Reply {
    match http.runtime.block_on(CatchUpHandle.run_now(POLL_TIMEOUT)) {
        Ok(report) => {
            let mut answer = serde_json::to_value(&report).unwrap_or_default();
            answer["job"] = json!("catchup");
            Reply::ok(answer)
        }
        // A GHL outage never turns a job into a 500 (SPEC §2).
        Err(err) => Reply::ok(json!({ "job": "catchup", "found": 0, "created": 0, "error": err.to_string() })),
    }
}

fn delivery(query: &HashMap<String, String>) -> Result<Delivery, Reply> {
    Ok(if flag_param(query, "dry_run", false)? { Delivery::DryRun } else { Delivery::Queue })
}

pub(super) fn send_summary(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let delivery = match delivery(query) {
        Ok(delivery) => delivery,
        Err(reply) => return reply,
    };
    let Some(slot) = query.get("slot").cloned() else {
        return Reply::error(400, "slot: expected one of the SUMMARY_SLOTS names, e.g. morning");
    };
    match http.runtime.block_on(SummaryHandle.send_digest(slot.clone(), delivery)) {
        Ok(report) => {
            let (sent, sent_to, mut errors) = sending(http, report.queued, report.sent_to, report.purpose);
            if report.already_sent {
                errors.push("this slot was already sent today".to_string());
            }
            Reply::ok(json!({
                "job": "send_summary",
                "slot": report.slot,
                "overdue_sms": report.overdue_sms,
                "overdue_calls": report.overdue_calls,
                "resolved_since": report.resolved_since,
                "dry_run": delivery == Delivery::DryRun,
                "body": report.body,
                "sent": sent,
                "sent_to": sent_to,
                "errors": errors,
            }))
        }
        Err(err @ StoreError::UnknownSlot { .. }) => Reply::error(400, err.to_string()),
        Err(err) => {
            Reply::ok(json!({ "job": "send_summary", "slot": slot, "sent": false, "errors": [err.to_string()] }))
        }
    }
}

/// How long a job waits for its SMS to go out before it answers with where they stand.
const SEND_WAIT: Duration = Duration::from_secs(10);

/// What a job may truthfully say of its SMS (SPEC §2, §8): "sent" only for managers GHL
/// accepted it for. The outbox sends within moments of the queueing; the job waits up to
/// [`SEND_WAIT`] and then says what is still waiting and why (GHL down, no token), since the
/// outbox goes on retrying after the answer.
fn sending(
    http: &HttpContext,
    queued: bool,
    queued_for: Vec<String>,
    purpose: Option<String>,
) -> (bool, Vec<String>, Vec<String>) {
    let Some(purpose) = purpose.filter(|_| queued) else {
        return (false, Vec::new(), Vec::new());
    };
    if http.ctx.config.ghl.token.is_none() {
        return (
            false,
            Vec::new(),
            vec![format!("not sent: no GHL_TOKEN ({} manager(s) would have got it)", queued_for.len())],
        );
    }
    let started = Instant::now();
    let rows = loop {
        let purpose = purpose.clone();
        let rows = match http.runtime.block_on(StoreHandle::default().outbox_progress(purpose)) {
            Ok(rows) => rows,
            Err(err) => return (false, Vec::new(), vec![format!("queued, but its progress is unknown: {err}")]),
        };
        // Done when every row was sent, given up, or tried once and failed (it is retried later).
        let settled = rows.iter().all(|row| row.status != "pending" || row.last_error.is_some());
        if settled || started.elapsed() >= SEND_WAIT {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut sent_to: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for row in rows {
        let (contact, error) = (row.contact_id, row.last_error);
        match row.status.as_str() {
            "sent" => {
                if !sent_to.contains(&contact) {
                    sent_to.push(contact);
                }
            }
            "pending" => errors.push(format!(
                "not sent yet to {contact}: {}; queued, the outbox retries it",
                error.unwrap_or_else(|| "GHL has not answered yet".to_string())
            )),
            other => errors.push(format!("not sent to {contact} ({other}): {}", error.unwrap_or_default())),
        }
    }
    (!sent_to.is_empty(), sent_to, errors)
}

pub(super) fn escalations(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let delivery = match delivery(query) {
        Ok(delivery) => delivery,
        Err(reply) => return reply,
    };
    match http.runtime.block_on(SummaryHandle.send_alert(delivery)) {
        Ok(report) => {
            let (sent, sent_to, errors) = sending(http, report.queued, report.sent_to, report.purpose);
            Reply::ok(json!({
                "job": "escalations",
                "new_breaches": report.new_breaches,
                "dry_run": delivery == Delivery::DryRun,
                "body": report.body,
                "sent": sent,
                "sent_to": sent_to,
                "errors": errors,
            }))
        }
        Err(err) => Reply::ok(json!({ "job": "escalations", "sent": false, "errors": [err.to_string()] })),
    }
}

pub(super) fn cleanup_raw_events(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let days = match query.get("days") {
        None => http.ctx.config.raw_events_retention_days,
        Some(text) => match text.parse::<u32>() {
            Ok(days) if days >= 1 => days,
            _ => {
                return Reply::error(400, format!("days={text:?}: expected a whole number of days, at least 1"));
            }
        },
    };
    let dry_run = match flag_param(query, "dry_run", true) {
        Ok(dry_run) => dry_run,
        Err(reply) => return reply,
    };
    let before = http.ctx.time.now() - jiff::SignedDuration::from_hours(24 * i64::from(days));
    match http.runtime.block_on(StoreHandle::default().prune_raw_events(before, dry_run)) {
        Ok(count) => Reply::ok(json!({
            "job": "cleanup_raw_events",
            "retention_days": days,
            "eligible": count,
            "deleted": if dry_run { 0 } else { count },
            "dry_run": dry_run,
        })),
        Err(err) => Reply::error(503, err.to_string()),
    }
}

pub(super) fn inject_failure(query: &HashMap<String, String>) -> Reply {
    match query.get("actor").and_then(|name| Child::from_name(name)) {
        Some(child) => {
            child.inject_failure();
            Reply::ok(json!({ "failed": child.name() }))
        }
        None => Reply::error(400, "actor: expected store, intake, clock, resolver, summary or outbox"),
    }
}

pub(super) fn wedge(query: &HashMap<String, String>) -> Reply {
    let Some(seconds) = query.get("seconds").and_then(|s| s.parse::<u64>().ok()).filter(|s| *s <= 600) else {
        return Reply::error(400, "seconds: expected a whole number up to 600");
    };
    StoreHandle::default().wedge(Duration::from_secs(seconds));
    Reply::ok(json!({ "wedged": "store", "seconds": seconds }))
}

pub(super) fn set_clock(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let instant = |name: &str| query.get(name).map(|text| text.parse::<jiff::Timestamp>());
    let time = &http.ctx.time;
    match (instant("set"), instant("step")) {
        (Some(Ok(to)), _) => {
            time.set(to);
        }
        (_, Some(Ok(to))) => {
            time.step(to);
        }
        (Some(Err(_)), _) | (_, Some(Err(_))) => {
            return Reply::error(400, "set/step: expected an RFC 3339 instant, e.g. 2026-03-02T15:00:00Z");
        }
        (None, None) if query.contains_key("synchronized") => {}
        (None, None) => {
            return Reply::error(400, "set: expected an RFC 3339 instant, e.g. 2026-03-02T15:00:00Z");
        }
    }
    if let Some(flag) = query.get("synchronized") {
        match flag.as_str() {
            "1" | "true" => time.set_synchronized(true),
            "0" | "false" => time.set_synchronized(false),
            _ => return Reply::error(400, "synchronized: expected 1 or 0"),
        };
    }
    // The clock watcher looks at once, as it would within two seconds on a real clock.
    let change = crate::clockwatch::look(&http.ctx);
    crate::clockwatch::act(&http.ctx, change);
    // The clock and the summary sender sleep on real time; moving the test clock must wake them.
    ClockHandle.rescheduled();
    StoreHandle::default().nightly();
    SummaryHandle.wake();
    ResolverHandle.tick();
    OutboxHandle.wake();
    CatchUpHandle.tick();
    Reply::ok(json!({ "now": time.now(), "trusted": http.ctx.signals.clock_trusted() }))
}

/// `POST /jobs/restart`: `sentinel update` switched slots and asks for the new version. The
/// service stops as on SIGTERM (requests in progress get their answer) and exits with
/// `update::RESTART_EXIT`, which the unit restarts on.
pub(super) fn restart() -> Reply {
    crate::update::request_restart("asked through /jobs/restart");
    Reply::ok(json!({ "job": "restart", "restarting": true, "exit_code": crate::update::RESTART_EXIT }))
}
