//! Value parsers: one string in, one typed value or what was expected out.
//!
//! Each entry of the table in `vars` names one of these (or a short closure around one). A
//! parser sees the effective value, trimmed, and never the variable's name: `read` puts the
//! name and the value in front of the error (`SMS_SLA_HOURS="two": expected hours, …`), and
//! leaves the value out for a secret.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use jiff::SignedDuration;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use super::{ClockSync, OFFBOX_KEY_MIN_CHARS, Secret, SummarySlot};
use crate::domain::ai::Redaction;
use crate::domain::event::VoicemailCallback;

/// What a parser returns: the value, or why not (`expected …`).
pub(super) type Parsed<T> = Result<T, String>;

/// `ACK_CLOSE_WINDOW_MODE`: which window applies; `read` adds the hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AckMode {
    /// Until the close of the business day of the staff reply.
    EndOfBusinessDay,
    /// For `ACK_CLOSE_WINDOW_HOURS` after it.
    Hours,
}

fn expected<T>(parsed: Option<T>, what: &str) -> Parsed<T> {
    parsed.ok_or_else(|| format!("expected {what}"))
}

/// Any text, as it is.
pub(super) fn text(value: &str) -> Parsed<String> {
    Ok(value.to_string())
}

/// A file or directory path.
pub(super) fn path(value: &str) -> Parsed<PathBuf> {
    Ok(PathBuf::from(value))
}

/// A secret, kept out of `Debug` output from here on.
pub(super) fn secret(value: &str) -> Parsed<Secret> {
    if is_placeholder(value) {
        return Err(PLACEHOLDER.to_string());
    }
    Ok(Secret::new(value))
}

/// `WEBHOOK_SECRET`: a secret, and a placeholder's error says how to have one made.
pub(super) fn webhook_secret(value: &str) -> Parsed<Secret> {
    secret(value).map_err(|why| format!("{why}; or delete the line, and a secret is generated at the first start"))
}

/// What a placeholder secret is told.
const PLACEHOLDER: &str = "expected a real value, not an example file's placeholder (change-me, your-secret-here, \
                           secret, xxx, <...>): set the real one";

/// Placeholders that example files and guides put where a secret goes, as [`is_placeholder`]
/// compares them: lower case, letters and digits only.
#[rustfmt::skip]
const PLACEHOLDERS: &[&str] = &[
    "changeme", "changethis", "changeit", "change", "replaceme", "replacethis", "replace", "secret",
    "secrets", "mysecret", "yoursecret", "yoursecrethere", "yoursecretgoeshere", "secrethere", "supersecret",
    "token", "yourtoken", "yourtokenhere", "tokenhere", "yourghltoken", "ghltoken", "apikey", "yourapikey",
    "yourapikeyhere", "yourkey", "yourkeyhere", "key", "password", "yourpassword", "passw0rd", "placeholder",
    "example", "sample", "todo", "tbd", "fixme", "none", "null", "nil", "undefined", "empty", "na", "unset",
    "insertsecret", "insertsecrethere", "inserttokenhere", "insertkeyhere", "enteryoursecret", "setme",
    "fillmein", "default", "dummy",
];

/// Whether `value` is a placeholder left from an example file rather than a secret: one of
/// [`PLACEHOLDERS`] (also after a key's usual prefix, `sk-`, `pit-`), nothing but punctuation,
/// one character repeated (`xxxx`, `****`), or a `<...>`, `{{...}}` or `${...}` slot.
pub(super) fn is_placeholder(value: &str) -> bool {
    let value = value.trim();
    let slot = |open: &str, close: &str| value.starts_with(open) && value.ends_with(close);
    if slot("<", ">") || slot("{{", "}}") || slot("${", "}") {
        return true;
    }
    let word: String = value.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    let bare = ["sk", "pit"].iter().find_map(|prefix| word.strip_prefix(prefix)).unwrap_or(&word);
    let repeated = |text: &str| text.chars().all(|c| text.starts_with(c));
    word.is_empty()
        || repeated(&word)
        || repeated(bare)
        || PLACEHOLDERS.contains(&word.as_str())
        || PLACEHOLDERS.contains(&bare)
}

/// `NOTIFY_WEBHOOK_SECRET`: a Standard Webhooks signing secret, `whsec_<base64>`.
pub(super) fn signing_secret(value: &str) -> Parsed<Secret> {
    crate::domain::notify::parse_secret(value)?;
    Ok(Secret::new(value.trim()))
}

