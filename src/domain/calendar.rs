//! The business calendar: opening hours, holidays, and SLA arithmetic in business time.
//!
//! A [`Calendar`] knows the zone, a weekly schedule with several intervals a day, and holidays
//! (closed, or special hours). Every question is answered by walking the open intervals of
//! each local day as real instants, so the spring-forward day has one hour less and the
//! fall-back day one more, with no minute stepping (SPEC §4). Pure: `now` is an argument.
//!
//! Special days set by managers' SMS (issue 18, `domain::hours`) lie over both: a date with a
//! special day takes its hours, whatever the weekly schedule and `HOLIDAYS` say.

use std::collections::BTreeMap;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

/// Minutes since local midnight; 1440 is the end of the day (`24:00`).
pub type Minute = u16;

/// One open interval of a local day, `[start, end)` in minutes.
pub type Interval = (Minute, Minute);

/// The end of a local day, `24:00`.
pub const DAY_END: Minute = 24 * 60;

/// How far ahead the calendar looks for open time before giving up (a calendar that is
/// never open, or a long closure).
const HORIZON_DAYS: i64 = 400;

/// A manager's snooze, as an issue's Why tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snooze {
    /// Who snoozed it, by name when known.
    pub by: String,
    /// When they snoozed it.
    pub at: Timestamp,
}

/// Opening hours per weekday, Monday first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeeklySchedule {
    days: [Vec<Interval>; 7],
}

/// Closed dates, or dates with special hours.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holidays {
    dates: BTreeMap<Date, Vec<Interval>>,
}

/// Hours a manager set for one date (`domain::hours` reads the words); they override the weekly
/// schedule and `HOLIDAYS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    /// The local date.
    pub date: Date,
    /// Its open intervals, sorted; empty when closed all day.
    pub open: Vec<Interval>,
    /// Who set it, as managers read it: a name, else a contact id.
    pub by: String,
}

/// The business calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    zone: TimeZone,
    weekly: WeeklySchedule,
    holidays: Holidays,
    /// Special days by date; they override `weekly` and `holidays`.
    special: BTreeMap<Date, SpecialDay>,
}

/// Where a date's hours come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoursSource {
    /// The weekly schedule.
    Weekly,
    /// `HOLIDAYS`.
    Holiday,
    /// A special day set by a manager.
    Special,
}

const SCHEDULE_EXAMPLE: &str = "expected e.g. \"mon-fri 08:00-12:00,13:00-17:00; sat 09:00-12:00\"";
const HOLIDAY_EXAMPLE: &str = "expected dates, optionally with hours, e.g. 2026-11-26,2026-12-24=08:00-12:00";

impl WeeklySchedule {
    /// Monday to Friday, `start`–`end` (`BUSINESS_HOURS_START`/`_END`).
    pub fn weekdays(start: &str, end: &str) -> Result<WeeklySchedule, String> {
        let interval = parse_interval(&format!("{start}-{end}"))
            .ok_or_else(|| format!("expected a closing time after the opening time {start}, e.g. 17:00"))?;
        let mut schedule = WeeklySchedule::default();
        for day in &mut schedule.days[..5] {
            day.push(interval);
        }
        Ok(schedule)
    }

    /// `BUSINESS_SCHEDULE`: `mon-fri 08:00-12:00,13:00-17:00; sat 09:00-12:00`.
    pub fn parse(spec: &str) -> Result<WeeklySchedule, String> {
        let mut schedule = WeeklySchedule::default();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (days, hours) = part.split_once(char::is_whitespace).ok_or_else(|| SCHEDULE_EXAMPLE.to_string())?;
            let days = parse_days(days)
                .ok_or_else(|| format!("\"{days}\" is not a day or range of days; {SCHEDULE_EXAMPLE}"))?;
            let intervals = parse_intervals(hours.trim(), ',')
                .ok_or_else(|| format!("\"{}\" is not a list of HH:MM-HH:MM; {SCHEDULE_EXAMPLE}", hours.trim()))?;
            for day in days {
                schedule.days[day].extend(intervals.iter().copied());
                normalise(&mut schedule.days[day]).map_err(|why| format!("{why}; {SCHEDULE_EXAMPLE}"))?;
            }
        }
        if schedule.days.iter().all(Vec::is_empty) {
            return Err(SCHEDULE_EXAMPLE.to_string());
        }
        Ok(schedule)
    }
}

