//! Carrying out managers' SMS commands (SPEC §7) inside the intake transaction.
//!
//! The command text is parsed by `domain::command`; this file reads and changes issues and
//! queues the reply in the outbox under the inbound message's own purpose, all in the same
//! commit as the raw event, so a command is applied once and answered once. The hours
//! commands (issue 18) are carried out by `db::hours`; a change of hours is confirmed to
//! every manager under that same purpose.

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;

pub use crate::domain::command::Answer;

use super::console;
use super::hours;
use super::issues;
use super::outbox::{self, NewEntry};
use super::{World, kv_get, kv_set};
use crate::domain::command::{self, Command, Target};
use crate::domain::event::{IssueKind, Party, Status};
use crate::domain::format::{self, clock, repeats, when};
use crate::domain::issue::{Issue, last_snooze};
use crate::domain::phone::{Phone, mask_digits};

/// Issues per `List` page.
const PAGE_SIZE: usize = 5;
/// How long a reply may wait for GHL.
const REPLY_EXPIRY: SignedDuration = SignedDuration::from_hours(2);

/// Who sent a command: a manager or staff member, as the inbound text names them.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    /// Their GHL contact id; the reply goes there.
    pub contact_id: &'a str,
    /// Their name in GHL, when known.
    pub name: Option<&'a str>,
    /// The phone the text came from, when known.
    pub phone: Option<&'a Phone>,
}

