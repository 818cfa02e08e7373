//! The original's `CRON_*` variables, mapped onto Sentinel's own schedule.
//!
//! The original ran its jobs from a crontab rendered from these variables (digests at
//! `CRON_MORNING_HOUR`/`_MIDDAY_`/`_AFTERNOON_` on `CRON_DOW`, the resolver every
//! `CRON_POLL_RESOLVER_EVERY_MINUTES` within `CRON_BUSINESS_HOURS`, ...). Sentinel schedules
//! itself, so each variable either moves a setting of Sentinel's (digest hours become
//! `SUMMARY_SLOTS`, `CRON_DOW` the digest days, the resolver step `RESOLVER_INTERVAL_MINUTES`)
//! or is explained as replaced. A value the original's cron could not have run is an error;
//! `check-config` prints every mapping.

use std::collections::BTreeSet;

use jiff::civil::Time;

use super::{Source, SummarySlot};
use crate::domain::cron::{self, Weekdays};

/// What the `CRON_*` variables that are set come to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CronSchedule {
    /// Digest slots from the digest hours, if any were set.
    pub slots: Option<Vec<SummarySlot>>,
    /// The days digests go out on, from `CRON_DOW` (still business days only).
    pub digest_days: Option<Weekdays>,
    /// The resolver's cadence in minutes, from `CRON_POLL_RESOLVER_EVERY_MINUTES`.
    pub resolver_minutes: Option<u8>,
    /// One line per variable for `check-config`: name, value as read, and what it became.
    pub notes: Vec<CronNote>,
}

/// How one variable was read and what it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronNote {
    /// The variable.
    pub name: String,
    /// Its value, as read (hours as `08:00`, days as `mon-fri`).
    pub shown: String,
    /// What Sentinel does with it.
    pub meaning: String,
}

/// The field a variable holds, judged by its name as the original's crontab used it.
enum Field {
    Hours,
    Days,
    Step,
    Minute,
    Zone,
    Other,
}

fn field(name: &str) -> Field {
    if name.ends_with("_DOW") {
        Field::Days
    } else if name.ends_with("_EVERY_MINUTES") {
        Field::Step
    } else if name.ends_with("_HOUR") || name.ends_with("_HOURS") {
        Field::Hours
    } else if name.ends_with("_MINUTE") {
        Field::Minute
    } else if name == "CRON_TZ" {
        Field::Zone
    } else {
        Field::Other
    }
}

/// The digest slot a variable names: `CRON_MORNING_HOUR` is the morning slot; the older
/// `CRON_SUMMARY_HOURS=8,11,15` names slots by time of day.
fn slot_name(name: &str) -> Option<Option<&'static str>> {
    let has = |word: &str| name.contains(word);
    if has("SKIMMER") || has("BUSINESS") {
        None
    } else if has("MORNING") {
        Some(Some("morning"))
    } else if has("AFTERNOON") {
        Some(Some("afternoon"))
    } else if has("MIDDAY") || has("NOON") {
        Some(Some("midday"))
    } else if has("EVENING") {
        Some(Some("evening"))
    } else if has("SUMMARY") || has("DIGEST") {
        Some(None)
    } else {
        None
    }
}

fn time_of_day(hour: u8) -> &'static str {
    match hour {
        0..=10 => "morning",
        11..=13 => "midday",
        14..=17 => "afternoon",
        _ => "evening",
    }
}

fn clock(hours: &BTreeSet<u8>) -> String {
    hours.iter().map(|h| format!("{h:02}:00")).collect::<Vec<_>>().join(",")
}

