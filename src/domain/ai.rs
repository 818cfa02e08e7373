//! The optional AI check's pure half (SPEC §10): which messages of a thread are sent, how they
//! read, what is masked before they leave the appliance, and what a model's answer means.
//!
//! The resolver fetches the conversation from GHL and turns its messages into
//! [`ThreadMessage`]s; [`window`] picks the recent thread, [`transcript`] writes it as
//! `[CUSTOMER] …` / `[INTERNAL] …` lines with phones, e-mails and URLs masked by [`mask_pii`],
//! and [`parse_verdict`] reads the model's JSON. Sending is the job of `clients::ai`, caching the
//! store's; nothing here does I/O or reads the clock.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// Who wrote a message of the thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// The customer (an inbound message).
    Customer,
    /// The business: staff or an automation (an outbound message).
    Internal,
}

/// One message of a conversation, as the AI check sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadMessage {
    /// GHL's message id.
    pub id: String,
    /// When GHL recorded it.
    pub at: Timestamp,
    /// Who wrote it.
    pub author: Author,
    /// Its text; empty for calls and other messages without one.
    pub text: String,
}

/// Whether phones, e-mails and URLs are masked before sending (`AI_GATE_REDACT_PII`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redaction {
    /// Replace them with `[PHONE]`, `[EMAIL]` and `[URL]`.
    Mask,
    /// Send the text as it is.
    Keep,
}

/// The state of a thread a verdict belongs to: its newest message. A new message is a new
/// state, so a cached verdict never outlives the thread it was given for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThreadState {
    /// GHL conversation id.
    pub conversation_id: String,
    /// The newest message's id.
    pub newest_message_id: String,
    /// The newest message's time.
    pub newest_at: Timestamp,
}

/// What a model said about a thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `YES`: the customer is still waiting on the business.
    pub needs_follow_up: bool,
    /// How sure the model is, 0 to 1.
    pub confidence: f64,
    /// Up to three short quotes or reasons.
    pub evidence: Vec<String>,
}

/// Longest text of one message in the transcript, in characters (as the original).
pub const MAX_TEXT_CHARS: usize = 500;

/// Longest evidence line kept from an answer, in characters.
const MAX_EVIDENCE_CHARS: usize = 200;

/// Evidence lines kept from an answer.
const MAX_EVIDENCE: usize = 3;

/// The recent thread, oldest first: walking back from the newest message, at most `max`
/// messages, stopping at the first silence of `gap` or longer between two of them, so that an
/// old, finished exchange is not mixed into today's.
pub fn window(messages: &[ThreadMessage], max: usize, gap: SignedDuration) -> Vec<&ThreadMessage> {
    let mut sorted: Vec<&ThreadMessage> = messages.iter().collect();
    sorted.sort_by_key(|message| message.at);
    let mut picked: Vec<&ThreadMessage> = Vec::new();
    for message in sorted.into_iter().rev() {
        if picked.len() >= max {
            break;
        }
        if let Some(newer) = picked.last()
            && newer.at.duration_since(message.at) >= gap
        {
            break;
        }
        picked.push(message);
    }
    picked.reverse();
    picked
}

/// The state of the thread a window shows: its newest message. `None` for an empty window.
pub fn thread_state(conversation_id: &str, window: &[&ThreadMessage]) -> Option<ThreadState> {
    window.last().map(|newest| ThreadState {
        conversation_id: conversation_id.to_string(),
        newest_message_id: newest.id.clone(),
        newest_at: newest.at,
    })
}

/// Whether the window shows `text` as a customer's message (spacing aside; `text` may be the
/// first part of it). The text that opened an issue must be in the thread the model reads: a
/// thread GHL shows without it is an older state, and a verdict about that state says nothing
/// about the new text.
pub fn shows_customer_text(window: &[&ThreadMessage], text: &str) -> bool {
    let wanted = text.split_whitespace().collect::<Vec<_>>().join(" ");
    window.iter().filter(|message| message.author == Author::Customer).any(|message| {
        let shown = message.text.split_whitespace().collect::<Vec<_>>().join(" ");
        !wanted.is_empty() && shown.starts_with(&wanted)
    })
}

