//! Building managers' digests and breach alerts inside one transaction (SPEC §6).
//!
//! The text comes from `domain::format`; this file chooses the issues, claims the slot and
//! queues one outbox row per manager (and per SMS part) in the same commit, so a digest
//! slot or an alert batch is queued exactly once however often the process restarts.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::issues;
use super::outbox::{self, NewEntry, WATERMARK_KEY};
use super::{kv_get, kv_set, parse_ts, ts};
use crate::config::Config;
use crate::domain::event::{IssueKind, Status};
use crate::domain::format::{self, Digest, Item, Resolved};
use crate::domain::issue::{Delivery, Issue};
use crate::domain::notify::EventKind;
use crate::domain::phone::mask_digits;

/// What building a digest did, for `/jobs/send_summary`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DigestReport {
    /// The slot's name.
    pub slot: String,
    /// OPEN texts.
    pub overdue_sms: usize,
    /// OPEN calls.
    pub overdue_calls: usize,
    /// Resolutions listed.
    pub resolved_since: usize,
    /// The text.
    pub body: String,
    /// Whether it was queued now.
    pub queued: bool,
    /// Whether this slot was already sent today (nothing was queued again).
    pub already_sent: bool,
    /// Managers it was queued for.
    pub sent_to: Vec<String>,
    /// The outbox purpose it was queued under, to follow its sending.
    pub purpose: Option<String>,
}

/// What building an alert did, for `/jobs/escalations`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertReport {
    /// OPEN issues not alerted yet.
    pub new_breaches: usize,
    /// The text (empty when there is nothing to say).
    pub body: String,
    /// Whether it was queued.
    pub queued: bool,
    /// Managers it was queued for.
    pub sent_to: Vec<String>,
    /// The outbox purpose it was queued under, to follow its sending.
    pub purpose: Option<String>,
}

/// How long a digest may wait for GHL before it is stale.
const DIGEST_EXPIRY: SignedDuration = SignedDuration::from_hours(4);
/// How long an alert may wait for GHL.
const ALERT_EXPIRY: SignedDuration = SignedDuration::from_hours(12);

fn claim_key(date: jiff::civil::Date, slot: &str) -> String {
    format!("digest_claimed:{date}:{slot}")
}

/// Whether the slot was claimed (queued) on that local date.
pub fn digest_claimed(conn: &Connection, date: jiff::civil::Date, slot: &str) -> rusqlite::Result<bool> {
    Ok(kv_get(conn, &claim_key(date, slot))?.is_some())
}

/// Who an issue is to a manager: the name, else the masked phone.
fn who(issue: &Issue) -> String {
    issue
        .contact_name
        .clone()
        .or_else(|| issue.phone.as_ref().map(|phone| mask_digits(phone.as_str())))
        .unwrap_or_else(|| format!("contact {}", issue.contact_id.as_deref().unwrap_or("?")))
}

fn item(issue: &Issue) -> Item {
    Item {
        id: issue.id,
        kind: issue.kind,
        who: who(issue),
        first_inbound_at: issue.first_inbound_at,
        due_at: issue.due_at,
        count: issue.inbound_count,
    }
}

