//! Special days (issue 18): hours that managers set by SMS for one date, and the words they use.
//!
//! `Closed Fri`, `Open Sat 9-12`, `Open today until 7pm` and `Normal Fri` name a [`Day`] and,
//! for `Open`, the [`NewHours`]. `domain::command` parses them with the functions here, without
//! knowing the date. When the store carries a command out, it resolves the day against today's
//! local date and "until" against the calendar. The resulting `calendar::SpecialDay` lies over the
//! weekly schedule and `HOLIDAYS` in `calendar::Calendar`. Pure: `today` is an argument.

use jiff::civil::{Date, Weekday};

use super::calendar::{Calendar, DAY_END, HoursSource, Interval, Minute, normalise};

/// A day as a manager names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    /// `today`.
    Today,
    /// `tomorrow`.
    Tomorrow,
    /// `Fri`, `friday`: the next such day, today included.
    Weekday(Weekday),
    /// `12/24`: this year's, or next year's once this year's has passed.
    MonthDay {
        /// 1 to 12.
        month: i8,
        /// 1 to 31.
        day: i8,
    },
    /// `12/24/2026` or `2026-12-24`.
    Date(Date),
}

/// The hours an `Open` command sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewHours {
    /// `9-12`, `8am-12pm, 1pm-4pm`: exactly these intervals.
    Intervals(Vec<Interval>),
    /// `until 7pm`: the day's hours as they stand, closing at that time instead.
    Until(Minute),
}

impl Day {
    /// Reads one word: `today`, `tomorrow`, a weekday (`Fri`, `Thurs`, `friday`), `12/24`,
    /// `12/24/2026` or `2026-12-24`.
    pub fn parse(word: &str) -> Option<Day> {
        let word = word.trim().to_lowercase();
        match word.as_str() {
            "today" | "tonight" => return Some(Day::Today),
            "tomorrow" | "tmrw" => return Some(Day::Tomorrow),
            _ => {}
        }
        if let Some(day) = weekday(&word) {
            return Some(Day::Weekday(day));
        }
        if let Ok(date) = word.parse::<Date>() {
            return Some(Day::Date(date));
        }
        let parts: Vec<&str> = word.split('/').collect();
        let number = |text: &str| text.parse::<i16>().ok().filter(|_| !text.is_empty() && text.len() <= 4);
        match parts.as_slice() {
            [month, day] => {
                let (month, day) = (i8::try_from(number(month)?).ok()?, i8::try_from(number(day)?).ok()?);
                // 2024 is a leap year, so 2/29 is a day that exists in some year.
                Date::new(2024, month, day).ok().map(|_| Day::MonthDay { month, day })
            }
            [month, day, year] => {
                let year = number(year)?;
                let year = if year < 100 { 2000 + year } else { year };
                let (month, day) = (i8::try_from(number(month)?).ok()?, i8::try_from(number(day)?).ok()?);
                Date::new(year, month, day).ok().map(Day::Date)
            }
            _ => None,
        }
    }

    /// The date this names, seen from `today`.
    pub fn resolve(self, today: Date) -> Date {
        match self {
            Day::Today => today,
            Day::Tomorrow => today.tomorrow().unwrap_or(today),
            Day::Weekday(day) => {
                let ahead = (day.to_monday_zero_offset() - today.weekday().to_monday_zero_offset()).rem_euclid(7);
                today.checked_add(jiff::Span::new().days(ahead)).unwrap_or(today)
            }
            Day::MonthDay { month, day } => (today.year()..=today.year().saturating_add(8))
                .filter_map(|year| Date::new(year, month, day).ok())
                .find(|date| *date >= today)
                .unwrap_or(today),
            Day::Date(date) => date,
        }
    }
}

fn weekday(word: &str) -> Option<Weekday> {
    const NAMES: [(&str, Weekday); 7] = [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ];
    let word = word.trim_end_matches('.');
    NAMES.iter().find(|(name, _)| word.len() >= 3 && name.starts_with(word)).map(|(_, day)| *day)
}

