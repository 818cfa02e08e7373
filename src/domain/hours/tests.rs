//! Special days: the words managers use, and how a special day lies over the calendar.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::domain::calendar::{SpecialDay, WeeklySchedule, parse_holidays};

fn date(text: &str) -> Date {
    text.parse().expect("test date")
}

fn office(holidays: &str) -> Calendar {
    Calendar::new(
        TimeZone::get("America/Chicago").expect("tzdb"),
        WeeklySchedule::parse("mon-fri 08:00-17:00").expect("schedule"),
        parse_holidays(holidays).expect("holidays"),
    )
}

fn special(day: &str, open: &[Interval]) -> SpecialDay {
    SpecialDay { date: date(day), open: open.to_vec(), by: "Dana".to_string() }
}

fn local(calendar: &Calendar, text: &str) -> Timestamp {
    let datetime: jiff::civil::DateTime = text.parse().expect("local datetime");
    datetime.to_zoned(calendar.zone().clone()).expect("zoned").timestamp()
}

fn intervals(text: &str) -> Vec<Interval> {
    match NewHours::parse(text) {
        Ok(NewHours::Intervals(open)) => open,
        other => panic!("{text:?}: {other:?}"),
    }
}

const H: Minute = 60;

#[test]
fn days_are_named_as_people_write_them() {
    // 2026-03-06 is a Friday.
    let friday = date("2026-03-06");
    let resolve = |word: &str| Day::parse(word).map(|day| day.resolve(friday));
    assert_eq!(resolve("today"), Some(friday));
    assert_eq!(resolve("Tomorrow"), Some(date("2026-03-07")));
    assert_eq!(resolve("Fri"), Some(friday), "a weekday names today when today is that day");
    assert_eq!(resolve("friday"), Some(friday));
    assert_eq!(resolve("Sat"), Some(date("2026-03-07")));
    assert_eq!(resolve("thurs"), Some(date("2026-03-12")));
    assert_eq!(resolve("Mon."), Some(date("2026-03-09")));
    assert_eq!(resolve("12/24"), Some(date("2026-12-24")));
    assert_eq!(resolve("3/1"), Some(date("2027-03-01")), "a passed month/day is next year's");
    assert_eq!(resolve("2/29"), Some(date("2028-02-29")));
    assert_eq!(resolve("12/24/2027"), Some(date("2027-12-24")));
    assert_eq!(resolve("12/24/27"), Some(date("2027-12-24")));
    assert_eq!(resolve("2026-12-24"), Some(date("2026-12-24")));
    for wrong in ["", "fr", "12", "2/30", "13/1", "0/5", "someday", "12/24/20266", "1/2/3/4"] {
        assert_eq!(Day::parse(wrong), None, "{wrong:?}");
    }
}

#[test]
fn hours_are_read_on_a_12_or_24_hour_clock() {
    assert_eq!(intervals("9-12"), [(9 * H, 12 * H)]);
    assert_eq!(intervals("9-5"), [(9 * H, 17 * H)], "an end before the start is in the afternoon");
    assert_eq!(intervals("1-4pm"), [(13 * H, 16 * H)]);
    assert_eq!(intervals("9am-12:30pm"), [(9 * H, 12 * H + 30)]);
    assert_eq!(intervals("9 am - 5 pm"), [(9 * H, 17 * H)]);
    assert_eq!(intervals("08:00-17:00"), [(8 * H, 17 * H)]);
    assert_eq!(intervals("8-12, 1pm-4pm"), [(8 * H, 12 * H), (13 * H, 16 * H)]);
    assert_eq!(intervals("1pm-4pm+8-12"), [(8 * H, 12 * H), (13 * H, 16 * H)]);
    assert_eq!(intervals("8 to noon and 1pm to 5pm"), [(8 * H, 12 * H), (13 * H, 17 * H)]);
    assert_eq!(intervals("6pm-12am"), [(18 * H, DAY_END)]);
    assert_eq!(NewHours::parse("until 7pm"), Ok(NewHours::Until(19 * H)));
    assert_eq!(NewHours::parse("till 7:30 pm."), Ok(NewHours::Until(19 * H + 30)));
    assert_eq!(NewHours::parse("until midnight"), Ok(NewHours::Until(DAY_END)));
    for (wrong, said) in [
        ("", "say the hours"),
        ("9", "\"9\""),
        ("until", "not a time"),
        ("until 13pm", "\"13pm\""),
        ("9:5-12", "\"9:5-12\""),
        ("5pm-9am", "\"5pm-9am\""),
        ("8-12, 11-13", "overlaps"),
        ("morning", "\"morning\""),
    ] {
        let err = NewHours::parse(wrong).expect_err(wrong);
        assert!(err.contains(said), "{wrong:?}: {err}");
    }
}