/// `OFFBOX_ENCRYPTION_KEY`: a secret long enough to be a passphrase.
pub(super) fn passphrase(value: &str) -> Parsed<Secret> {
    if value.chars().count() < OFFBOX_KEY_MIN_CHARS {
        return Err(format!(
            "expected at least {OFFBOX_KEY_MIN_CHARS} characters, e.g. the output of `openssl rand -base64 32`"
        ));
    }
    Ok(Secret::new(value))
}

/// A comma-separated list; blanks are dropped.
pub(super) fn list(value: &str) -> Parsed<Vec<String>> {
    Ok(split_list(value))
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
}

/// `127.0.0.1:8000`.
pub(super) fn addr(value: &str) -> Parsed<SocketAddr> {
    expected(value.parse().ok(), "an address and port, e.g. 127.0.0.1:8000")
}

/// `1` or `0`, and the usual words for them.
pub(super) fn flag(value: &str) -> Parsed<bool> {
    let parsed = match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    };
    expected(parsed, "1 or 0 (also true/false, yes/no, on/off)")
}

/// `CALL_VOICEMAIL_COUNTS_AS_CALLBACK`: a flag.
pub(super) fn voicemail(value: &str) -> Parsed<VoicemailCallback> {
    Ok(if flag(value)? { VoicemailCallback::Counts } else { VoicemailCallback::DoesNotCount })
}

/// `AI_GATE_REDACT_PII`: a flag.
pub(super) fn redaction(value: &str) -> Parsed<Redaction> {
    Ok(if flag(value)? { Redaction::Mask } else { Redaction::Keep })
}

/// Hours, fractions allowed, from 0 to 10,000.
pub(super) fn hours(value: &str) -> Parsed<SignedDuration> {
    let parsed = value
        .parse::<f64>()
        .ok()
        .filter(|hours| hours.is_finite() && (0.0..=10_000.0).contains(hours))
        .map(|hours| SignedDuration::from_secs_f64(hours * 3600.0));
    expected(parsed, "hours, e.g. 2 or 0.25")
}

/// Hours, fractions allowed, more than 0 and at most 10,000.
pub(super) fn positive_hours(value: &str) -> Parsed<SignedDuration> {
    let parsed = value
        .parse::<f64>()
        .ok()
        .filter(|hours| hours.is_finite() && *hours > 0.0 && *hours <= 10_000.0)
        .map(|hours| SignedDuration::from_secs_f64(hours * 3600.0));
    expected(parsed, "hours, more than 0, e.g. 4 or 0.5")
}

/// Whole minutes, 0 allowed.
pub(super) fn minutes(value: &str) -> Parsed<SignedDuration> {
    let parsed = value.parse::<u32>().ok().map(|minutes| SignedDuration::from_mins(i64::from(minutes)));
    expected(parsed, "whole minutes, e.g. 15")
}

/// Whole minutes, at least 1.
pub(super) fn interval_minutes(value: &str) -> Parsed<SignedDuration> {
    let minutes: u32 = count(value, "whole minutes, at least 1")?;
    Ok(SignedDuration::from_mins(i64::from(minutes)))
}

/// Whole seconds, at least 1.
pub(super) fn whole_seconds(value: &str) -> Parsed<Duration> {
    count(value, "whole seconds, at least 1").map(Duration::from_secs)
}

/// Whole megabytes, at least 1, as bytes.
pub(super) fn megabytes(value: &str) -> Parsed<u64> {
    count::<u64>(value, "a whole number of megabytes, at least 1").map(|mb| mb << 20)
}

/// Real-time seconds, fractions allowed, more than 0 and at most an hour.
pub(super) fn seconds(value: &str, example: &str) -> Parsed<Duration> {
    let parsed = value
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds <= 3600.0)
        .map(Duration::from_secs_f64);
    expected(parsed, &format!("seconds, more than 0 and at most 3600, e.g. {example}"))
}

/// A whole number, at least 1; `what` says of what.
pub(super) fn count<T: FromStr + PartialOrd + From<u8>>(value: &str, what: &str) -> Parsed<T> {
    expected(value.parse::<T>().ok().filter(|n| *n >= T::from(1)), what)
}

/// A number within `range`; `what` says of what.
pub(super) fn within<T: FromStr + PartialOrd>(value: &str, range: RangeInclusive<T>, what: &str) -> Parsed<T> {
    expected(value.parse::<T>().ok().filter(|n| range.contains(n)), what)
}

/// An `http://` or `https://` URL, without a trailing slash.
pub(super) fn url(value: &str) -> Parsed<String> {
    let parsed = (value.starts_with("http://") || value.starts_with("https://"))
        .then(|| value.trim_end_matches('/').to_string());
    expected(parsed, "an http:// or https:// URL")
}