impl<'a> Sender<'a> {
    /// A sender known by contact id alone.
    pub fn contact(contact_id: &'a str) -> Sender<'a> {
        Sender { contact_id, name: None, phone: None }
    }
}

/// Parses and carries out `text` from `sender`, queues the reply under `purpose`, and returns
/// the reply, with the calendar in force when the hours changed.
pub fn run(
    conn: &Connection,
    world: &World<'_>,
    sender: &Sender<'_>,
    text: &str,
    purpose: &str,
    now: Timestamp,
) -> rusqlite::Result<Answer> {
    let (contact_id, name) = (sender.contact_id, sender.name);
    // Kept so the timeline can name a manager who is not in the managers table (issue 24).
    if let Some(name) = name.map(str::trim).filter(|name| !name.is_empty()) {
        kv_set(conn, &contact_name_key(contact_id), name)?;
    }
    let (reply, hours) = match command::parse(text) {
        Ok(Command::Hours(command)) => {
            let who = name.map(str::trim).filter(|name| !name.is_empty()).unwrap_or(contact_id);
            let answer = hours::run(conn, world, contact_id, who, command, now)?;
            (answer.reply, answer.hours)
        }
        Ok(Command::Pin) => {
            // The link is made as the text goes out, so the outbox never holds it (issue 23).
            let reply = sign_in_link(conn, world, sender)?;
            if reply.contains(console::TOKEN_SLOT) {
                let purpose = format!("{}{purpose}", console::SIGN_IN_PURPOSE);
                let entry = NewEntry {
                    purpose: &purpose,
                    contact_id,
                    body: &reply,
                    expires_at: now + console::LINK_LIFETIME,
                    issue_ids: None,
                    watermark: None,
                };
                outbox::enqueue_text(conn, &entry, now)?;
                return Ok(Answer { reply: console::shown_body(&reply), hours: None });
            }
            (reply, None)
        }
        Ok(command) => (execute(conn, world, contact_id, command, now)?, None),
        Err(err) => (err.to_string(), None),
    };
    // A change of hours concerns every manager, not only the one who sent it: those configured
    // and those added with `sentinel manager add`.
    let mut recipients = vec![contact_id.to_string()];
    if hours.is_some() {
        let added = console::manager_contact_ids(conn)?;
        for manager in world.config.manager_contact_ids.iter().chain(&added) {
            if !recipients.contains(manager) {
                recipients.push(manager.clone());
            }
        }
    }
    for recipient in &recipients {
        let entry = NewEntry {
            purpose,
            contact_id: recipient.as_str(),
            body: &reply,
            expires_at: now + REPLY_EXPIRY,
            issue_ids: None,
            watermark: None,
        };
        outbox::enqueue_text(conn, &entry, now)?;
    }
    Ok(Answer { reply, hours })
}

/// Answers a manager's text that reached Sentinel only through catch-up, after a gap: it is
/// not run, for it may be stale (a `PAUSE` meant for an hour ago), and the manager is told so
/// (SPEC §12). `sent_at` is the text's own time, `found_at` when catch-up found it.
pub fn note_late(
    conn: &Connection,
    world: &World<'_>,
    contact_id: &str,
    text: &str,
    sent_at: Timestamp,
    purpose: &str,
    found_at: Timestamp,
) -> rusqlite::Result<()> {
    let shown: String = text.chars().take(40).collect();
    let ellipsis = if shown.len() < text.len() { "…" } else { "" };
    let body = format!(
        "{}: your text “{shown}{ellipsis}” of {} reached Sentinel only through catch-up (no webhook arrived), so it \
         was not run. Text it again if you still want it.",
        crate::domain::format::BRAND,
        world.calendar.stamp(sent_at),
    );
    let entry = NewEntry {
        purpose,
        contact_id,
        body: &body,
        expires_at: found_at + REPLY_EXPIRY,
        issue_ids: None,
        watermark: None,
    };
    outbox::enqueue_text(conn, &entry, found_at)?;
    tracing::warn!(sent_at = %sent_at, "a manager's command found by catch-up was not run");
    Ok(())
}

/// The key under which a command sender's GHL name is kept.
fn contact_name_key(contact_id: &str) -> String {
    format!("contact_name:{contact_id}")
}

fn execute(
    conn: &Connection,
    world: &World<'_>,
    manager: &str,
    command: Command,
    now: Timestamp,
) -> rusqlite::Result<String> {
    let by = format!("manual:{manager}");
    let zone = world.config.calendar.zone();
    match command {
        Command::List => page(conn, world, manager, 0, now),
        Command::More => {
            let next = kv_get(conn, &page_key(manager))?.and_then(|p| p.parse::<usize>().ok()).map_or(0, |p| p + 1);
            page(conn, world, manager, next, now)
        }
        Command::Open(id) => Ok(match issues::get(conn, id)? {
            None => not_found(id, command::USAGE_OPEN),
            Some(issue) => {
                let who = describe(&issue);
                match (&issue.conversation_id, &world.location_id) {
                    (Some(conversation), Some(location)) => format!(
                        "#{id} {who}: {}/v2/location/{location}/conversations/conversations/{conversation}",
                        world.config.ghl.app_base
                    ),
                    (None, _) => format!("#{id} {who}: no GHL conversation is known for it yet"),
                    (_, None) => format!("#{id} {who}: set GHL_LOCATION_ID for a link"),
                }
            }
        }),
        Command::Resolve(Target::Ids(ids)) => {
            let mut lines = Vec::new();
            for id in ids {
                lines.push(match issues::get(conn, id)? {
                    None => not_found(id, command::USAGE_RESOLVE),
                    Some(issue) if !is_live(&issue) => {
                        format!(
                            "#{id} was already {}. Send List for the open issues.",
                            issue.status.as_str().to_lowercase()
                        )
                    }
                    Some(_) => {
                        issues::resolve(conn, id, now, &by, "resolved by a manager's SMS")?;
                        format!("Resolved #{id}.")
                    }
                });
            }
            Ok(lines.join("\n"))
        }
        Command::Resolve(Target::Phone(phone)) => {
            let live = live_for_phone(conn, &phone)?;
            if live.is_empty() {
                return Ok(format!(
                    "No open issue for {}. Send List for the open issues. Usage: {}",
                    phone.masked(),
                    command::USAGE_RESOLVE
                ));
            }
            resolve_all(conn, &live, now, &by)
        }
        Command::Resolve(Target::Name(name)) => {
            let wanted = name.to_lowercase();
            let live: Vec<Issue> = issues::list(conn, &[Status::Open, Status::Pending])?
                .into_iter()
                .filter(|i| i.contact_name.as_deref().is_some_and(|n| n.to_lowercase().contains(&wanted)))
                .collect();
            let mut parties: Vec<&str> = live.iter().map(|i| i.party.as_str()).collect();
            parties.sort_unstable();
            parties.dedup();
            match parties.len() {
                0 => Ok(format!(
                    "No open issue for \"{name}\". Send List for the open issues. Usage: {}",
                    command::USAGE_RESOLVE
                )),
                1 => resolve_all(conn, &live, now, &by),
                _ => {
                    let choices: Vec<String> = live.iter().map(|i| format!("#{} {}", i.id, describe(i))).collect();
                    Ok(format!("Several match \"{name}\": {}. Reply Resolve with the number.", choices.join(", ")))
                }
            }
        }
        Command::Spam(Target::Ids(ids)) => {
            let mut lines = Vec::new();
            for id in ids {
                lines.push(match issues::get(conn, id)? {
                    None => not_found(id, command::USAGE_SPAM),
                    Some(issue) => {
                        let phone = issue.phone.clone();
                        if let Some(phone) = &phone {
                            issues::add_spam(conn, phone, now)?;
                            for other in live_for_phone(conn, phone)? {
                                issues::mark_spam(conn, other.id, now, &by)?;
                            }
                        }
                        issues::mark_spam(conn, id, now, &by)?;
                        match phone {
                            Some(phone) => format!("#{id} marked spam; {} will open no more issues.", phone.masked()),
                            None => format!("#{id} marked spam (no phone known to block)."),
                        }
                    }
                });
            }
            Ok(lines.join("\n"))
        }
        Command::Spam(Target::Phone(phone)) => {
            issues::add_spam(conn, &phone, now)?;
            let live = live_for_phone(conn, &phone)?;
            for issue in &live {
                issues::mark_spam(conn, issue.id, now, &by)?;
            }
            let open = live.iter().filter(|issue| issue.status == Status::Open).count();
            let touched = format::live_issues(open, live.len() - open);
            Ok(format!("{} is on the spam list; {touched} marked spam.", phone.masked()))
        }
        Command::Spam(Target::Name(_)) => {
            Ok("Spam takes issue numbers or a phone, not a name: a name could block the wrong customer. Send List for the numbers. Usage: Spam 12 | Spam <phone>".to_string())
        }
        Command::Note { id, text } => Ok(match issues::get(conn, id)? {
            None => not_found(id, command::USAGE_NOTE),
            Some(_) => {
                issues::add_timeline(conn, id, now, "note", &by, &text)?;
                format!("Noted on #{id}.")
            }
        }),
        Command::Why(id) => Ok(match issues::get(conn, id)? {
            None => not_found(id, command::USAGE_WHY),
            Some(issue) => {
                let sla = match issue.kind {
                    IssueKind::Sms => world.config.sms_sla,
                    IssueKind::Call => world.config.call_sla,
                };
                let timeline = issues::timeline(conn, id)?;
                let why = world.calendar.explain_issue_due(
                    issue.kind.verb(),
                    issue.created_at,
                    sla,
                    issue.due_at,
                    last_snooze(&timeline).as_ref(),
                );
                let mut reply = format!("#{id}: {why}.");
                for entry in timeline {
                    let detail = if entry.detail.is_empty() { String::new() } else { format!(": {}", entry.detail) };
                    reply.push_str(&format!("\n{} {}{detail}", when(entry.at, now, zone), entry.event));
                }
                reply
            }
        }),
        Command::Status => {
            let open = issues::list(conn, &[Status::Open])?.len();
            let pending = issues::list(conn, &[Status::Pending])?.len();
            let last =
                super::events::last_received_at(conn)?.map_or_else(|| "never".to_string(), |at| when(at, now, zone));
            let up = format::uptime(world.uptime.as_secs() as i64);
            Ok(format!(
                "Sentinel up {up} as of {}; last webhook {last}; GHL {}; {open} open, {pending} pending.",
                clock(now, zone),
                world.ghl_state
            ))
        }
        Command::Help => Ok(command::HELP.to_string()),
        Command::Ok => {
            super::doctor::record_ok(conn, manager, now)?;
            Ok("Thanks: Sentinel got your OK, so texts reach you and yours reach it. Text Help for the commands."
                .to_string())
        }
        // `run` sends these to `sign_in_link` and `db::hours`.
        Command::Pin | Command::Hours(_) => Ok(format!("Not understood. Usage: {}", command::USAGE_ALL)),
    }
}

/// `Pin` (issue 17): a one-time sign-in link to the console for a manager (configured, or
/// added with `sentinel manager add`), under `CONSOLE_URL`.
fn sign_in_link(conn: &Connection, world: &World<'_>, sender: &Sender<'_>) -> rusqlite::Result<String> {
    let contact_id = sender.contact_id;
    let is_manager = world.config.manager_contact_ids.iter().any(|id| id == contact_id)
        || console::is_manager_sender(conn, Some(contact_id), sender.phone)?;
    if !is_manager {
        return Ok("Only managers can sign in to the console.".to_string());
    }
    let Some(base) = &world.config.console.url else {
        return Ok("The console's address is not set (CONSOLE_URL), so no sign-in link can be sent.".to_string());
    };
    let name = console::name_for_sender(conn, contact_id, sender.phone, sender.name)?;
    console::promise_link(conn, &name, contact_id)?;
    let minutes = console::LINK_LIFETIME.as_mins();
    Ok(format!(
        "Sentinel console sign-in for {name}, once, within {minutes} minutes: {base}/console/link?token={}",
        console::TOKEN_SLOT
    ))
}

fn page_key(manager: &str) -> String {
    format!("list_page:{manager}")
}

/// One page of OPEN issues by due time; the page number is kept per manager.
fn page(
    conn: &Connection,
    world: &World<'_>,
    manager: &str,
    number: usize,
    now: Timestamp,
) -> rusqlite::Result<String> {
    let open = issues::list(conn, &[Status::Open])?;
    if open.is_empty() {
        return Ok("No open issues.".to_string());
    }
    let pages = open.len().div_ceil(PAGE_SIZE);
    if number >= pages {
        return Ok("No more open issues. Reply List to start over.".to_string());
    }
    kv_set(conn, &page_key(manager), &number.to_string())?;
    let zone = world.config.calendar.zone();
    let mut reply = format!("Open issues ({}), page {}/{pages}:", open.len(), number + 1);
    for issue in open.iter().skip(number * PAGE_SIZE).take(PAGE_SIZE) {
        reply.push_str(&format!(
            "\n#{} {} {} — due {}{}",
            issue.id,
            issue.kind,
            describe(issue),
            when(issue.due_at, now, zone),
            repeats(issue.kind, issue.inbound_count)
        ));
    }
    if number + 1 < pages {
        reply.push_str("\nReply More for the next page.");
    }
    Ok(reply)
}

fn resolve_all(conn: &Connection, live: &[Issue], now: Timestamp, by: &str) -> rusqlite::Result<String> {
    let mut done = Vec::new();
    for issue in live {
        if issues::resolve(conn, issue.id, now, by, "resolved by a manager's SMS")? {
            done.push(format!("#{}", issue.id));
        }
    }
    Ok(format!("Resolved {}.", done.join(", ")))
}

fn live_for_phone(conn: &Connection, phone: &Phone) -> rusqlite::Result<Vec<Issue>> {
    issues::live_for_party(conn, &Party { phone: Some(phone.clone()), ..Party::default() })
}

fn is_live(issue: &Issue) -> bool {
    matches!(issue.status, Status::Pending | Status::Open)
}

/// An id that matches nothing, and how to go on (every command error teaches, SPEC §7).
fn not_found(id: i64, usage: &str) -> String {
    format!("There is no issue #{id}. Send List for the open issues. Usage: {usage}")
}

/// Name and phone for managers, who need the number to call back.
fn describe(issue: &Issue) -> String {
    match (&issue.contact_name, &issue.phone) {
        (Some(name), Some(phone)) => format!("{name}, {phone}"),
        (Some(name), None) => name.clone(),
        (None, Some(phone)) => phone.to_string(),
        (None, None) => issue.contact_id.as_deref().map(mask_digits).unwrap_or_else(|| "unknown contact".to_string()),
    }
}
