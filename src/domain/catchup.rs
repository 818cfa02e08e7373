//! Catch-up's decisions, pure (SPEC §12): which conversations of a search to read, when to
//! page on, from when a pass looks, and when the next pass is due.
//!
//! GHL's published search item has no date. Where the live answer carries `lastMessageDate`,
//! a conversation changed when that is newer than the newest message Sentinel knows of it;
//! where it does not, when its last message's kind and text differ from the last customer
//! message Sentinel knows, or its unread count grew.

use jiff::{SignedDuration, Timestamp};

use super::calendar::Calendar;
use super::event::is_call_type;

/// What Sentinel last knew of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The newest message's time.
    pub last_at: Timestamp,
    /// Its [`fingerprint`] when it was a customer's message.
    pub fingerprint: Option<String>,
    /// The unread count the last search showed.
    pub unread: Option<i64>,
}

/// A conversation as the search lists it, in our terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listed {
    /// Conversation id.
    pub id: String,
    /// `lastMessageDate`, where GHL sends it (live, not published).
    pub last_at: Option<Timestamp>,
    /// [`fingerprint`] of `lastMessageType` and `lastMessageBody` (published).
    pub fingerprint: String,
    /// `unreadCount` (published).
    pub unread: Option<i64>,
}

/// How far back a pass reads before its watermark: a message GHL logs late under an earlier
/// time (a call's record) is still found. What it finds twice is a duplicate by its id.
pub const OVERLAP: SignedDuration = SignedDuration::from_mins(5);

/// A message's kind and text in one comparable word: `sms|text`, `call|`. The search's
/// `TYPE_SMS` and a webhook's `SMS` read the same.
pub fn fingerprint(message_type: &str, text: Option<&str>) -> String {
    let upper = message_type.trim().to_ascii_uppercase();
    let kind = match upper.as_str() {
        "SMS" | "TYPE_SMS" => "sms".to_string(),
        "VOICEMAIL" | "TYPE_VOICEMAIL" => "call".to_string(),
        call if is_call_type(call) => "call".to_string(),
        other => other.to_ascii_lowercase(),
    };
    let text = if kind == "call" { "" } else { text.unwrap_or_default().trim() };
    format!("{kind}|{text}")
}

/// Whether a listed conversation holds a message Sentinel may not know, given what it knew
/// (`seen`) and the instant the pass looks from (`since`).
pub fn changed(listed: &Listed, seen: Option<&Seen>, since: Timestamp) -> bool {
    match (listed.last_at, seen) {
        (Some(at), _) if at < since => false,
        (Some(at), Some(seen)) => at > seen.last_at,
        (Some(_), None) => true,
        (None, None) => true,
        (None, Some(seen)) => {
            let unread_grew = matches!((listed.unread, seen.unread), (Some(now), Some(then)) if now > then);
            seen.fingerprint.as_deref() != Some(listed.fingerprint.as_str()) || unread_grew
        }
    }
}

/// Whether the search must be paged on: the page was full and its oldest conversation is
/// still newer than `since`. Without dates (GHL's published fields) one page is all a pass
/// reads: nothing tells how far back the next one reaches.
pub fn page_on(page: &[Listed], limit: usize, since: Timestamp) -> bool {
    page.len() >= limit && page.last().and_then(|listed| listed.last_at).is_some_and(|at| at >= since)
}

/// The instant a pass at `now` looks from: its watermark less [`OVERLAP`], never further back
/// than `lookback`. A box that never ran a pass and stored nothing looks from now: what came
/// before it was installed is not its to answer.
pub fn since(watermark: Option<Timestamp>, now: Timestamp, lookback: SignedDuration) -> Timestamp {
    let earliest = now - lookback;
    match watermark {
        Some(mark) => (mark - OVERLAP).max(earliest).min(now),
        None => now,
    }
}

