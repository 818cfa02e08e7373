//! The buttons on an issue's page: Resolve, Spam, Note and Snooze, each a POST that goes
//! through the store's handle and comes back to the issue (`303 See Other`, so a reload does
//! not send it twice). The store writes the timeline entry naming the manager.

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};

use super::{Console, Request, Response, unavailable};
use crate::db::console::{Acted, Action, Session};

/// The longest note kept, in characters.
const MAX_NOTE_CHARS: usize = 1000;
/// The furthest ahead an issue can be snoozed.
const MAX_SNOOZE: SignedDuration = SignedDuration::from_hours(24 * 31);

/// `POST /console/issue/{id}/{action}`.
pub(super) fn act(console: &Console<'_>, session: &Session, id: &str, name: &str, request: &Request) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return Response::refused(404, "That is not an issue number.");
    };
    let action = match read(console, name, request) {
        Ok(action) => action,
        Err(response) => return *response,
    };
    let acted = console.runtime.block_on(console.store.act(id, action, session.manager.clone(), console.now));
    match acted {
        Ok(Acted::Done { .. }) => {
            tracing::info!(issue = id, manager = %session.manager, action = name, "console action");
            Response::redirect(&format!("/console/issue/{id}?done={name}"))
        }
        Ok(Acted::NotFound) => Response::refused(404, &format!("There is no issue #{id}.")),
        Ok(Acted::NotLive(status)) => Response::refused(
            409,
            &format!("#{id} is {} already, so only a note can be added.", status.as_str().to_lowercase()),
        ),
        Err(err) => unavailable(&err.to_string()),
    }
}

/// The action a form asks for, or the page that says what was wrong with it.
fn read(console: &Console<'_>, name: &str, request: &Request) -> Result<Action, Box<Response>> {
    let bad = |why: &str| Box::new(Response::refused(400, why));
    match name {
        "resolve" => Ok(Action::Resolve),
        "spam" => Ok(Action::Spam),
        "note" => {
            let text = request.form.get("note").map(|text| text.trim_end().to_string()).unwrap_or_default();
            if text.trim().is_empty() {
                return Err(bad("The note is empty."));
            }
            if text.chars().count() > MAX_NOTE_CHARS {
                return Err(bad(&format!("A note is at most {MAX_NOTE_CHARS} characters.")));
            }
            Ok(Action::Note(text))
        }
        "snooze" => {
            let given = request.form.get("until").map(String::as_str).unwrap_or_default();
            let until = snooze_until(console, given).map_err(|why| bad(&why))?;
            Ok(Action::Snooze(until))
        }
        _ => Err(Box::new(Response::refused(404, "The console has no such button."))),
    }
}

/// A `datetime-local` value (`2026-03-03T09:00`), read in the business's zone; it must be in
/// the future and within [`MAX_SNOOZE`].
fn snooze_until(console: &Console<'_>, given: &str) -> Result<Timestamp, String> {
    let zone = console.ctx.config.calendar.zone();
    let until = given
        .trim()
        .parse::<DateTime>()
        .ok()
        .and_then(|local| local.to_zoned(zone.clone()).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| format!("{given:?} is not a date and time, e.g. 2026-03-03T09:00."))?;
    if until <= console.now {
        return Err("The snooze time has passed already; choose a later one.".to_string());
    }
    if until.duration_since(console.now) > MAX_SNOOZE {
        return Err("An issue can be snoozed for at most 31 days.".to_string());
    }
    Ok(until)
}
