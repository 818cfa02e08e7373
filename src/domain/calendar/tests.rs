//! The calendar against SPEC §4's reference table, DST, holidays, breaks, other zones, and
//! properties over thousands of random starts.

use super::*;

fn chicago(schedule: &str, holidays: &str) -> Calendar {
    Calendar::new(
        TimeZone::get("America/Chicago").expect("tzdb"),
        WeeklySchedule::parse(schedule).expect("schedule"),
        parse_holidays(holidays).expect("holidays"),
    )
}

fn office() -> Calendar {
    chicago("mon-fri 08:00-17:00", "")
}

fn local(calendar: &Calendar, text: &str) -> Timestamp {
    let datetime: jiff::civil::DateTime = text.parse().expect("local datetime");
    datetime.to_zoned(calendar.zone().clone()).expect("zoned").timestamp()
}

fn hours(h: f64) -> SignedDuration {
    SignedDuration::from_secs_f64(h * 3600.0)
}

/// `start` and `expected` are local times in the calendar's zone.
#[track_caller]
fn check_with(calendar: &Calendar, start: &str, sla_hours: f64, expected: &str) {
    let due = calendar.due_at(local(calendar, start), hours(sla_hours));
    assert_eq!(
        due,
        local(calendar, expected),
        "{start} + {sla_hours} h: got {}",
        due.to_zoned(calendar.zone().clone())
    );
}

#[track_caller]
fn check(start: &str, sla_hours: f64, expected: &str) {
    check_with(&office(), start, sla_hours, expected);
}

/// SPEC §4 reference values (08:00–17:00 Mon–Fri, America/Chicago; 2026-03-02 is a Monday).
#[test]
fn spec_reference_values() {
    check("2026-03-02T09:00", 2.0, "2026-03-02T11:00");
    check("2026-03-02T16:30", 2.0, "2026-03-03T09:30");
    check("2026-03-02T15:00", 2.0, "2026-03-02T17:00");
    check("2026-03-02T17:00", 2.0, "2026-03-03T10:00");
    check("2026-03-02T16:59:30", 2.0, "2026-03-03T09:59:30");
    check("2026-03-02T07:00", 2.0, "2026-03-02T10:00");
    check("2026-03-06T16:00", 2.0, "2026-03-09T09:00");
    check("2026-03-07T10:00", 0.0, "2026-03-09T08:00");
    check("2026-03-02T09:00", 24.0, "2026-03-04T15:00");
    check("2026-03-06T16:00", 24.0, "2026-03-11T13:00");
    // The Friday → Monday case crosses spring-forward: Monday 09:00 is CDT.
    let due = office().due_at(local(&office(), "2026-03-06T16:00"), hours(2.0));
    assert_eq!(due.to_string(), "2026-03-09T14:00:00Z");
}

#[test]
fn creation_at_opening_closing_and_sla_zero() {
    check("2026-03-02T08:00", 2.0, "2026-03-02T10:00");
    check("2026-03-02T17:00", 0.0, "2026-03-03T08:00");
    check("2026-03-02T12:00", 0.0, "2026-03-02T12:00");
    check("2026-03-02T06:00", 0.0, "2026-03-02T08:00");
    check("2026-03-02T16:45", 0.25, "2026-03-02T17:00");
    check("2026-03-02T16:50", 0.25, "2026-03-03T08:05");
    check("2026-03-02T09:00", 0.001, "2026-03-02T09:00:03.6");
}