/// The window as the model reads it: one line per message with text, oldest first,
/// `[CUSTOMER] text` or `[INTERNAL] text`, each text on one line, masked when asked and cut to
/// [`MAX_TEXT_CHARS`]. Empty when no message has text.
pub fn transcript(window: &[&ThreadMessage], redaction: Redaction) -> String {
    let mut lines = Vec::with_capacity(window.len());
    for message in window {
        let text = message.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            continue;
        }
        let text = match redaction {
            Redaction::Mask => mask_pii(&text),
            Redaction::Keep => text,
        };
        let text = if text.chars().count() > MAX_TEXT_CHARS {
            let cut: String = text.chars().take(MAX_TEXT_CHARS).collect();
            format!("{cut}…")
        } else {
            text
        };
        let role = match message.author {
            Author::Customer => "CUSTOMER",
            Author::Internal => "INTERNAL",
        };
        lines.push(format!("[{role}] {text}"));
    }
    lines.join("\n")
}

/// Replaces URLs, e-mail addresses and phone numbers with `[URL]`, `[EMAIL]` and `[PHONE]`.
///
/// URLs are `http://…`, `https://…`, `www.…` and bare host names with a path or a common
/// top-level domain (`bit.ly/x`, `poolpros.com`). A phone is any run of digits, spaces,
/// dashes, dots and brackets (an optional leading `+`) holding seven digits or more, so
/// account and card numbers are masked too; ISO dates (`2026-03-02`) are kept. When unsure,
/// this masks: a masked number costs the model little, a leaked one cannot be taken back.
pub fn mask_pii(text: &str) -> String {
    mask_phones(&mask_emails(&mask_urls(text)))
}

/// Characters that close a sentence rather than a URL or an address.
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '\'', '"', '>'];

/// Top-level domains that make a bare `name.tld` a URL even without a path.
const COMMON_TLDS: &[&str] = &[
    "com", "net", "org", "io", "ly", "co", "us", "info", "biz", "me", "app", "dev", "gov", "edu", "link", "site", "pro",
];

fn mask_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, piece) in split_keeping_spaces(text).into_iter().enumerate() {
        // split_keeping_spaces alternates words and spaces; spaces pass through.
        if index % 2 == 1 {
            out.push_str(piece);
            continue;
        }
        let lower = piece.to_ascii_lowercase();
        let start = ["http://", "https://", "www."]
            .iter()
            .filter_map(|scheme| lower.find(scheme))
            .filter(|at| lower[..*at].chars().last().is_none_or(|c| !c.is_ascii_alphanumeric()))
            .min();
        let (head, rest) = match start {
            Some(at) => (&piece[..at], &piece[at..]),
            None => {
                let body = piece.trim_start_matches(['(', '[', '{', '<', '"', '\'']);
                (&piece[..piece.len() - body.len()], body)
            }
        };
        let url = rest.trim_end_matches(TRAILING);
        let tail = &rest[url.len()..];
        if !url.is_empty() && (start.is_some() || is_bare_url(url)) {
            out.push_str(head);
            out.push_str("[URL]");
            out.push_str(tail);
        } else {
            out.push_str(piece);
        }
    }
    out
}

/// `bit.ly/abc`, `poolpros.com`: host labels of letters, digits and dashes, a top-level domain
/// of letters, and either a path or a common top-level domain.
fn is_bare_url(word: &str) -> bool {
    if word.contains('@') {
        return false;
    }
    let (host, path) = match word.find('/') {
        Some(at) => (&word[..at], Some(&word[at..])),
        None => (word, None),
    };
    let host = host.split(':').next().unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    let Some(tld) = labels.last() else { return false };
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let tld_ok = (2..=24).contains(&tld.len()) && tld.chars().all(|c| c.is_ascii_alphabetic());
    labels_ok && tld_ok && (path.is_some() || COMMON_TLDS.contains(&tld.to_ascii_lowercase().as_str()))
}