#[test]
fn until_keeps_the_opening_and_moves_the_close() {
    let usual = [(8 * H, 12 * H), (13 * H, 17 * H)];
    assert_eq!(NewHours::Until(19 * H).on(&usual), Some(vec![(8 * H, 12 * H), (13 * H, 19 * H)]));
    assert_eq!(NewHours::Until(15 * H).on(&usual), Some(vec![(8 * H, 12 * H), (13 * H, 15 * H)]));
    assert_eq!(NewHours::Until(12 * H + 30).on(&usual), Some(vec![(8 * H, 12 * H + 30)]));
    assert_eq!(NewHours::Until(7 * H).on(&usual), None, "nothing opens before 7am");
    assert_eq!(NewHours::Until(19 * H).on(&[]), None, "a closed day has no opening to keep");
    assert_eq!(NewHours::Intervals(vec![(9 * H, 12 * H)]).on(&[]), Some(vec![(9 * H, 12 * H)]));
}

#[test]
fn hours_read_back_as_words_and_as_stored() {
    assert_eq!(hours_words(&[(8 * H, 12 * H), (13 * H + 30, 17 * H)]), "8am-12pm, 1:30pm-5pm");
    assert_eq!(hours_words(&[(0, DAY_END)]), "12am-12am");
    assert_eq!(hours_words(&[]), "closed");
    assert_eq!(change_words(date("2026-03-06"), &[]), "closed Fri 3/6");
    assert_eq!(change_words(date("2026-03-07"), &[(9 * H, 12 * H)]), "open Sat 3/7 9am-12pm");
    for open in [vec![], vec![(8 * H, 12 * H), (13 * H, DAY_END)], vec![(0, 30)]] {
        assert_eq!(from_stored(&to_stored(&open)), Some(open.clone()));
    }
    assert_eq!(to_stored(&[(8 * H, 12 * H), (13 * H, DAY_END)]), "08:00-12:00+13:00-24:00");
    assert_eq!(from_stored("9am-5pm"), None);
    assert_eq!(from_stored("12:00-08:00"), None);
}

#[test]
fn a_special_day_overrides_the_schedule_and_holidays() {
    let base = office("2026-12-24=08:00-12:00,2026-12-25");
    let calendar = base.with_special_days([
        special("2026-03-06", &[]),
        special("2026-03-07", &[(9 * H, 12 * H)]),
        special("2026-12-24", &[]),
        special("2026-12-25", &[(10 * H, 14 * H)]),
    ]);
    // Closed Friday: a text at 4:30pm Thursday counts 30 minutes, then Monday.
    let due = calendar.due_at(local(&calendar, "2026-03-05T16:30"), SignedDuration::from_hours(2));
    assert_eq!(due, local(&calendar, "2026-03-07T10:30"), "Saturday 9-12 counts before Monday");
    assert!(!calendar.is_open(local(&calendar, "2026-03-06T10:00")));
    assert!(calendar.is_open(local(&calendar, "2026-03-07T09:00")));
    assert!(!calendar.is_open(local(&calendar, "2026-12-24T09:00")), "a special day beats a holiday's hours");
    assert!(calendar.is_open(local(&calendar, "2026-12-25T13:00")), "and a closed holiday");
    assert!(calendar.is_business_day(date("2026-12-25")));
    assert_eq!(calendar.hours_on(date("2026-03-06")), (&[][..], HoursSource::Special));
    assert_eq!(calendar.regular_hours_on(date("2026-03-06")), (&[(8 * H, 17 * H)][..], HoursSource::Weekly));
    assert_eq!(calendar.regular_hours_on(date("2026-12-25")), (&[][..], HoursSource::Holiday));
    // The base calendar is untouched, and replacing the special days drops the old ones.
    assert!(base.is_open(local(&base, "2026-03-06T10:00")));
    let replaced = calendar.with_special_days([special("2026-03-09", &[])]);
    assert!(replaced.is_open(local(&replaced, "2026-03-06T10:00")));
    assert_eq!(replaced.special_days_from(date("2026-01-01")).count(), 1);
}

/// On the spring-forward Sunday (2026-03-08, Chicago), 1am-5am is three real hours.
#[test]
fn a_special_day_on_a_dst_weekend_counts_real_hours() {
    let calendar = office("").with_special_days([special("2026-03-08", &[(H, 5 * H)])]);
    let start = local(&calendar, "2026-03-08T00:00");
    assert_eq!(calendar.due_at(start, SignedDuration::from_hours(3)), local(&calendar, "2026-03-08T05:00"));
    assert_eq!(calendar.due_at(start, SignedDuration::from_hours(4)), local(&calendar, "2026-03-09T09:00"));
    let explained = calendar.explain_due("texted", start, SignedDuration::from_hours(4));
    assert!(explained.contains("3 h on Sunday, 1 h on Monday"), "{explained}");
}

#[test]
fn the_week_marks_special_days_and_holidays() {
    let calendar = office("2026-03-09").with_special_days([
        special("2026-03-06", &[]),
        special("2026-03-07", &[(9 * H, 12 * H)]),
        special("2026-12-24", &[]),
    ]);
    let week = week(&calendar, date("2026-03-05"));
    assert_eq!(
        week,
        "Hours this week:
Thu 3/5 8am-5pm
Fri 3/6 closed* (Dana)
Sat 3/7 9am-12pm* (Dana)
Sun 3/8 closed
Mon 3/9 closed (holiday)
Tue 3/10 8am-5pm
Wed 3/11 8am-5pm
Later: Thu 12/24 closed* (Dana)
* set by SMS; Normal <day> undoes it"
    );
    assert!(!self::week(&office(""), date("2026-03-05")).contains('*'));
}