#[test]
fn daylight_saving_days_lose_and_gain_an_hour() {
    let always = chicago("mon-sun 00:00-24:00", "");
    // Sunday 2026-03-08: 02:00 does not exist; 24 business hours from Saturday 12:00 CST
    // end Sunday 13:00 CDT (23 wall-clock hours later on the clock face plus one).
    check_with(&always, "2026-03-07T12:00", 24.0, "2026-03-08T13:00");
    assert_eq!(
        always.business_time_between(local(&always, "2026-03-08T00:00"), local(&always, "2026-03-09T00:00")),
        hours(23.0)
    );
    // Sunday 2026-11-01: 01:00–02:00 happens twice; that day has 25 business hours.
    check_with(&always, "2026-10-31T12:00", 24.0, "2026-11-01T11:00");
    assert_eq!(
        always.business_time_between(local(&always, "2026-11-01T00:00"), local(&always, "2026-11-02T00:00")),
        hours(25.0)
    );
    // An office open Sunday mornings across the gap: 01:00–04:00 holds two real hours.
    let sunday = chicago("sun 01:00-04:00", "");
    let start = local(&sunday, "2026-03-08T01:00");
    assert_eq!(sunday.due_at(start, hours(2.0)).to_string(), "2026-03-08T09:00:00Z", "04:00 CDT");
}

#[test]
fn holidays_close_the_day_or_shorten_it() {
    // Thanksgiving 2026-11-26 (Thursday) in the middle of a window.
    let calendar = chicago("mon-fri 08:00-17:00", "2026-11-26");
    check_with(&calendar, "2026-11-25T16:00", 2.0, "2026-11-27T09:00");
    assert!(!calendar.is_business_day("2026-11-26".parse().expect("date")));
    let eve = chicago("mon-fri 08:00-17:00", "2026-12-24=08:00-12:00");
    check_with(&eve, "2026-12-24T11:00", 2.0, "2026-12-25T09:00");
    assert!(eve.is_business_day("2026-12-24".parse().expect("date")));
    let both = chicago("mon-fri 08:00-17:00", "2026-12-24=08:00-12:00,2026-12-25");
    check_with(&both, "2026-12-24T11:00", 2.0, "2026-12-28T09:00");
    assert!(!both.is_business_day("2026-12-26".parse().expect("date")), "Saturday");
}

#[test]
fn a_lunch_break_is_not_business_time() {
    let calendar = chicago("mon-fri 08:00-12:00,13:00-17:00", "");
    check_with(&calendar, "2026-03-02T11:00", 2.0, "2026-03-02T14:00");
    check_with(&calendar, "2026-03-02T12:30", 1.0, "2026-03-02T14:00");
    assert!(!calendar.is_open(local(&calendar, "2026-03-02T12:30")));
    assert!(calendar.is_open(local(&calendar, "2026-03-02T13:00")));
    assert!(!calendar.is_open(local(&calendar, "2026-03-02T17:00")));
}

#[test]
fn other_zones_and_saturdays() {
    let phoenix = Calendar::new(
        TimeZone::get("America/Phoenix").expect("tzdb"),
        WeeklySchedule::weekdays("08:00", "17:00").expect("hours"),
        Holidays::default(),
    );
    check_with(&phoenix, "2026-03-06T16:00", 2.0, "2026-03-09T09:00");
    let due = phoenix.due_at(local(&phoenix, "2026-03-06T16:00"), hours(2.0));
    assert_eq!(due.to_string(), "2026-03-09T16:00:00Z", "Phoenix stays at -07:00");
    let saturdays = chicago("mon-fri 08:00-17:00; sat 09:00-12:00", "");
    check_with(&saturdays, "2026-03-06T16:00", 2.0, "2026-03-07T10:00");
}

#[test]
fn next_open_and_business_time() {
    let calendar = office();
    let friday_evening = local(&calendar, "2026-03-06T18:00");
    assert_eq!(calendar.next_open(friday_evening), Some(local(&calendar, "2026-03-09T08:00")));
    let monday = local(&calendar, "2026-03-02T10:00");
    assert_eq!(calendar.next_open(monday), Some(monday));
    assert_eq!(
        calendar.business_time_between(local(&calendar, "2026-03-06T16:00"), local(&calendar, "2026-03-09T09:00")),
        hours(2.0)
    );
    assert_eq!(calendar.business_time_between(monday, monday), SignedDuration::ZERO);
    assert_eq!(calendar.business_time_between(monday, local(&calendar, "2026-03-01T10:00")), SignedDuration::ZERO);
    let closed = chicago("sat 00:00-00:01", "");
    assert!(closed.is_open(local(&closed, "2026-03-07T00:00:30")));
}

