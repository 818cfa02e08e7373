//! `sentinel manager add|list|remove`: who may sign in to the console with a PIN.
//!
//! Works on the database file directly, as `import-original` does; safe while the service runs
//! (WAL mode, and each change is one short transaction).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::store::{console, in_transaction, schema};

/// Adds a manager with `pin`, or a generated one; returns what to print (with the PIN).
pub fn add(db_path: &Path, name: &str, contact_id: &str, pin: Option<&str>) -> anyhow::Result<String> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "the manager's name is empty");
    anyhow::ensure!(!contact_id.trim().is_empty(), "--contact-id is empty: give the manager's GHL contact id");
    let (pin, generated) = match pin {
        Some(pin) => {
            super::pin::check_shape(pin).map_err(|why| anyhow::format_err!("--pin: {why}"))?;
            (pin.to_string(), false)
        }
        None => (super::pin::generate()?, true),
    };
    let hash = super::pin::hash(&pin)?;
    let mut db = schema::open(db_path)?;
    let now = jiff::Timestamp::now();
    in_transaction::<_, rusqlite::Error>(&mut db, |tx| {
        if console::manager_named(tx, name)?.is_some() {
            return Ok(None);
        }
        console::add_manager(tx, name, contact_id.trim(), &hash, now).map(Some)
    })?
    .with_context(|| format!("a manager named {name:?} exists already; remove them first to set a new PIN"))?;
    let mut said = format!("manager {name} added (contact {})\n", contact_id.trim());
    if generated {
        let _ = writeln!(said, "PIN: {pin}  (shown once; give it to {name} and keep no copy)");
    }
    Ok(said)
}

/// Every manager, one line each.
pub fn list(db_path: &Path) -> anyhow::Result<String> {
    let db = schema::open(db_path)?;
    let managers = console::managers(&db)?;
    let mut said = format!("managers who can sign in with a PIN: {}\n", managers.len());
    for manager in managers {
        let _ = writeln!(said, "  {}  contact {}  added {}", manager.name, manager.contact_id, manager.created_at);
    }
    Ok(said)
}

/// Removes a manager and ends their sessions.
pub fn remove(db_path: &Path, name: &str) -> anyhow::Result<String> {
    let mut db = schema::open(db_path)?;
    let removed = in_transaction::<_, rusqlite::Error>(&mut db, |tx| console::remove_manager(tx, name))?;
    anyhow::ensure!(removed, "no manager is named {name:?}");
    Ok(format!("manager {name} removed; their sessions are ended\n"))
}
