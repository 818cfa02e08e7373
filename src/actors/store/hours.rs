//! The calendar in force (issue 18): how the store shares the special days a manager's
//! command changed with the other actors, through `Shared::hours`.

use rusqlite::Connection;

use crate::actors::Ctx;
use crate::actors::handles::SummaryHandle;
use crate::domain::outcome::Outcome;

/// Shares the committed special days with the other actors (issue 18), and has the summary
/// sender look again at its next digest, which a changed day may add or remove.
pub(super) fn share(conn: &Connection, ctx: &Ctx, outcomes: &[&Outcome]) {
    if !outcomes.iter().any(|outcome| matches!(outcome, Outcome::Command { .. })) {
        return;
    }
    match crate::db::hours::load(conn) {
        Ok(days) => {
            let known: Vec<_> = ctx.calendar().special_days_from(jiff::civil::Date::MIN).cloned().collect();
            if days != known {
                ctx.hours.set(ctx.config.calendar.with_special_days(days));
                SummaryHandle.wake();
            }
        }
        Err(err) => tracing::error!("reading the special days failed; the last ones known stay in force: {err}"),
    }
}