#[test]
fn explanations_read_as_one_sentence() {
    let calendar = office();
    let friday = local(&calendar, "2026-11-20T16:52");
    assert_eq!(
        calendar.explain_due("texted", friday, hours(2.0)),
        "texted Fri 4:52pm CST; target 2 h of business time: 8 m left Friday, 1 h 52 m on Monday → due Mon 9:52am CST"
    );
    let monday = local(&calendar, "2026-03-02T09:00");
    assert_eq!(
        calendar.explain_due("texted", monday, hours(2.0)),
        "texted Mon 9:00am CST; target 2 h of business time → due Mon 11:00am CST"
    );
    let saturday = local(&calendar, "2026-03-07T10:00");
    assert_eq!(
        calendar.explain_due("called", saturday, hours(2.0)),
        "called Sat 10:00am CST, outside business hours; counting starts Mon 8:00am CDT; target 2 h of business time → due Mon 10:00am CDT"
    );
}

/// Issue 24 item 8: a 72-second target met on Friday read "1 business minute left Friday", as
/// if Friday had one minute left.
#[test]
fn a_short_target_met_the_same_day_names_no_day() {
    let calendar = office();
    let friday = local(&calendar, "2026-11-20T12:22:48");
    assert_eq!(
        calendar.explain_due("texted", friday, SignedDuration::from_secs(72)),
        "texted Fri 12:22pm CST; target 1 m 12 s of business time → due Fri 12:24pm CST"
    );
    let late = local(&calendar, "2026-11-20T16:59:30");
    assert_eq!(
        calendar.explain_due("texted", late, SignedDuration::from_secs(72)),
        "texted Fri 4:59pm CST; target 1 m 12 s of business time: 30 s left Friday, 42 s on Monday → due Mon 8:00am CST"
    );
}

#[test]
fn a_long_target_across_a_weekend_is_told_day_by_day() {
    let calendar = office();
    let thursday = local(&calendar, "2026-11-19T15:00");
    assert_eq!(
        calendar.explain_due("called", thursday, hours(24.0)),
        "called Thu 3:00pm CST; target 24 h of business time: 2 h left Thursday, 9 h on Friday, 9 h on Monday, 4 h on Tuesday → due Tue 12:00pm CST"
    );
    let friday = local(&calendar, "2026-11-20T15:30");
    assert_eq!(
        calendar.explain_due("texted", friday, hours(2.0)),
        "texted Fri 3:30pm CST; target 2 h of business time: 1 h 30 m left Friday, 30 m on Monday → due Mon 8:30am CST"
    );
}

#[test]
fn a_snoozed_issue_explains_its_new_due_time() {
    let calendar = office();
    let monday = local(&calendar, "2026-11-23T09:00");
    let snooze = Snooze { by: "Dana".to_string(), at: local(&calendar, "2026-11-23T09:05") };
    let until = local(&calendar, "2026-11-23T14:00");
    assert_eq!(
        calendar.explain_issue_due("texted", monday, hours(2.0), until, Some(&snooze)),
        "texted Mon 9:00am CST; target 2 h of business time → due Mon 11:00am CST, then snoozed by Dana on Mon 9:05am CST until Mon 2:00pm CST"
    );
    let unchanged = calendar.due_at(monday, hours(2.0));
    assert_eq!(
        calendar.explain_issue_due("texted", monday, hours(2.0), unchanged, Some(&snooze)),
        calendar.explain_due("texted", monday, hours(2.0)),
        "a due time the snooze did not change is explained as counted"
    );
    assert_eq!(
        calendar.explain_issue_due("texted", monday, hours(2.0), until, None),
        "texted Mon 9:00am CST; target 2 h of business time, counted on the hours as they were then → due Mon 2:00pm CST"
    );
}

#[test]
fn durations_read_short_and_exact() {
    let words = |secs: i64| duration_words(SignedDuration::from_secs(secs));
    assert_eq!(words(45), "45 s");
    assert_eq!(words(72), "1 m 12 s");
    assert_eq!(words(480), "8 m");
    assert_eq!(words(7200), "2 h");
    assert_eq!(words(6720), "1 h 52 m");
    assert_eq!(words(6725), "1 h 52 m");
}

