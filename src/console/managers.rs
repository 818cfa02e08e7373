//! `sentinel manager add|list|remove`: who may sign in to the console with a PIN, and whose
//! texts (from their GHL contact or their phone) are commands.
//!
//! Works on the database file directly, as `import-original` does; safe while the service runs
//! (WAL mode, and each change is one short transaction).

use std::fmt::Write as _;
use std::path::Path;

use crate::db::{console, in_transaction, schema};
use crate::domain::phone::Phone;

/// Who `sentinel manager add` adds.
#[derive(Debug, Clone, Default)]
pub struct NewManager {
    /// The name shown in the timeline and typed at sign-in.
    pub name: String,
    /// `--contact-id`: the manager's GHL contact id.
    pub contact_id: Option<String>,
    /// `--phone`: the phone the manager texts from.
    pub phone: Option<String>,
    /// `--pin`: a chosen PIN; else one is generated.
    pub pin: Option<String>,
}

/// Adds a manager with their PIN, or a generated one; returns what to print (with the PIN).
/// A text from the manager's contact id or phone is a command from then on.
pub fn add(db_path: &Path, new: &NewManager) -> anyhow::Result<String> {
    let name = new.name.trim();
    anyhow::ensure!(!name.is_empty(), "the manager's name is empty");
    let contact_id = new.contact_id.as_deref().map(str::trim).unwrap_or_default();
    anyhow::ensure!(
        new.contact_id.is_none() || !contact_id.is_empty(),
        "--contact-id is empty: give the manager's GHL contact id"
    );
    let phone = match new.phone.as_deref() {
        None => None,
        Some(raw) => {
            Some(Phone::parse(raw).filter(|phone| phone.as_str().trim_start_matches('+').len() >= 7).ok_or_else(
                || anyhow::format_err!("--phone {raw:?}: expected the manager's phone number, e.g. +1 214 555 0142"),
            )?)
        }
    };
    anyhow::ensure!(
        !contact_id.is_empty() || phone.is_some(),
        "manager add needs --contact-id (the manager's GHL contact id) or --phone (the phone they text from), or both"
    );
    let (pin, generated) = match new.pin.as_deref() {
        Some(pin) => {
            super::pin::check_shape(pin).map_err(|why| anyhow::format_err!("--pin: {why}"))?;
            (pin.to_string(), false)
        }
        None => (super::pin::generate()?, true),
    };
    let hash = super::pin::hash(&pin)?;
    let mut db = schema::open(db_path)?;
    // The tests' injected clock dates the manager too, so `manager list` can be checked.
    let now =
        std::env::var("SENTINEL_TEST_NOW").ok().and_then(|text| text.parse().ok()).unwrap_or_else(jiff::Timestamp::now);
    let contact = (!contact_id.is_empty()).then_some(contact_id);
    in_transaction(&mut db, |tx| -> anyhow::Result<i64> {
        if console::manager_named(tx, name)?.is_some() {
            anyhow::bail!("a manager named {name:?} exists already; remove them first to set a new PIN");
        }
        // One person per contact id and per phone: texts are matched to the first only, and
        // removing one would leave the other answering for them.
        if let Some(other) = console::manager_for_sender(tx, contact, phone.as_ref())? {
            anyhow::bail!(
                "{} already has that {}; remove them first (sentinel manager remove {})",
                other.name,
                if contact.is_some_and(|id| id == other.contact_id) { "contact id" } else { "phone" },
                other.name
            );
        }
        Ok(console::add_manager(tx, name, contact_id, phone.as_ref(), &hash, now)?)
    })?;
    let mut said = format!(
        "manager {name} added ({}); their texts to Sentinel are commands\n",
        known_by(contact_id, phone.as_ref().map(Phone::as_str))
    );
    if generated {
        let _ = writeln!(said, "PIN: {pin}  (shown once; give it to {name} and keep no copy)");
    }
    Ok(said)
}

/// `contact abc123, phone (214) 555-0142`.
fn known_by(contact_id: &str, phone: Option<&str>) -> String {
    let mut parts = Vec::new();
    if !contact_id.is_empty() {
        parts.push(format!("contact {contact_id}"));
    }
    if let Some(phone) = phone {
        let shown = Phone::parse(phone).map_or_else(|| phone.to_string(), |phone| phone.to_string());
        parts.push(format!("phone {shown}"));
    }
    parts.join(", ")
}

/// Every manager, one line each.
pub fn list(db_path: &Path, zone: &jiff::tz::TimeZone) -> anyhow::Result<String> {
    let db = schema::open(db_path)?;
    let managers = console::managers(&db)?;
    let mut said = format!("managers who can sign in with a PIN: {}\n", managers.len());
    for manager in managers {
        let known = known_by(&manager.contact_id, manager.phone.as_deref());
        let _ = writeln!(said, "  {}  {known}  added {}", manager.name, added_on(manager.created_at, zone));
    }
    Ok(said)
}

/// When a manager was added, in the office's time: `Mon Nov 23 2026, 9:00am CST`.
fn added_on(at: jiff::Timestamp, zone: &jiff::tz::TimeZone) -> String {
    let local = at.to_zoned(zone.clone());
    format!(
        "{}, {} {}",
        local.strftime("%a %b %-d %Y"),
        crate::domain::calendar::clock_12h(local.time()),
        crate::domain::calendar::zone_abbreviation(zone, at)
    )
}

/// Removes a manager and ends their sessions.
pub fn remove(db_path: &Path, name: &str) -> anyhow::Result<String> {
    let mut db = schema::open(db_path)?;
    let removed = in_transaction(&mut db, |tx| -> anyhow::Result<bool> { Ok(console::remove_manager(tx, name)?) })?;
    anyhow::ensure!(removed, "no manager is named {name:?}");
    Ok(format!("manager {name} removed; their sessions are ended\n"))
}
