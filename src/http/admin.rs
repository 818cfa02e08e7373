//! The admin listener's read side: `/health` (on both listeners), `/api/status`, the status
//! page, `/metrics`, and the issues API with marking a number as spam.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::{HttpContext, Reply};
use crate::actors::store::StoreHandle;
use crate::domain::event::{IssueKind, Status};
use crate::domain::phone::Phone;
use crate::status;
use crate::supervisor::probe_all;

/// How long `/health` waits for each actor.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) fn health(http: &HttpContext) -> Reply {
    let actors = http.runtime.block_on(probe_all(HEALTH_TIMEOUT));
    let disk_full = http.ctx.signals.disk_full();
    let ok = actors.iter().all(|actor| actor.ok) && !disk_full;
    let ghl = http.ctx.ghl.status();
    let uptime = http.ctx.uptime().as_secs();
    let mut body = json!({
        "ok": ok,
        "version": crate::version::running(),
        "uptime_seconds": uptime,
        "actors": actors,
        "ghl": ghl.state,
        "ghl_detail": ghl,
        "tunnel": http.ctx.signals.tunnel().as_str(),
        "webhooks": if http.ctx.config.catchup.webhooks { "on" } else { "off" },
        "quiet_day": http.ctx.signals.quiet_day(),
        "clock": clock_json(&http.ctx.signals.clock()),
        "network": http.ctx.signals.network(),
    });
    let degraded = http.ctx.signals.degraded(ghl.state);
    body["state"] = json!(if !ok {
        "failing"
    } else if degraded {
        "degraded"
    } else {
        "healthy"
    });
    if let Some(reason) = http.ctx.signals.degraded_reason() {
        body["degraded_reason"] = json!(reason);
    }
    if disk_full {
        body["reason"] = json!(crate::signals::DISK_FULL);
    } else if !ok {
        let failing: Vec<&str> = actors.iter().filter(|a| !a.ok).map(|a| a.name).collect();
        body["reason"] = json!(format!("not answering: {}", failing.join(", ")));
    }
    Reply::json(if ok { 200 } else { 503 }, body)
}

/// The wall clock's standing for `/health` (issue 15).
fn clock_json(trust: &crate::signals::ClockTrust) -> Value {
    json!({
        "trusted": trust.untrusted.is_none(),
        "reason": trust.untrusted,
        "last_step_seconds": trust.last_step.map(|(_, seconds)| seconds),
        "replayed": trust.replayed,
    })
}

/// The status snapshot, with what only the listeners know (the guard's counters).
fn gather(http: &HttpContext) -> anyhow::Result<(status::Snapshot, Vec<crate::domain::issue::Issue>)> {
    let (mut snapshot, live) = http.runtime.block_on(status::gather(&http.ctx))?;
    let guard = http.guard.stats();
    snapshot.auth_failures = guard.failures;
    snapshot.auth_slowed = guard.slowed;
    let pins = http.pins.stats();
    (snapshot.pins_checked, snapshot.pins_unchecked) = (pins.checked, pins.refused);
    Ok((snapshot, live))
}

pub(super) fn status_json(http: &HttpContext) -> Reply {
    match gather(http) {
        Ok((snapshot, _)) => Reply::ok(json!(snapshot)),
        Err(err) => Reply::error(503, format!("{err:#}")),
    }
}

pub(super) fn metrics(http: &HttpContext) -> Reply {
    match gather(http) {
        Ok((snapshot, _)) => Reply::text(status::metrics(&snapshot, &http.ctx.ghl.status(), &http.ctx.ai.status())),
        Err(err) => Reply::error(503, format!("{err:#}")),
    }
}

pub(super) fn status_page(http: &HttpContext) -> Reply {
    match gather(http) {
        Ok((snapshot, live)) => {
            let now = http.ctx.time.now();
            Reply::html(status::html(&snapshot, &live, now, http.ctx.config.calendar.zone()))
        }
        Err(err) => Reply::error(503, format!("{err:#}")),
    }
}

pub(super) fn list_issues(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let mut statuses = Vec::new();
    for name in query.get("status").map(String::as_str).unwrap_or_default().split(',') {
        if name.trim().is_empty() {
            continue;
        }
        match Status::parse(name) {
            Some(status) => statuses.push(status),
            None => {
                return Reply::error(400, format!("unknown status {name:?}; expected PENDING, OPEN, RESOLVED or SPAM"));
            }
        }
    }
    match http.runtime.block_on(StoreHandle::default().list_issues(statuses)) {
        Ok(issues) => Reply::ok(json!({ "issues": issues.iter().map(issue_json).collect::<Vec<_>>() })),
        Err(err) => Reply::error(503, err.to_string()),
    }
}

/// An issue as the API shows it: its stored fields, with a CALL's repeat count under the
/// name SPEC §5.1 gives it, `attempts`.
fn issue_json(issue: &crate::domain::issue::Issue) -> Value {
    let mut value = json!(issue);
    if issue.kind == IssueKind::Call {
        value["attempts"] = json!(issue.inbound_count);
    }
    value
}

pub(super) fn get_issue(http: &HttpContext, id: &str) -> Reply {
    let Ok(id) = id.trim_start_matches('#').parse::<i64>() else {
        return Reply::error(400, format!("{id:?} is not an issue number"));
    };
    match http.runtime.block_on(StoreHandle::default().issue(id)) {
        Ok(Some((issue, timeline))) => {
            let mut body = json!({ "issue": issue_json(&issue), "timeline": timeline });
            body["issue"]["timeline"] = body["timeline"].clone();
            Reply::ok(body)
        }
        Ok(None) => Reply::error(404, format!("no issue #{id}")),
        Err(err) => Reply::error(503, err.to_string()),
    }
}

pub(super) fn mark_spam(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let given = query.get("phone").map(String::as_str).unwrap_or_default();
    let Some(phone) = Phone::parse(given) else {
        return Reply::error(400, format!("phone={given:?}: expected a phone number, e.g. +12145550199"));
    };
    let by = "admin".to_string();
    let shown = phone.masked();
    match http.runtime.block_on(StoreHandle::default().mark_spam(phone, by)) {
        Ok(marked) => Reply::ok(json!({ "spam": shown, "marked_spam": marked })),
        Err(err) => Reply::error(503, err.to_string()),
    }
}