/// Splits into alternating words and runs of whitespace, word first (possibly empty).
fn split_keeping_spaces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (at, c) in text.char_indices() {
        if c.is_whitespace() != in_space {
            pieces.push(&text[start..at]);
            start = at;
            in_space = !in_space;
        }
    }
    pieces.push(&text[start..]);
    pieces
}

fn mask_emails(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let local = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for at in 0..chars.len() {
        if chars[at] != '@' || at < copied {
            continue;
        }
        let mut start = at;
        while start > copied && local(chars[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < chars.len() && domain(chars[end]) {
            end += 1;
        }
        while end > at + 1 && ".-".contains(chars[end - 1]) {
            end -= 1;
        }
        let host: String = chars[at + 1..end].iter().collect();
        let tld = host.rsplit('.').next().unwrap_or_default();
        let is_email = start < at
            && host.contains('.')
            && tld.chars().count() >= 2
            && tld.chars().all(char::is_alphabetic)
            && !host.starts_with('.');
        if is_email {
            out.extend(&chars[copied..start]);
            out.push_str("[EMAIL]");
            copied = end;
        }
    }
    out.extend(&chars[copied..]);
    out
}

/// Digits a run needs to be masked as a phone: a US number without its area code has seven.
const PHONE_MIN_DIGITS: usize = 7;

fn mask_phones(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        let starts =
            c.is_ascii_digit() || ((c == '+' || c == '(') && chars.get(at + 1).is_some_and(char::is_ascii_digit));
        if !starts {
            out.push(c);
            at += 1;
            continue;
        }
        let mut end = at + 1;
        while end < chars.len() && (chars[end].is_ascii_digit() || " -().".contains(chars[end])) {
            end += 1;
        }
        // A run ends on a digit; a closing bracket after one is part of it only when opened.
        while end > at && !chars[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let run: String = chars[at..end].iter().collect();
        let digits = run.chars().filter(char::is_ascii_digit).count();
        if digits >= PHONE_MIN_DIGITS && !is_iso_date(&run) {
            out.push_str("[PHONE]");
            at = end;
        } else {
            out.push_str(&run);
            at = end.max(at + 1);
        }
    }
    out
}

/// `2026-03-02`: a date, not a phone.
fn is_iso_date(run: &str) -> bool {
    let parts: Vec<&str> = run.trim_start_matches('(').split('-').collect();
    parts.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&parts)
            .all(|(len, part)| part.len() == *len && part.chars().all(|c| c.is_ascii_digit()))
}

/// Reads a model's answer: a JSON object `{"needs_follow_up":"YES"|"NO","confidence":0..1,
/// "evidence":[…]}`, perhaps inside a Markdown code fence. Anything else is an error, which
/// the caller counts as "still waiting" (SPEC §10: every failure fails open).
pub fn parse_verdict(text: &str) -> Result<Verdict, String> {
    let text = strip_fence(text.trim());
    let value: Value =
        serde_json::from_str(text).map_err(|_| format!("the answer is not JSON ({} chars)", text.len()))?;
    let needs_follow_up = match value.get("needs_follow_up").and_then(Value::as_str).map(str::trim) {
        Some(answer) if answer.eq_ignore_ascii_case("YES") => true,
        Some(answer) if answer.eq_ignore_ascii_case("NO") => false,
        Some(other) => return Err(format!("needs_follow_up is {other:?}, not YES or NO")),
        None => return Err("the answer has no needs_follow_up".to_string()),
    };
    let confidence = value
        .get("confidence")
        .and_then(Value::as_f64)
        .ok_or_else(|| "the answer has no numeric confidence".to_string())?;
    if !(0.0..=1.0).contains(&confidence) {
        return Err(format!("confidence {confidence} is outside 0 to 1"));
    }
    let evidence: Vec<String> = match value.get("evidence") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|item| item.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|item| !item.is_empty())
            .map(|item| item.chars().take(MAX_EVIDENCE_CHARS).collect())
            .take(MAX_EVIDENCE)
            .collect(),
        _ => return Err("the answer has no evidence list".to_string()),
    };
    if evidence.is_empty() {
        return Err("the answer's evidence list is empty".to_string());
    }
    Ok(Verdict { needs_follow_up, confidence, evidence })
}