/// Reads every `CRON_*` variable that is set; bad values are returned as errors naming the
/// variable, the value and what is expected.
pub fn read(source: &Source) -> Result<CronSchedule, Vec<String>> {
    let mut schedule = CronSchedule::default();
    let mut errors = Vec::new();
    let mut slots: Vec<(String, u8)> = Vec::new();
    let slots_set = source.raw("SUMMARY_SLOTS").is_some();
    let resolver_set = source.raw("RESOLVER_INTERVAL_MINUTES").is_some();
    for (name, value) in source.cron() {
        let upper = name.to_ascii_uppercase();
        let note =
            |shown: String, meaning: &str| CronNote { name: name.to_string(), shown, meaning: meaning.to_string() };
        let bad = |why: String| format!("{name}={value:?}: {why}");
        let skimmer = upper.contains("SKIMMER");
        match field(&upper) {
            Field::Hours => match cron::hours(value) {
                Err(why) => errors.push(bad(why)),
                Ok(hours) => match slot_name(&upper) {
                    Some(named) => {
                        for hour in &hours {
                            let base = named.unwrap_or_else(|| time_of_day(*hour)).to_string();
                            slots.push((base, *hour));
                        }
                        let meaning = if slots_set {
                            "digest hours; SUMMARY_SLOTS is set and wins"
                        } else {
                            "digest hours: they are the digest slots below"
                        };
                        schedule.notes.push(note(clock(&hours), meaning));
                    }
                    None if upper.contains("BUSINESS") => schedule.notes.push(note(
                        clock(&hours),
                        "the jobs' hours; Sentinel runs its checks within business hours \
                         (BUSINESS_HOURS_START-END or BUSINESS_SCHEDULE) instead",
                    )),
                    None if skimmer => {
                        schedule.notes.push(note(clock(&hours), "not used: the original's Skimmer sync"))
                    }
                    None => {
                        schedule.notes.push(note(clock(&hours), "not used: Sentinel runs its jobs on its own schedule"))
                    }
                },
            },
            Field::Days => match cron::weekdays(value) {
                Err(why) => errors.push(bad(why)),
                Ok(days) if skimmer => {
                    schedule.notes.push(note(cron::describe_weekdays(days), "not used: the original's Skimmer sync"))
                }
                Ok(days) => {
                    schedule.notes.push(note(
                        cron::describe_weekdays(days),
                        "digest days: digests go out on business days among these",
                    ));
                    schedule.digest_days = Some(days);
                }
            },
            Field::Step => match cron::every_minutes(value) {
                Err(why) => errors.push(bad(why)),
                Ok(minutes) => {
                    let shown = format!("every {minutes} min");
                    let meaning = if upper.contains("POLL") || upper.contains("RESOLVER") {
                        if resolver_set {
                            "resolver cadence; RESOLVER_INTERVAL_MINUTES is set and wins"
                        } else {
                            schedule.resolver_minutes = Some(minutes);
                            "resolver cadence: OPEN issues are re-checked this often in business hours (RESOLVER_INTERVAL_MINUTES)"
                        }
                    } else if upper.contains("VERIFY") || upper.contains("PENDING") {
                        "pending checks; Sentinel's SLA clock wakes at each due time instead"
                    } else if upper.contains("ESCALAT") || upper.contains("BREACH") {
                        "breach alerts; Sentinel alerts within a minute of each breach instead"
                    } else {
                        "not used: Sentinel runs its jobs on its own schedule"
                    };
                    schedule.notes.push(note(shown, meaning));
                }
            },
            Field::Minute => match value.trim().parse::<u8>() {
                Ok(minute) if minute < 60 => schedule.notes.push(note(
                    format!(":{minute:02}"),
                    if skimmer { "not used: the original's Skimmer sync" } else { "not used" },
                )),
                _ => errors.push(bad("expected a minute 0-59".to_string())),
            },
            Field::Zone => schedule.notes.push(note(value.to_string(), "the crontab's zone; Sentinel uses TIMEZONE")),
            Field::Other => {
                schedule.notes.push(note(value.to_string(), "not used: Sentinel runs its jobs on its own schedule"))
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // The original's crontab gave each named digest a default hour (8, 11, 15): setting one of
    // them moves that digest only.
    let named = ["morning", "midday", "afternoon"];
    if slots.iter().any(|(name, _)| named.contains(&name.as_str())) {
        for (name, hour) in named.iter().zip([8u8, 11, 15]) {
            if !slots.iter().any(|(taken, _)| taken == name) {
                slots.push((name.to_string(), hour));
            }
        }
    }
    if !slots.is_empty() && !slots_set {
        schedule.slots = Some(slots_from(slots));
    }
    Ok(schedule)
}

/// Named slots, one per hour, in time order; a name used twice gets a number (`morning2`).
fn slots_from(mut wanted: Vec<(String, u8)>) -> Vec<SummarySlot> {
    wanted.sort_by_key(|(_, hour)| *hour);
    wanted.dedup_by_key(|(_, hour)| *hour);
    let mut slots: Vec<SummarySlot> = Vec::new();
    for (base, hour) in wanted {
        let taken = slots
            .iter()
            .filter(|s| s.name == base || s.name.strip_prefix(base.as_str()).is_some_and(|n| n.parse::<u8>().is_ok()))
            .count();
        let name = if taken == 0 { base } else { format!("{base}{}", taken + 1) };
        slots.push(SummarySlot { name, at: Time::new(hour as i8, 0, 0, 0).unwrap_or(Time::midnight()) });
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_pairs(pairs: &[(&str, &str)]) -> Result<CronSchedule, Vec<String>> {
        read(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn the_originals_block_maps_onto_sentinels_schedule() -> Result<(), Vec<String>> {
        let schedule = read_pairs(&[
            ("CRON_DOW", "1-5"),
            ("CRON_MORNING_HOUR", "9"),
            ("CRON_MIDDAY_HOUR", "11"),
            ("CRON_AFTERNOON_HOUR", "15"),
            ("CRON_BUSINESS_HOURS", "8-16"),
            ("CRON_BUSINESS_END_HOUR", "17"),
            ("CRON_ESCALATIONS_EVERY_MINUTES", "1"),
            ("CRON_POLL_RESOLVER_EVERY_MINUTES", "10"),
            ("CRON_VERIFY_PENDING_EVERY_MINUTES", "5"),
        ])?;
        let slots: Vec<(String, String)> = schedule
            .slots
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.name, s.at.strftime("%H:%M").to_string()))
            .collect();
        let expected = [("morning", "09:00"), ("midday", "11:00"), ("afternoon", "15:00")];
        assert_eq!(slots, expected.map(|(n, t)| (n.to_string(), t.to_string())));
        assert_eq!(schedule.digest_days.map(cron::describe_weekdays), Some("mon-fri".to_string()));
        assert_eq!(schedule.resolver_minutes, Some(10));
        let shown: Vec<&str> = schedule.notes.iter().map(|n| n.shown.as_str()).collect();
        assert!(
            shown.contains(&"every 10 min") && shown.contains(&"08:00,09:00,10:00,11:00,12:00,13:00,14:00,15:00,16:00")
        );
        Ok(())
    }

    #[test]
    fn explicit_settings_win_and_bad_values_are_named() {
        let schedule = read_pairs(&[
            ("CRON_MORNING_HOUR", "9"),
            ("SUMMARY_SLOTS", "am=07:30"),
            ("CRON_POLL_RESOLVER_EVERY_MINUTES", "10"),
            ("RESOLVER_INTERVAL_MINUTES", "20"),
        ])
        .unwrap_or_default();
        assert_eq!((schedule.slots, schedule.resolver_minutes), (None, None));
        let errors =
            read_pairs(&[("CRON_DOW", "1-9"), ("CRON_MORNING_HOUR", "25"), ("CRON_POLL_RESOLVER_EVERY_MINUTES", "0")])
                .expect_err("three bad values");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors.iter().any(|e| e.starts_with("CRON_DOW=\"1-9\"") && e.contains("days of the week")),
            "{errors:?}"
        );
    }

    #[test]
    fn summary_hours_name_their_slots_by_time_of_day() -> Result<(), Vec<String>> {
        let slots = read_pairs(&[("CRON_SUMMARY_HOURS", "8,9,12,16")])?.slots.unwrap_or_default();
        let names: Vec<&str> = slots.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["morning", "morning2", "midday", "afternoon"]);
        Ok(())
    }
}