/// When the cadence's next pass is due after one at `now`: `interval` on while the business is
/// open, else when it next opens (the first pass of a day finds the night's messages).
pub fn next_pass(calendar: &Calendar, now: Timestamp, interval: SignedDuration) -> Option<Timestamp> {
    let next = now + interval;
    if calendar.is_open(next) {
        return Some(next);
    }
    calendar.next_open(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    fn listed(last_at: Option<&str>, fingerprint: &str, unread: Option<i64>) -> Listed {
        Listed { id: "c1".into(), last_at: last_at.map(at), fingerprint: fingerprint.into(), unread }
    }

    #[test]
    fn a_search_and_a_webhook_name_the_same_message_alike() {
        assert_eq!(
            fingerprint("TYPE_SMS", Some(" Is the tech coming? ")),
            fingerprint("SMS", Some("Is the tech coming?"))
        );
        assert_eq!(fingerprint("TYPE_CALL", Some("")), fingerprint("CALL", None));
        assert_eq!(fingerprint("TYPE_VOICEMAIL", None), "call|");
        assert_ne!(fingerprint("TYPE_SMS", Some("yes")), fingerprint("TYPE_SMS", Some("no")));
        assert_eq!(fingerprint("TYPE_EMAIL", Some("hi")), "type_email|hi");
    }

    #[test]
    fn with_dates_only_what_is_newer_than_known_is_read() {
        let since = at("2026-03-02T15:00:00Z");
        let seen = Seen { last_at: at("2026-03-02T15:10:00Z"), fingerprint: None, unread: None };
        assert!(!changed(&listed(Some("2026-03-02T15:10:00Z"), "sms|a", None), Some(&seen), since));
        assert!(changed(&listed(Some("2026-03-02T15:11:00Z"), "sms|a", None), Some(&seen), since));
        assert!(changed(&listed(Some("2026-03-02T15:11:00Z"), "sms|a", None), None, since));
        assert!(!changed(&listed(Some("2026-03-02T14:59:00Z"), "sms|a", None), None, since), "before the pass looks");
    }

    #[test]
    fn without_dates_a_new_text_or_a_growing_unread_count_is_read() {
        let since = at("2026-03-02T15:00:00Z");
        let seen = Seen { last_at: since, fingerprint: Some("call|".into()), unread: Some(1) };
        assert!(!changed(&listed(None, "call|", Some(1)), Some(&seen), since));
        assert!(changed(&listed(None, "call|", Some(2)), Some(&seen), since), "a second missed call");
        assert!(!changed(&listed(None, "call|", Some(0)), Some(&seen), since), "read by staff");
        assert!(changed(&listed(None, "sms|hello", Some(1)), Some(&seen), since));
        assert!(changed(&listed(None, "sms|hello", None), None, since), "never seen");
        let after_outbound = Seen { fingerprint: None, ..seen };
        assert!(changed(&listed(None, "call|", Some(1)), Some(&after_outbound), since));
    }

    #[test]
    fn pages_go_on_only_while_dates_reach_the_watermark() {
        let since = at("2026-03-02T15:00:00Z");
        let page = vec![listed(Some("2026-03-02T15:20:00Z"), "", None), listed(Some("2026-03-02T15:01:00Z"), "", None)];
        assert!(page_on(&page, 2, since));
        assert!(!page_on(&page, 3, since), "a short page is the last");
        let older = vec![listed(Some("2026-03-02T14:00:00Z"), "", None); 2];
        assert!(!page_on(&older, 2, since));
        assert!(!page_on(&[listed(None, "", None), listed(None, "", None)], 2, since), "no dates, no paging");
    }

    #[test]
    fn a_pass_looks_back_to_its_watermark_within_the_look_back() {
        let now = at("2026-03-03T15:00:00Z");
        let day = SignedDuration::from_hours(24);
        assert_eq!(since(Some(at("2026-03-03T14:40:00Z")), now, day), at("2026-03-03T14:35:00Z"));
        assert_eq!(since(Some(at("2026-02-01T00:00:00Z")), now, day), at("2026-03-02T15:00:00Z"), "capped");
        assert_eq!(since(None, now, day), now, "a new box looks from now");
    }

    #[test]
    fn the_cadence_runs_in_business_hours_and_resumes_at_the_opening() {
        use crate::domain::calendar::{Holidays, WeeklySchedule};
        let zone = jiff::tz::TimeZone::get("America/Chicago").expect("zone");
        let weekly = WeeklySchedule::weekdays("08:00", "17:00").expect("hours");
        let calendar = Calendar::new(zone, weekly, Holidays::default());
        let ten = SignedDuration::from_mins(10);
        // Monday 09:00 CST → 09:10; Monday 16:55 → Tuesday 08:00 (14:00Z).
        assert_eq!(next_pass(&calendar, at("2026-03-02T15:00:00Z"), ten), Some(at("2026-03-02T15:10:00Z")));
        assert_eq!(next_pass(&calendar, at("2026-03-02T22:55:00Z"), ten), Some(at("2026-03-03T14:00:00Z")));
    }
}