fn strip_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else { return text };
    let rest = rest.split_once('\n').map_or("", |(_, body)| body);
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

impl Verdict {
    /// Whether this verdict resolves the issue: a NO at least `threshold` sure. Anything else
    /// leaves the issue to open as it would without the check.
    pub fn suppresses(&self, threshold: f64) -> bool {
        !self.needs_follow_up && self.confidence >= threshold
    }

    /// `NO, confidence 0.95: "said thanks"; "visit confirmed"`, for the issue timeline.
    pub fn describe(&self) -> String {
        let answer = if self.needs_follow_up { "YES" } else { "NO" };
        let evidence: Vec<String> = self.evidence.iter().map(|line| format!("{line:?}")).collect();
        format!("{answer}, confidence {:.2}: {}", self.confidence, evidence.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    fn message(id: &str, when: &str, author: Author, text: &str) -> ThreadMessage {
        ThreadMessage { id: id.into(), at: at(when), author, text: text.into() }
    }

    #[test]
    fn phones_emails_and_urls_are_masked() {
        let cases = [
            ("call me at (214) 555-0199 please", "call me at [PHONE] please"),
            ("+1 214 555 0199", "[PHONE]"),
            ("my cell 214.555.0199.", "my cell [PHONE]."),
            ("2145550199/2145550100", "[PHONE]/[PHONE]"),
            ("ext 555-0199", "ext [PHONE]"),
            ("mail pat.doe+pool@example.co.uk, thanks", "mail [EMAIL], thanks"),
            ("see https://pay.example.com/inv?id=42.", "see [URL]."),
            ("(www.poolpros.com)", "([URL])"),
            ("pay at bit.ly/3xYz or poolpros.com", "pay at [URL] or [URL]"),
            ("HTTP://EXAMPLE.ORG/A", "[URL]"),
            ("link:https://x.io/a@b", "link:[URL]"),
        ];
        for (text, expected) in cases {
            assert_eq!(mask_pii(text), expected, "{text:?}");
        }
    }

    #[test]
    fn ordinary_words_and_small_numbers_are_kept() {
        let kept = [
            "The pool looks pretty cloudy",
            "come at 10:30 on 3/14, gate code 4512",
            "we spent $1,250 on 2 pumps",
            "visit on 2026-03-02 works",
            "e.g. the filter. Mr.Smith said ok",
            "ping @carl about it",
            "Thanks! 👍",
        ];
        for text in kept {
            assert_eq!(mask_pii(text), text, "{text:?}");
        }
    }

    #[test]
    fn the_window_is_the_recent_thread_up_to_a_silence() {
        let messages = vec![
            message("m1", "2026-03-01T15:00:00Z", Author::Customer, "old question"),
            message("m2", "2026-03-01T15:10:00Z", Author::Internal, "old answer"),
            // Four hours of silence end the window.
            message("m4", "2026-03-02T15:05:00Z", Author::Internal, "we can come at 2"),
            message("m3", "2026-03-02T15:00:00Z", Author::Customer, "can you come today?"),
            message("m5", "2026-03-02T15:06:00Z", Author::Customer, "great, thanks"),
        ];
        let picked = window(&messages, 10, SignedDuration::from_hours(4));
        let ids: Vec<&str> = picked.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m3", "m4", "m5"]);
        let capped = window(&messages, 2, SignedDuration::from_hours(4));
        let ids: Vec<&str> = capped.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m4", "m5"]);
        let state = thread_state("conv1", &picked);
        assert_eq!(state.map(|s| (s.newest_message_id, s.newest_at)), Some(("m5".into(), at("2026-03-02T15:06:00Z"))));
        assert!(window(&[], 10, SignedDuration::from_hours(4)).is_empty());
        assert_eq!(thread_state("conv1", &[]), None);
    }

    #[test]
    fn the_issues_text_must_be_in_the_thread() {
        let messages = [
            message("m1", "2026-03-02T15:00:00Z", Author::Customer, "Is the  tech\ncoming today?"),
            message("m2", "2026-03-02T15:01:00Z", Author::Internal, "pump is leaking"),
        ];
        let picked: Vec<&ThreadMessage> = messages.iter().collect();
        assert!(shows_customer_text(&picked, "Is the tech coming today?"));
        assert!(shows_customer_text(&picked, "Is the tech"), "an issue keeps the first 500 characters");
        assert!(!shows_customer_text(&picked, "pump is leaking"), "not the customer's");
        assert!(!shows_customer_text(&picked, "Actually, the pump is leaking"));
        assert!(!shows_customer_text(&picked, " "));
    }

    #[test]
    fn the_transcript_labels_masks_and_cuts() {
        let long = "x".repeat(600);
        let messages = [
            message("m1", "2026-03-02T15:00:00Z", Author::Customer, "Hi,\nmy number is 214-555-0199"),
            message("m2", "2026-03-02T15:01:00Z", Author::Internal, ""),
            message("m3", "2026-03-02T15:02:00Z", Author::Internal, "Write to office@poolpros.com"),
            message("m4", "2026-03-02T15:03:00Z", Author::Customer, &long),
        ];
        let picked: Vec<&ThreadMessage> = messages.iter().collect();
        let text = transcript(&picked, Redaction::Mask);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "[CUSTOMER] Hi, my number is [PHONE]");
        assert_eq!(lines[1], "[INTERNAL] Write to [EMAIL]");
        assert_eq!(lines[2], format!("[CUSTOMER] {}…", "x".repeat(MAX_TEXT_CHARS)));
        assert_eq!(lines.len(), 3, "a message without text has no line");
        let kept = transcript(&picked[..1], Redaction::Keep);
        assert_eq!(kept, "[CUSTOMER] Hi, my number is 214-555-0199");
    }

    #[test]
    fn answers_are_read_strictly() -> Result<(), String> {
        let verdict = parse_verdict(r#"{"needs_follow_up":"NO","confidence":0.95,"evidence":["said thanks"]}"#)?;
        assert_eq!(verdict, Verdict { needs_follow_up: false, confidence: 0.95, evidence: vec!["said thanks".into()] });
        assert!(verdict.suppresses(0.9) && !verdict.suppresses(0.96));
        assert_eq!(verdict.describe(), r#"NO, confidence 0.95: "said thanks""#);
        let fenced =
            parse_verdict("```json\n{\"needs_follow_up\":\"yes\",\"confidence\":1,\"evidence\":[\"asks when\"]}\n```")?;
        assert!(fenced.needs_follow_up && !fenced.suppresses(0.0));
        let garbage = [
            "",
            "NO",
            "<html>bad gateway</html>",
            "[1,2]",
            r#"{"needs_follow_up":"MAYBE","confidence":0.99,"evidence":["x"]}"#,
            r#"{"needs_follow_up":"NO","evidence":["x"]}"#,
            r#"{"needs_follow_up":"NO","confidence":"0.99","evidence":["x"]}"#,
            r#"{"needs_follow_up":"NO","confidence":1.5,"evidence":["x"]}"#,
            r#"{"needs_follow_up":"NO","confidence":0.99}"#,
            r#"{"needs_follow_up":"NO","confidence":0.99,"evidence":[]}"#,
            r#"{"answer":"NO"}"#,
        ];
        for text in garbage {
            assert!(parse_verdict(text).is_err(), "{text:?} was accepted");
        }
        Ok(())
    }
}