/// `HOLIDAYS`: `2026-11-26,2026-12-25,2026-12-24=08:00-12:00` (several special intervals are
/// joined with `+`: `2026-12-24=08:00-10:00+11:00-12:00`).
pub fn parse_holidays(spec: &str) -> Result<Holidays, String> {
    let mut holidays = Holidays::default();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (date, hours) = match item.split_once('=') {
            Some((date, hours)) => (date.trim(), Some(hours.trim())),
            None => (item, None),
        };
        let date: Date = date.parse().map_err(|_| format!("\"{date}\" is not a date; {HOLIDAY_EXAMPLE}"))?;
        let mut intervals = match hours {
            None => Vec::new(),
            Some(hours) => {
                parse_intervals(hours, '+').ok_or_else(|| format!("\"{hours}\" are not hours; {HOLIDAY_EXAMPLE}"))?
            }
        };
        normalise(&mut intervals)?;
        holidays.dates.insert(date, intervals);
    }
    Ok(holidays)
}

fn parse_days(spec: &str) -> Option<Vec<usize>> {
    let mut days = Vec::new();
    for piece in spec.split(',') {
        match piece.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (day_index(first)?, day_index(last)?);
                // A range may wrap over the weekend: fri-mon.
                let mut day = first;
                loop {
                    days.push(day);
                    if day == last {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
            None => days.push(day_index(piece)?),
        }
    }
    Some(days)
}

fn day_index(name: &str) -> Option<usize> {
    let name = name.trim().to_ascii_lowercase();
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    names.iter().position(|day| name.len() >= 3 && (name == *day || day_full(day).starts_with(&name)))
}

fn day_full(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

fn parse_intervals(spec: &str, separator: char) -> Option<Vec<Interval>> {
    spec.split(separator).map(|interval| parse_interval(interval.trim())).collect()
}

fn parse_interval(spec: &str) -> Option<Interval> {
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (parse_minute(start.trim())?, parse_minute(end.trim())?);
    (start < end).then_some((start, end))
}

fn parse_minute(text: &str) -> Option<Minute> {
    let (hour, minute) = text.split_once(':')?;
    if hour.is_empty() || hour.len() > 2 || minute.len() != 2 {
        return None;
    }
    let (hour, minute): (Minute, Minute) = (hour.parse().ok()?, minute.parse().ok()?);
    let total = hour * 60 + minute;
    (minute < 60 && total <= DAY_END).then_some(total)
}

/// Sorts a day's intervals and refuses overlaps.
pub fn normalise(intervals: &mut Vec<Interval>) -> Result<(), String> {
    intervals.sort_unstable();
    intervals.dedup();
    for pair in intervals.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(format!("{} overlaps {}", show(pair[0]), show(pair[1])));
        }
    }
    Ok(())
}

fn show((start, end): Interval) -> String {
    format!("{:02}:{:02}-{:02}:{:02}", start / 60, start % 60, end / 60, end % 60)
}

impl Calendar {
    /// A calendar in `zone`.
    pub fn new(zone: TimeZone, weekly: WeeklySchedule, holidays: Holidays) -> Calendar {
        Calendar { zone, weekly, holidays, special: BTreeMap::new() }
    }

    /// This calendar with `days` as its special days, replacing any it had.
    pub fn with_special_days(&self, days: impl IntoIterator<Item = SpecialDay>) -> Calendar {
        let special = days.into_iter().map(|day| (day.date, day)).collect();
        Calendar { special, ..self.clone() }
    }

    /// The special day set for `date`, if any.
    pub fn special_day(&self, date: Date) -> Option<&SpecialDay> {
        self.special.get(&date)
    }

    /// The special days on or after `from`, by date.
    pub fn special_days_from(&self, from: Date) -> impl Iterator<Item = &SpecialDay> {
        self.special.range(from..).map(|(_, day)| day)
    }

    /// A date's open hours and where they come from.
    pub fn hours_on(&self, date: Date) -> (&[Interval], HoursSource) {
        match self.special.get(&date) {
            Some(day) => (&day.open, HoursSource::Special),
            None => self.regular_hours_on(date),
        }
    }