/// Builds the digest for `slot` at `now` and, with [`Delivery::Queue`], claims the slot for
/// today and queues it for every manager.
pub fn build_digest(
    conn: &Connection,
    config: &Config,
    slot: &str,
    now: Timestamp,
    delivery: Delivery,
) -> rusqlite::Result<DigestReport> {
    let zone = config.calendar.zone();
    let date = now.to_zoned(zone.clone()).date();
    let mut report = DigestReport { slot: slot.to_string(), ..DigestReport::default() };
    if delivery == Delivery::Queue && digest_claimed(conn, date, slot)? {
        report.already_sent = true;
        return Ok(report);
    }
    let open = issues::list(conn, &[Status::Open])?;
    // Escalation counts business time, special days included (issue 18).
    let calendar = super::hours::calendar(conn, &config.calendar)?;
    let (escalated, overdue): (Vec<&Issue>, Vec<&Issue>) =
        open.iter().partition(|issue| calendar.business_time_between(issue.first_inbound_at, now) >= config.escalation);
    let watermark = kv_get(conn, WATERMARK_KEY)?.map(|text| parse_ts(&text)).transpose()?;
    let resolved = match watermark {
        None => None,
        Some(since) => Some(resolved_since(conn, since, now)?),
    };
    report.overdue_sms = open.iter().filter(|i| i.kind == IssueKind::Sms).count();
    report.overdue_calls = open.iter().filter(|i| i.kind == IssueKind::Call).count();
    report.resolved_since = resolved.as_ref().map_or(0, Vec::len);
    report.body = format::digest(&Digest {
        slot,
        now,
        zone,
        overdue: overdue.into_iter().map(item).collect(),
        escalated: escalated.into_iter().map(item).collect(),
        resolved,
        max_items: config.summary_max_items,
    });
    if delivery == Delivery::Queue {
        kv_set(conn, &claim_key(date, slot), &ts(now))?;
        let purpose = format!("digest:{date}:{slot}");
        report.sent_to = queue(conn, config, &purpose, &report.body, now, DIGEST_EXPIRY, None, Some(now))?;
        super::notify::queue(conn, config, EventKind::Digest, &purpose, &report.body, now)?;
        report.purpose = Some(purpose);
        report.queued = true;
    }
    Ok(report)
}

fn resolved_since(conn: &Connection, since: Timestamp, now: Timestamp) -> rusqlite::Result<Vec<Resolved>> {
    let mut stmt = conn.prepare(
        // A "thanks" closed by the acknowledgement check was never an issue for managers
        // (SPEC §5.3): it is on record, but not news.
        "SELECT id FROM issues WHERE status = 'RESOLVED' AND resolved_at > ?1 AND resolved_at <= ?2
           AND COALESCE(resolved_by, '') NOT LIKE 'acknowledgement:%' ORDER BY resolved_at, id",
    )?;
    let ids: Vec<i64> = stmt.query_map(params![ts(since), ts(now)], |row| row.get(0))?.collect::<Result<_, _>>()?;
    let mut resolved = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(issue) = issues::get(conn, id)? {
            resolved.push(Resolved {
                id,
                kind: issue.kind,
                who: who(&issue),
                resolved_at: issue.resolved_at.unwrap_or(now),
            });
        }
    }
    Ok(resolved)
}

/// Builds one alert for every OPEN issue not alerted or queued yet and, with
/// [`Delivery::Queue`], queues it and ties those issues to it.
pub fn build_alert(
    conn: &Connection,
    config: &Config,
    now: Timestamp,
    delivery: Delivery,
) -> rusqlite::Result<AlertReport> {
    let fresh: Vec<Issue> = issues::list(conn, &[Status::Open])?
        .into_iter()
        .filter(|issue| is_alert_due(conn, issue.id).unwrap_or(false))
        .collect();
    let mut report = AlertReport { new_breaches: fresh.len(), ..AlertReport::default() };
    if fresh.is_empty() {
        return Ok(report);
    }
    let items: Vec<Item> = fresh.iter().map(item).collect();
    report.body = format::alert(&items, now, config.calendar.zone(), config.summary_max_items);
    if delivery == Delivery::Queue {
        // The webhooks hear of each breach once, whether or not managers get the SMS.
        let mut unheard = Vec::new();
        for issue in &fresh {
            if kv_get(conn, &hook_key(issue.id))?.is_none() {
                unheard.push(item(issue));
            }
        }
        let purpose = format!("alert:{}", ts(now));
        let text = format::alert(&unheard, now, config.calendar.zone(), config.summary_max_items);
        if !unheard.is_empty() && super::notify::queue(conn, config, EventKind::Breach, &purpose, &text, now)? > 0 {
            for item in &unheard {
                kv_set(conn, &hook_key(item.id), &purpose)?;
            }
        }
    }
    if delivery == Delivery::Queue && !config.manager_contact_ids.is_empty() {
        let ids: Vec<String> = fresh.iter().map(|i| i.id.to_string()).collect();
        let ids = ids.join(",");
        let purpose = format!("alert:{}", ts(now));
        report.sent_to = queue(conn, config, &purpose, &report.body, now, ALERT_EXPIRY, Some(&ids), None)?;
        report.purpose = Some(purpose.clone());
        for issue in &fresh {
            conn.execute("UPDATE issues SET alert_purpose = ?2 WHERE id = ?1", params![issue.id, purpose])?;
        }
        report.queued = true;
    }
    Ok(report)
}

