//! Business hours for today and the next seven days, as the SLA clock counts them: the weekly
//! schedule, `HOLIDAYS`, and the special days managers set by SMS (issue 18), marked.

use maud::html;

use super::layout::{self, Nav};
use super::{Console, Response};
use crate::db::console::Session;
use crate::domain::calendar::HoursSource;
use crate::domain::hours::{date_words, hours_words};

/// Days shown: today and the next seven.
const DAYS: i64 = 8;

/// `GET /console/hours`.
pub(super) fn page(console: &Console<'_>, session: &Session) -> Response {
    let calendar = console.ctx.calendar();
    let today = console.now.to_zoned(calendar.zone().clone()).date();
    let days: Vec<jiff::civil::Date> =
        (0..DAYS).filter_map(|offset| today.checked_add(jiff::Span::new().days(offset)).ok()).collect();
    let after = days.last().and_then(|date| date.tomorrow().ok()).unwrap_or(today);
    let later: Vec<jiff::civil::Date> = calendar.special_days_from(after).map(|day| day.date).collect();
    let row = |date: jiff::civil::Date| {
        let (open, source) = calendar.hours_on(date);
        let note = match (source, calendar.special_day(date)) {
            (HoursSource::Special, Some(day)) => format!("special day, set by {}", day.by),
            (HoursSource::Holiday, _) => "holiday".to_string(),
            _ => String::new(),
        };
        html! {
            tr.today[date == today].closed[open.is_empty()] {
                th scope="row" { (date_words(date)) @if date == today { " (today)" } }
                td { (hours_words(open)) }
                td.muted { (note) }
            }
        }
    };
    let body = html! {
        h1 { "Hours" }
        p.muted { "Due times count only these hours (" (calendar.zone().iana_name().unwrap_or("local time")) ")." }
        table.hours {
            tbody { @for date in &days { (row(*date)) } }
        }
        @if !later.is_empty() {
            h2 { "Later special days" }
            table.hours { tbody { @for date in &later { (row(*date)) } } }
        }
        p.muted { "Change a day by SMS: Closed Fri · Open Sat 9-12 · Normal Fri." }
    };
    Response::page(200, layout::page("Hours", session, console.now, Nav::Hours, body))
}
