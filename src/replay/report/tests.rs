//! The replay's statistics: percentiles, the weekday × hour buckets, the worst days, the
//! escalation test and the time to the first human reply, on issues built by hand.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::domain::calendar::{Calendar, WeeklySchedule, parse_holidays};
use crate::domain::event::{IssueKind, Status};

fn office() -> Calendar {
    Calendar::new(
        TimeZone::get("America/Chicago").expect("tzdb"),
        WeeklySchedule::parse("mon-fri 08:00-17:00").expect("schedule"),
        parse_holidays("").expect("holidays"),
    )
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("instant")
}

fn mins(minutes: i64) -> SignedDuration {
    SignedDuration::from_mins(minutes)
}

/// An issue that came in at `inbound`, OPEN from `opened` when given, resolved by `by` at `resolved`.
fn issue(id: i64, inbound: &str, opened: Option<&str>, resolved: Option<(&str, &str)>) -> Issue {
    Issue {
        id,
        kind: IssueKind::Sms,
        status: if resolved.is_some() { Status::Resolved } else { Status::Open },
        party: format!("p{id}"),
        conversation_id: None,
        contact_id: None,
        phone: None,
        contact_name: None,
        created_at: at(inbound),
        first_inbound_at: at(inbound),
        last_inbound_at: at(inbound),
        due_at: at(inbound),
        inbound_count: 1,
        last_text: None,
        opened_at: opened.map(at),
        resolved_at: resolved.map(|(when, _)| at(when)),
        resolved_by: resolved.map(|(_, by)| by.to_string()),
        alerted_at: None,
    }
}

#[test]
fn percentiles_take_the_nearest_rank() {
    let sorted: Vec<SignedDuration> = (1..=10).map(mins).collect();
    assert_eq!(percentile(&sorted, 50), Some(mins(5)));
    assert_eq!(percentile(&sorted, 90), Some(mins(9)));
    assert_eq!(percentile(&sorted, 100), Some(mins(10)));
    assert_eq!(percentile(&[mins(7)], 90), Some(mins(7)));
    assert_eq!(percentile(&sorted[..3], 50), Some(mins(2)));
    assert_eq!(percentile(&[], 50), None);
}

#[test]
fn worst_days_list_most_breaches_first_and_ties_by_date() {
    let day = |text: &str| text.parse::<jiff::civil::Date>().expect("date");
    let days: BTreeMap<_, _> = [
        (day("2026-03-02"), 1),
        (day("2026-03-03"), 4),
        (day("2026-03-04"), 2),
        (day("2026-03-05"), 4),
        (day("2026-03-06"), 1),
        (day("2026-03-09"), 3),
        (day("2026-03-10"), 1),
    ]
    .into_iter()
    .collect();
    let worst = worst_days(days);
    let expected = [("2026-03-03", 4), ("2026-03-05", 4), ("2026-03-09", 3), ("2026-03-04", 2), ("2026-03-02", 1)];
    assert_eq!(worst, expected.iter().map(|(d, n)| (day(d), *n)).collect::<Vec<_>>());
}

#[test]
fn breaches_are_bucketed_by_local_weekday_and_hour_of_the_first_message() {
    // 2026-03-02 is a Monday; Chicago is UTC-6 then. 2026-03-09 is after the DST change (UTC-5).
    let issues = [
        issue(1, "2026-03-02T15:30:00Z", Some("2026-03-02T17:30:00Z"), None), // Mon 09:30
        issue(2, "2026-03-02T15:59:00Z", Some("2026-03-02T17:59:00Z"), None), // Mon 09:59
        issue(3, "2026-03-04T03:00:00Z", Some("2026-03-04T16:00:00Z"), None), // Tue 21:00
        issue(4, "2026-03-09T14:10:00Z", Some("2026-03-09T16:10:00Z"), None), // Mon 09:10 CDT
        issue(5, "2026-03-03T15:00:00Z", None, Some(("2026-03-03T15:20:00Z", "staff_reply:webhook"))),
    ];
    let report = build(&issues, &office(), escalating(100), None, at("2026-03-10T00:00:00Z"), 9);
    assert_eq!((report.issues, report.breaches, report.escalations), (5, 4, 0));
    assert_eq!(report.heat[0][9], 3);
    assert_eq!(report.heat[1][21], 1);
    assert_eq!(report.heat.iter().flatten().sum::<usize>(), 4);
    let monday = "2026-03-02".parse().expect("date");
    assert_eq!(report.worst_days[0], (monday, 2));
}

#[test]
fn reply_times_count_business_time_of_staff_replies_only() {
    let issues = [
        // Fri 16:30 CST, answered Mon 08:30: one business hour.
        issue(1, "2026-03-06T22:30:00Z", None, Some(("2026-03-09T13:30:00Z", "staff_reply:webhook"))),
        // Answered in 20 minutes.
        issue(2, "2026-03-03T15:00:00Z", None, Some(("2026-03-03T15:20:00Z", "staff_reply:known"))),
        // A manager's close is no human reply to the contact.
        issue(3, "2026-03-03T15:00:00Z", None, Some(("2026-03-03T15:05:00Z", "manager:mgr1"))),
    ];
    let report = build(&issues, &office(), escalating(4), None, at("2026-03-10T00:00:00Z"), 3);
    assert_eq!(report.replies, vec![mins(20), mins(60)]);
    assert_eq!(percentile(&report.replies, 50), Some(mins(20)));
    assert_eq!(hours_minutes(mins(65)), "1h 05m");
}

#[test]
fn escalations_and_the_since_window() {
    let issues = [
        // Mon 09:00 CST, still OPEN at Mon 15:00: six business hours.
        issue(1, "2026-03-02T15:00:00Z", Some("2026-03-02T17:00:00Z"), None),
        // OPEN, answered after three business hours: below four.
        issue(
            2,
            "2026-03-02T15:00:00Z",
            Some("2026-03-02T17:00:00Z"),
            Some(("2026-03-02T18:00:00Z", "staff_reply:webhook")),
        ),
        // Before the window.
        issue(3, "2026-03-01T15:00:00Z", Some("2026-03-02T16:00:00Z"), None),
    ];
    let since = Some(at("2026-03-02T06:00:00Z"));
    let report = build(&issues, &office(), escalating(4), since, at("2026-03-02T21:00:00Z"), 3);
    assert_eq!((report.issues, report.breaches, report.escalations), (2, 2, 1));
    let text = report.to_string();
    assert!(text.contains("escalations: 1"), "{text}");
    assert!(text.contains("Mon 2026-03-02  2"), "{text}");
}

/// The default response targets, and escalation at `hours` of business time.
fn escalating(hours: i64) -> Targets {
    let sla = SignedDuration::from_hours(2);
    Targets { escalation: SignedDuration::from_hours(hours), sms_sla: sla, call_sla: sla }
}
