//! Cron fields, as the original's `.env` wrote its schedule (`CRON_DOW=1-5`,
//! `CRON_BUSINESS_HOURS=8-16`, `CRON_MORNING_HOUR=8`).
//!
//! The original rendered these into a crontab; Sentinel reads them once at start and maps each
//! onto its own schedule (`config`). Only the field syntax lives here: `*`, numbers, ranges
//! `a-b`, lists `a,b`, steps `*/n` and `a-b/n`, and for days of the week the names `mon`–`sun`
//! and both `0` and `7` for Sunday, as cron reads them.

use std::collections::BTreeSet;

use jiff::civil::Weekday;

/// Reads an hour-of-day field (0–23) into the hours it selects.
pub fn hours(field: &str) -> Result<BTreeSet<u8>, String> {
    parse(field, 0, 23, &[]).map_err(|why| format!("{why}; expected cron hours 0-23, e.g. 8 or 8-16 or 8,11,15 or */2"))
}

/// A set of days of the week.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Weekdays(u8);

impl Weekdays {
    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.to_monday_zero_offset()) != 0
    }

    fn insert(&mut self, day: Weekday) {
        self.0 |= 1 << day.to_monday_zero_offset();
    }

    /// How many days are in the set.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether no day is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Reads a day-of-week field (0–7, Sunday both 0 and 7, or names) into the weekdays it selects.
pub fn weekdays(field: &str) -> Result<Weekdays, String> {
    const NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let numbers = parse(field, 0, 7, &NAMES).map_err(|why| {
        format!("{why}; expected cron days of the week 0-7 (0 and 7 are Sunday), e.g. 1-5 or mon-fri")
    })?;
    let mut days = Weekdays::default();
    for n in numbers {
        days.insert(Weekday::from_sunday_zero_offset((n % 7) as i8).unwrap_or(Weekday::Sunday));
    }
    Ok(days)
}

/// Reads a "every N minutes" value, as the original's `*_EVERY_MINUTES` (1–59).
pub fn every_minutes(value: &str) -> Result<u8, String> {
    value
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|n| (1..=59).contains(n))
        .ok_or_else(|| "expected a step in minutes, 1 to 59".to_string())
}

/// `mon-fri`, `sat`, `mon,wed,fri`: how check-config shows a set of weekdays.
pub fn describe_weekdays(days: Weekdays) -> String {
    let order = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    let short = |day: Weekday| -> String { format!("{day:?}").to_lowercase().chars().take(3).collect() };
    let mut runs: Vec<String> = Vec::new();
    let mut index = 0;
    while index < order.len() {
        if !days.contains(order[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index + 1 < order.len() && days.contains(order[index + 1]) {
            index += 1;
        }
        runs.push(if start == index {
            short(order[start])
        } else {
            format!("{}-{}", short(order[start]), short(order[index]))
        });
        index += 1;
    }
    if runs.is_empty() { "no day".to_string() } else { runs.join(",") }
}

fn parse(field: &str, min: u8, max: u8, names: &[&str]) -> Result<BTreeSet<u8>, String> {
    let field = field.trim();
    if field.is_empty() {
        return Err("empty".to_string());
    }
    let value = |text: &str| -> Result<u8, String> {
        let lower = text.trim().to_ascii_lowercase();
        if let Some(at) = names.iter().position(|name| *name == lower) {
            return Ok(at as u8);
        }
        match lower.parse::<u8>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!("\"{text}\" is out of range")),
        }
    };
    let mut selected = BTreeSet::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u8 =
                    step.trim().parse().ok().filter(|s| *s >= 1).ok_or(format!("\"{part}\" has a bad step"))?;
                (range.trim(), step)
            }
            None => (part.trim(), 1),
        };
        let (low, high) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((low, high)) => (value(low)?, value(high)?),
                // `5/10` in cron means from 5 to the end, every 10.
                None if step > 1 => (value(range)?, max),
                None => {
                    let single = value(range)?;
                    (single, single)
                }
            },
        };
        if low > high {
            return Err(format!("\"{part}\" runs backwards"));
        }
        selected.extend((low..=high).step_by(usize::from(step)));
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[u8]) -> BTreeSet<u8> {
        items.iter().copied().collect()
    }

    #[test]
    fn hour_fields_read_as_cron_reads_them() {
        assert_eq!(hours("8"), Ok(set(&[8])));
        assert_eq!(hours("8-16"), Ok((8..=16).collect()));
        assert_eq!(hours("8,11,15"), Ok(set(&[8, 11, 15])));
        assert_eq!(hours("*/6"), Ok(set(&[0, 6, 12, 18])));
        assert_eq!(hours("8-16/4"), Ok(set(&[8, 12, 16])));
        assert_eq!(hours("20/2"), Ok(set(&[20, 22])));
        assert_eq!(hours("*").map(|h| h.len()), Ok(24));
        for bad in ["", "24", "8-", "16-8", "*/0", "eight", "-1"] {
            let err = hours(bad).expect_err(bad);
            assert!(err.contains("expected cron hours"), "{bad}: {err}");
        }
    }

    #[test]
    fn day_fields_take_numbers_names_and_both_sundays() {
        use Weekday::*;
        let mut weekdays_only = Weekdays::default();
        for day in [Monday, Tuesday, Wednesday, Thursday, Friday] {
            weekdays_only.insert(day);
        }
        assert_eq!(weekdays("1-5"), Ok(weekdays_only));
        assert_eq!(weekdays("mon-fri"), Ok(weekdays_only));
        assert_eq!(weekdays("MON-FRI"), Ok(weekdays_only));
        assert!(weekdays_only.contains(Friday) && !weekdays_only.contains(Saturday));
        assert_eq!(weekdays("0"), weekdays("7"));
        assert_eq!(weekdays("*").map(|d| d.len()), Ok(7));
        assert_eq!(weekdays("1-6").map(describe_weekdays), Ok("mon-sat".to_string()));
        assert_eq!(weekdays("1,3,5").map(describe_weekdays), Ok("mon,wed,fri".to_string()));
        assert_eq!(weekdays("0,6").map(describe_weekdays), Ok("sat-sun".to_string()));
        assert!(weekdays("8").is_err() && weekdays("funday").is_err());
    }

    #[test]
    fn minute_steps_are_one_to_fifty_nine() {
        assert_eq!(every_minutes("15"), Ok(15));
        assert!(every_minutes("0").is_err() && every_minutes("60").is_err() && every_minutes("x").is_err());
    }
}