    /// A date's hours without its special day: `HOLIDAYS`, else the weekly schedule.
    pub fn regular_hours_on(&self, date: Date) -> (&[Interval], HoursSource) {
        match self.holidays.dates.get(&date) {
            Some(holiday) => (holiday, HoursSource::Holiday),
            None => (&self.weekly.days[date.weekday().to_monday_zero_offset() as usize], HoursSource::Weekly),
        }
    }

    /// The business's time zone.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    fn intervals_of(&self, date: Date) -> &[Interval] {
        self.hours_on(date).0
    }

    /// A day's open intervals as instants. A local time in a DST gap maps forward, so an
    /// interval never runs backwards.
    fn open_intervals(&self, date: Date) -> Vec<(Timestamp, Timestamp)> {
        self.intervals_of(date)
            .iter()
            .filter_map(|&(start, end)| {
                let start = self.instant(date, start)?;
                let end = self.instant(date, end)?;
                (start < end).then_some((start, end))
            })
            .collect()
    }

    fn instant(&self, date: Date, minute: Minute) -> Option<Timestamp> {
        let (date, minute) = if minute == DAY_END { (date.tomorrow().ok()?, 0) } else { (date, minute) };
        let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).ok()?;
        date.to_datetime(time).to_zoned(self.zone.clone()).ok().map(|zoned| zoned.timestamp())
    }

    /// Open intervals from the local day of `from` onwards, for the horizon.
    fn intervals_from(&self, from: Timestamp) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let first = from.to_zoned(self.zone.clone()).date();
        (0..HORIZON_DAYS)
            .filter_map(move |offset| first.checked_add(Span::new().days(offset)).ok())
            .flat_map(|date| self.open_intervals(date))
    }

    /// Whether `at` is inside business hours (start inclusive, end exclusive).
    pub fn is_open(&self, at: Timestamp) -> bool {
        self.intervals_from(at).take_while(|(start, _)| *start <= at).any(|(start, end)| start <= at && at < end)
    }

    /// The first open instant at or after `at`; `None` when the calendar is closed for the
    /// whole horizon.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        self.intervals_from(at).find(|(_, end)| *end > at).map(|(start, _)| start.max(at))
    }

    /// The close of the business day that `at` falls in: the end of that day's last open
    /// interval, or, after closing or on a closed day, of the next business day's. `None` when
    /// the calendar is never open within the horizon.
    pub fn business_day_end(&self, at: Timestamp) -> Option<Timestamp> {
        let open = self.next_open(at)?;
        let date = open.to_zoned(self.zone.clone()).date();
        self.open_intervals(date).into_iter().map(|(_, end)| end).max()
    }

    /// Whether the local date has business hours at all (a holiday with special hours does).
    pub fn is_business_day(&self, date: Date) -> bool {
        !self.open_intervals(date).is_empty()
    }

    /// The instant at which `sla` of business time has passed, counted from `start`
    /// (SPEC §4). Outside hours, counting starts at the next opening; an SLA of zero is the
    /// next open instant. A calendar never open within the horizon falls back to `start + sla`.
    pub fn due_at(&self, start: Timestamp, sla: SignedDuration) -> Timestamp {
        let mut left = sla.max(SignedDuration::ZERO);
        for (open, close) in self.intervals_from(start) {
            if close <= start {
                continue;
            }
            let from = open.max(start);
            let available = close.duration_since(from);
            if left <= available {
                return from + left;
            }
            left -= available;
        }
        start + sla
    }

    /// Business time between `from` and `to` (zero when `to` is not after `from`).
    pub fn business_time_between(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        let mut total = SignedDuration::ZERO;
        for (open, close) in self.intervals_from(from) {
            if open >= to {
                break;
            }
            let (start, end) = (open.max(from), close.min(to));
            if end > start {
                total += end.duration_since(start);
            }
        }
        total
    }

    /// One sentence explaining a due time counted from creation (SPEC §4), e.g. "texted Fri
    /// 4:52pm CST; target 2 h of business time: 8 m left Friday, 1 h 52 m on Monday → due Mon
    /// 9:52am CST". A target met within one day names no day: "texted Fri 12:22pm CST; target
    /// 1 m 12 s of business time → due Fri 12:24pm CST".
    pub fn explain_due(&self, verb: &str, created_at: Timestamp, sla: SignedDuration) -> String {
        let due = self.due_at(created_at, sla);
        let mut sentence = format!("{verb} {}", self.stamp(created_at));
        let open_at_creation = self.is_open(created_at);
        if !open_at_creation {
            match self.next_open(created_at) {
                Some(opening) => {
                    sentence.push_str(&format!(", outside business hours; counting starts {}", self.stamp(opening)))
                }
                None => sentence.push_str(", outside business hours"),
            }
        }
        sentence.push_str(&format!("; target {} of business time", duration_words(sla)));
        let created_date = created_at.to_zoned(self.zone.clone()).date();
        let mut spent: BTreeMap<Date, SignedDuration> = BTreeMap::new();
        for (open, close) in self.intervals_from(created_at) {
            if open >= due {
                break;
            }
            let (start, end) = (open.max(created_at), close.min(due));
            if end > start {
                *spent.entry(open.to_zoned(self.zone.clone()).date()).or_default() += end.duration_since(start);
            }
        }
        // Only a target spread over several days is broken down by day: "1 m left Friday" for
        // a target met on Friday would read as if Friday had one minute left.
        if spent.len() > 1 {
            let parts: Vec<String> = spent
                .into_iter()
                .map(|(date, amount)| {
                    let day = weekday_name(date.weekday());
                    if date == created_date && open_at_creation {
                        format!("{} left {day}", duration_words(amount))
                    } else {
                        format!("{} on {day}", duration_words(amount))
                    }
                })
                .collect();
            sentence.push_str(": ");
            sentence.push_str(&parts.join(", "));
        }
        sentence.push_str(&format!(" → due {}", self.stamp(due)));
        sentence
    }

    /// [`Calendar::explain_due`] for an issue whose due time is now `due_at`, which a manager
    /// may have moved since: "…→ due Mon 11:00am CST, then snoozed by Dana on Mon 9:05am CST
    /// until Mon 2:00pm CST". The sentence always ends at the due time the issue has now.
    pub fn explain_issue_due(
        &self,
        verb: &str,
        created_at: Timestamp,
        sla: SignedDuration,
        due_at: Timestamp,
        snooze: Option<&Snooze>,
    ) -> String {
        let counted = self.explain_due(verb, created_at, sla);
        if self.due_at(created_at, sla) == due_at {
            return counted;
        }
        match snooze {
            Some(snooze) => format!(
                "{counted}, then snoozed by {} on {} until {}",
                snooze.by,
                self.stamp(snooze.at),
                self.stamp(due_at)
            ),
            // The hours changed since (a special day, or the configuration), and an OPEN
            // issue keeps the due time it had when it fell due.
            None => format!(
                "{verb} {}; target {} of business time, counted on the hours as they were then → due {}",
                self.stamp(created_at),
                duration_words(sla),
                self.stamp(due_at)
            ),
        }
    }

    /// `Fri 4:52pm CST`.
    pub fn stamp(&self, at: Timestamp) -> String {
        let local = at.to_zoned(self.zone.clone());
        format!("{} {} {}", local.strftime("%a"), clock_12h(local.time()), zone_abbreviation(&self.zone, at))
    }

    /// `at` with its date, for lists that span days: `Mon 11/23 9:00am CST`.
    pub fn day_stamp(&self, at: Timestamp) -> String {
        let local = at.to_zoned(self.zone.clone());
        format!("{} {}", local.strftime("%a %-m/%-d"), clock_12h(local.time()))
            + &format!(" {}", zone_abbreviation(&self.zone, at))
    }
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

/// A business-time amount, short and exact enough to add up: `72 s` reads `1 m 12 s`, `45 s`,
/// `8 m`, `2 h`, `1 h 52 m` (seconds are dropped from an hour or more).
pub fn duration_words(amount: SignedDuration) -> String {
    let seconds = amount.as_secs().max(0);
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (hours, minutes, seconds) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} m"),
        (0, m, s) => format!("{m} m {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} m"),
    }
}

/// `9:52am`: 12-hour clock, lowercase, no leading zero.
pub fn clock_12h(time: Time) -> String {
    let hour = time.hour();
    let suffix = if hour < 12 { "am" } else { "pm" };
    let twelve = match hour % 12 {
        0 => 12,
        h => h,
    };
    format!("{twelve}:{:02}{suffix}", time.minute())
}

/// The zone's real abbreviation at `at` (CST or CDT), never a constant.
pub fn zone_abbreviation(zone: &TimeZone, at: Timestamp) -> String {
    at.to_zoned(zone.clone()).strftime("%Z").to_string()
}

#[cfg(test)]
mod tests;