impl NewHours {
    /// Reads `9-12`, `9am-12:30pm`, `8-12, 1pm-4pm` (also joined by `+` or `and`) or
    /// `until 7pm`. Bare hours are on the 24-hour clock, except that an end not after its
    /// start is in the afternoon (`9-5` is 9am to 5pm), and so is a bare start before an end
    /// said in pm more than 12 hours later (`1-4pm`). The error says what was wrong.
    pub fn parse(text: &str) -> Result<NewHours, String> {
        let text = text.trim().trim_end_matches(['.', '!']).to_lowercase();
        if text.is_empty() {
            return Err("say the hours".to_string());
        }
        for word in ["until", "till", "til", "to"] {
            if let Some(rest) = text.strip_prefix(word).filter(|rest| rest.is_empty() || rest.starts_with(' ')) {
                let (until, _) = parse_time(rest).ok_or_else(|| format!("\"{}\" is not a time", rest.trim()))?;
                return if until == 0 { Ok(NewHours::Until(DAY_END)) } else { Ok(NewHours::Until(until)) };
            }
        }
        let mut open = Vec::new();
        for piece in text.replace(" and ", ",").split([',', '+']).map(str::trim).filter(|p| !p.is_empty()) {
            open.push(parse_interval(piece).ok_or_else(|| format!("\"{piece}\" is not hours like 9-12 or 9am-5pm"))?);
        }
        normalise(&mut open)?;
        Ok(NewHours::Intervals(open))
    }

    /// The intervals these hours give a day whose hours are now `current`: for "until", the
    /// intervals that start before that time, the last one closing then. `None` when nothing
    /// opens before it.
    pub fn on(&self, current: &[Interval]) -> Option<Vec<Interval>> {
        match self {
            NewHours::Intervals(open) => Some(open.clone()),
            NewHours::Until(until) => {
                let mut open: Vec<Interval> = current.iter().copied().filter(|(start, _)| start < until).collect();
                let last = open.last_mut()?;
                last.1 = *until;
                Some(open)
            }
        }
    }
}

/// One interval, `9-12` or `9am - 5:30pm` (also with `to` or an en dash).
fn parse_interval(text: &str) -> Option<Interval> {
    let text = text.replace(" to ", "-").replace('–', "-");
    let (start, end) = text.split_once('-')?;
    let ((mut start, start_said), (mut end, end_said)) = (parse_time(start)?, parse_time(end)?);
    if end_said && end == 0 {
        end = DAY_END;
    }
    if !start_said && end_said && start < 720 && start + 720 < end {
        start += 720;
    }
    if !end_said && end <= start && end < 720 {
        end += 720;
    }
    (start < end).then_some((start, end))
}

/// A clock time, and whether it said am, pm, noon or midnight: `7pm`, `7:30 pm`, `19:00`, `19`,
/// `noon`, `midnight` (0).
fn parse_time(text: &str) -> Option<(Minute, bool)> {
    let text: String = text.chars().filter(|c| !c.is_whitespace() && *c != '.').collect();
    match text.as_str() {
        "noon" => return Some((720, true)),
        "midnight" => return Some((0, true)),
        _ => {}
    }
    let (digits, half) = match text.strip_suffix('m').unwrap_or(&text) {
        t if t.ends_with('a') => (&t[..t.len() - 1], Some(0)),
        t if t.ends_with('p') => (&t[..t.len() - 1], Some(720)),
        _ => (text.as_str(), None),
    };
    let (hour, minute) = digits.split_once(':').unwrap_or((digits, "00"));
    let valid = |part: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())
    };
    if !valid(hour, 1..=2) || !valid(minute, 2..=2) {
        return None;
    }
    let (hour, minute): (Minute, Minute) = (hour.parse().ok()?, minute.parse().ok()?);
    if minute >= 60 {
        return None;
    }
    match half {
        Some(offset) if (1..=12).contains(&hour) => Some(((hour % 12) * 60 + minute + offset, true)),
        Some(_) => None,
        None if hour * 60 + minute <= DAY_END => Some((hour * 60 + minute, false)),
        None => None,
    }
}