/// An IANA zone name.
pub(super) fn zone(value: &str) -> Parsed<TimeZone> {
    expected(TimeZone::get(value).ok(), "an IANA zone name, e.g. America/Chicago")
}

/// `BUSINESS_HOURS_START`: a time of day, kept as text for the weekly schedule.
pub(super) fn opening(value: &str) -> Parsed<String> {
    expected(parse_clock(value).map(|_| value.to_string()), "a time HH:MM, e.g. 08:00")
}

/// `BUSINESS_HOURS_END`: a time of day or `24:00`, kept as text for the weekly schedule.
pub(super) fn closing(value: &str) -> Parsed<String> {
    let parsed = (value == "24:00").then_some(Time::MAX).or_else(|| parse_clock(value));
    expected(parsed.map(|_| value.to_string()), "a time HH:MM after the start, e.g. 17:00")
}

/// `CLOCK_SYNC`.
pub(super) fn clock_sync(value: &str) -> Parsed<ClockSync> {
    let parsed = match value.to_ascii_lowercase().as_str() {
        "auto" => Some(ClockSync::Auto),
        "required" | "1" | "yes" => Some(ClockSync::Required),
        "off" | "0" | "no" => Some(ClockSync::Off),
        _ => None,
    };
    expected(parsed, "auto, required or off")
}

/// `ACK_CLOSE_WINDOW_MODE`.
pub(super) fn ack_mode(value: &str) -> Parsed<AckMode> {
    let parsed = match value.to_ascii_lowercase().as_str() {
        "eod" => Some(AckMode::EndOfBusinessDay),
        "hours" => Some(AckMode::Hours),
        _ => None,
    };
    expected(parsed, "eod or hours")
}

/// `DECISION_MODE`: the original's two modes, in lower case.
pub(super) fn decision_mode(value: &str) -> Parsed<String> {
    let mode = value.to_ascii_lowercase();
    let known = matches!(mode.as_str(), "deterministic" | "ai_primary");
    expected(known.then_some(mode), "deterministic or ai_primary")
}

/// `morning=08:00,midday=11:00,afternoon=15:00`, in time order.
pub(super) fn slots(value: &str) -> Parsed<Vec<SummarySlot>> {
    const EXPECTED: &str = "expected name=HH:MM pairs, e.g. morning=08:00,midday=11:00,afternoon=15:00";
    let mut slots = Vec::new();
    for item in split_list(value) {
        let (name, at) = item.split_once('=').ok_or_else(|| EXPECTED.to_string())?;
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(EXPECTED.to_string());
        }
        let at = parse_clock(at.trim()).ok_or_else(|| EXPECTED.to_string())?;
        if slots.iter().any(|slot: &SummarySlot| slot.name == name) {
            return Err(format!("slot {name} appears twice; {EXPECTED}"));
        }
        slots.push(SummarySlot { name, at });
    }
    if slots.is_empty() {
        return Err(EXPECTED.to_string());
    }
    slots.sort_by_key(|slot| slot.at);
    Ok(slots)
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_clock(value: &str) -> Option<Time> {
    let (hour, minute) = value.split_once(':')?;
    if hour.is_empty() || hour.len() > 2 || minute.len() != 2 {
        return None;
    }
    Time::new(hour.parse().ok()?, minute.parse().ok()?, 0, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_and_the_end_of_the_day() {
        assert_eq!(parse_clock("8:05"), Time::new(8, 5, 0, 0).ok());
        for bad in ["8", "08:5", "24:00", "123:00", ":30"] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
        assert_eq!(closing("24:00"), Ok("24:00".to_string()));
        assert!(opening("24:00").is_err());
    }

    #[test]
    fn counts_and_ranges_say_what_they_expected() {
        assert_eq!(count::<u32>("3", "days"), Ok(3));
        assert_eq!(count::<u32>("0", "a whole number of days"), Err("expected a whole number of days".to_string()));
        assert_eq!(within::<u32>("100", 1..=100, "x"), Ok(100));
        assert!(within::<u32>("101", 1..=100, "x").is_err());
        assert_eq!(seconds("0.5", "4"), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("0", "4"), Err("expected seconds, more than 0 and at most 3600, e.g. 4".to_string()));
    }

    #[test]
    fn urls_lose_their_trailing_slash() {
        assert_eq!(url("https://api.openai.com/v1/"), Ok("https://api.openai.com/v1".to_string()));
        assert!(url("api.openai.com").is_err());
    }

    #[test]
    fn a_short_passphrase_is_refused_without_showing_it() {
        let why = passphrase("hunter2").err().unwrap_or_default();
        assert!(why.contains("at least 16") && !why.contains("hunter2"), "{why}");
    }
}