#[test]
fn schedules_and_holidays_parse_strictly() {
    assert!(WeeklySchedule::parse("mon-sun 00:00-24:00").is_ok());
    assert!(WeeklySchedule::parse("Monday-Friday 08:00-17:00").is_ok());
    assert!(WeeklySchedule::parse("fri-mon 08:00-17:00").is_ok(), "ranges may wrap");
    assert!(WeeklySchedule::parse("mon,wed 08:00-17:00").is_ok());
    for bad in
        ["", "someday 9-5", "mon 17:00-08:00", "mon 08:00-12:00,11:00-13:00", "mon 8-17", "mon 08:00-24:01", "mon"]
    {
        let err = WeeklySchedule::parse(bad).expect_err(bad);
        assert!(err.contains("expected") || err.contains("overlaps"), "{bad}: {err}");
    }
    assert!(WeeklySchedule::weekdays("17:00", "08:00").is_err());
    assert!(parse_holidays("").is_ok());
    assert!(parse_holidays("2026-12-24=08:00-10:00+11:00-12:00").is_ok());
    for bad in ["christmas", "2026-13-01", "2026-12-24=noon"] {
        assert!(parse_holidays(bad).is_err(), "{bad}");
    }
}

/// A tiny deterministic generator: the same cases on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn property(calendar: &Calendar, seed: u64) {
    let mut random = XorShift(seed);
    let year_start = local(calendar, "2026-01-01T00:00").as_second();
    for _ in 0..2000 {
        let start = Timestamp::from_second(year_start + random.below(365 * 86_400) as i64).expect("in range");
        let a = SignedDuration::from_secs(random.below(40 * 3600) as i64);
        let b = SignedDuration::from_secs(1 + random.below(40 * 3600) as i64);
        let due = calendar.due_at(start, a + b);
        assert_eq!(due, calendar.due_at(calendar.due_at(start, a), b), "start {start}, a {a:?}, b {b:?}");
        assert_eq!(calendar.business_time_between(start, due), a + b, "start {start}, sla {:?}", a + b);
    }
}

#[test]
fn due_times_compose_and_measure_back() {
    property(&office(), 0x9e37_79b9_7f4a_7c15);
    property(
        &chicago("mon-fri 08:00-12:00,13:00-17:00; sat 09:00-12:00", "2026-11-26,2026-12-24=08:00-12:00,2026-07-03"),
        42,
    );
    property(&chicago("mon-sun 00:00-24:00", ""), 7);
}

#[test]
fn a_business_day_ends_at_its_last_closing() {
    let calendar = office();
    let end = |text: &str| calendar.business_day_end(local(&calendar, text));
    // Monday 2026-03-02, 08:00-17:00.
    assert_eq!(end("2026-03-02T10:00"), Some(local(&calendar, "2026-03-02T17:00")));
    // After closing, or on a weekend, it is the next business day's close.
    assert_eq!(end("2026-03-02T18:30"), Some(local(&calendar, "2026-03-03T17:00")));
    assert_eq!(end("2026-03-07T10:00"), Some(local(&calendar, "2026-03-09T17:00")));
}

#[test]
fn a_thank_you_closes_the_thread_within_its_window() {
    use crate::domain::classify::AckWindow;
    let calendar = office();
    let at = |text: &str| local(&calendar, text);
    let reply = at("2026-03-02T15:00");
    let eod = AckWindow::EndOfBusinessDay;
    assert!(eod.covers(&calendar, reply, at("2026-03-02T16:59")));
    assert!(!eod.covers(&calendar, reply, at("2026-03-03T09:00")), "the next morning is a new day");
    assert!(!eod.covers(&calendar, reply, at("2026-03-02T14:00")), "a thanks before the reply thanks nothing");
    let twelve = AckWindow::Hours(hours(12.0));
    assert!(twelve.covers(&calendar, reply, at("2026-03-03T02:59")));
    assert!(!twelve.covers(&calendar, reply, at("2026-03-03T03:01")));
}
