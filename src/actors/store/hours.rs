//! The calendar in force (issue 18): the store shares the calendar a manager's hours command
//! made, as its transaction handed it back, with the other actors through `Shared::hours`.

use jiff::civil::Date;

use crate::actors::Ctx;
use crate::actors::summary::SummaryHandle;
use crate::domain::calendar::Calendar;

/// Shares the committed `calendar` with the other actors when its special days are news, and
/// has the summary sender look again at its next digest, which a changed day may add or remove.
pub(super) fn share(ctx: &Ctx, calendar: &Calendar) {
    let known = ctx.calendar();
    if !calendar.special_days_from(Date::MIN).eq(known.special_days_from(Date::MIN)) {
        ctx.hours.set(calendar.clone());
        SummaryHandle.wake();
    }
}