/// Queues a one-off notice for every manager under `purpose`; false when it was queued before.
pub fn queue_notice(
    conn: &Connection,
    config: &Config,
    purpose: &str,
    body: &str,
    now: Timestamp,
) -> rusqlite::Result<bool> {
    let exists: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM outbox WHERE purpose = ?1)", [purpose], |row| row.get(0))?;
    if exists || config.manager_contact_ids.is_empty() {
        return Ok(false);
    }
    queue(conn, config, purpose, body, now, ALERT_EXPIRY, None, None)?;
    Ok(true)
}

/// Whether any webhook arrived at or after `since` (what catch-up found is not one: finding
/// events is the sign that webhooks do not arrive, SPEC §12).
pub fn webhook_since(conn: &Connection, since: Timestamp) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM raw_events WHERE received_at >= ?1 AND route != 'catchup')",
        [ts(since)],
        |row| row.get(0),
    )
}

/// The key that marks an issue as told to the breach webhooks.
fn hook_key(issue: i64) -> String {
    format!("{HOOK_KEY_PREFIX}{issue}")
}

/// What every [`hook_key`] starts with.
const HOOK_KEY_PREFIX: &str = "hook_breach:";

/// Forgets which issues the breach webhooks were told of, for issues that are gone and for
/// issues resolved (or marked spam) before `before`: only an OPEN issue not alerted yet is ever
/// looked up. Returns how many keys went.
pub fn prune_hook_keys(conn: &Connection, before: Timestamp) -> rusqlite::Result<usize> {
    let id = format!("CAST(substr(key, {}) AS INTEGER)", HOOK_KEY_PREFIX.len() + 1);
    let sql = format!(
        "DELETE FROM kv WHERE substr(key, 1, {len}) = ?1
           AND ({id} NOT IN (SELECT id FROM issues)
                OR {id} IN (SELECT id FROM issues WHERE status IN ('RESOLVED', 'SPAM')
                                                   AND COALESCE(resolved_at, last_inbound_at) < ?2))",
        len = HOOK_KEY_PREFIX.len()
    );
    conn.execute(&sql, params![HOOK_KEY_PREFIX, ts(before)])
}

/// Whether an OPEN issue is owed a breach alert (SPEC §6, issue 24): not queued in one, and
/// either never alerted or snoozed by a manager after its last alert, so that falling due
/// again is a breach they asked to be reminded of. A snooze set before the alert went out (an
/// alert already on its way) earns no second one.
pub const ALERT_DUE: &str = "alert_purpose IS NULL AND (alerted_at IS NULL OR EXISTS (
    SELECT 1 FROM timeline WHERE timeline.issue_id = issues.id AND timeline.event = 'snoozed'
                           AND timeline.at > issues.alerted_at))";

fn is_alert_due(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.query_row(&format!("SELECT {ALERT_DUE} FROM issues WHERE id = ?1"), [id], |row| row.get(0))
}

/// Queues a text for every manager, split into SMS parts; returns the recipients.
#[allow(clippy::too_many_arguments)]
fn queue(
    conn: &Connection,
    config: &Config,
    purpose: &str,
    body: &str,
    now: Timestamp,
    expiry: SignedDuration,
    issue_ids: Option<&str>,
    watermark: Option<Timestamp>,
) -> rusqlite::Result<Vec<String>> {
    for manager in &config.manager_contact_ids {
        let entry = NewEntry { purpose, contact_id: manager, body, expires_at: now + expiry, issue_ids, watermark };
        outbox::enqueue_text(conn, &entry, now)?;
    }
    Ok(config.manager_contact_ids.clone())
}