/// `9am`, `7:30pm`, `12pm`; the day's end is `12am`.
pub fn time_words(minute: Minute) -> String {
    let (hour, minute) = ((minute / 60) % 24, minute % 60);
    let suffix = if hour < 12 { "am" } else { "pm" };
    let twelve = if hour % 12 == 0 { 12 } else { hour % 12 };
    if minute == 0 { format!("{twelve}{suffix}") } else { format!("{twelve}:{minute:02}{suffix}") }
}

/// `8am-12pm, 1pm-5pm`, or `closed`.
pub fn hours_words(open: &[Interval]) -> String {
    if open.is_empty() {
        return "closed".to_string();
    }
    let words: Vec<String> =
        open.iter().map(|(start, end)| format!("{}-{}", time_words(*start), time_words(*end))).collect();
    words.join(", ")
}

/// `Fri 3/6`.
pub fn date_words(date: Date) -> String {
    format!("{} {}/{}", date.strftime("%a"), date.month(), date.day())
}

/// What a special day says, for replies and timelines: `closed Fri 3/6`, `open Sat 3/7 9am-12pm`.
pub fn change_words(date: Date, open: &[Interval]) -> String {
    match open {
        [] => format!("closed {}", date_words(date)),
        open => format!("open {} {}", date_words(date), hours_words(open)),
    }
}

/// The stored form of a day's hours: `08:00-12:00+13:00-17:00`, empty when closed.
pub fn to_stored(open: &[Interval]) -> String {
    let parts: Vec<String> = open
        .iter()
        .map(|(start, end)| format!("{:02}:{:02}-{:02}:{:02}", start / 60, start % 60, end / 60, end % 60))
        .collect();
    parts.join("+")
}

/// Reads [`to_stored`]'s form; `None` when it is not that form.
pub fn from_stored(text: &str) -> Option<Vec<Interval>> {
    let mut open = Vec::new();
    for piece in text.split('+').filter(|piece| !piece.is_empty()) {
        let (start, end) = piece.split_once('-')?;
        let ((start, false), (end, false)) = (parse_time(start)?, parse_time(end)?) else { return None };
        if start >= end {
            return None;
        }
        open.push((start, end));
    }
    normalise(&mut open).ok()?;
    Some(open)
}

/// The `Hours` reply: seven days from `today`, each special day marked `*` with who set it,
/// holidays marked, then any special day set further ahead.
pub fn week(calendar: &Calendar, today: Date) -> String {
    let line = |date: Date| {
        let (open, source) = calendar.hours_on(date);
        let mark = match (source, calendar.special_day(date)) {
            (HoursSource::Special, Some(day)) => format!("* ({})", day.by),
            (HoursSource::Holiday, _) => " (holiday)".to_string(),
            _ => String::new(),
        };
        format!("{} {}{mark}", date_words(date), hours_words(open))
    };
    let days: Vec<Date> = (0..7).filter_map(|offset| today.checked_add(jiff::Span::new().days(offset)).ok()).collect();
    let mut lines = vec!["Hours this week:".to_string()];
    lines.extend(days.iter().map(|date| line(*date)));
    let after = days.last().and_then(|date| date.tomorrow().ok()).unwrap_or(today);
    let later: Vec<String> = calendar.special_days_from(after).map(|day| line(day.date)).collect();
    if !later.is_empty() {
        lines.push(format!("Later: {}", later.join("; ")));
    }
    if !later.is_empty() || days.iter().any(|date| calendar.special_day(*date).is_some()) {
        lines.push("* set by SMS; Normal <day> undoes it".to_string());
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests;
