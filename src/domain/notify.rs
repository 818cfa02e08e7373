//! Notifications beyond SMS (issue 18): webhook targets, the events each takes, the body each
//! receives, and the Standard Webhooks signature.
//!
//! `config` parses `NOTIFY_WEBHOOK_URLS` and `NOTIFY_WEBHOOK_SECRET` with these functions,
//! `db::notify` queues one outbox row per target with the body built here, and the outbox
//! sender signs each attempt with [`signature`]. No I/O and no clock: `at` is an argument.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde_json::json;

/// What a notification is about; a target takes only the kinds it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// New OPEN issues (the breach alert).
    Breach,
    /// A scheduled digest.
    Digest,
    /// The appliance's health changed (healthy, degraded, failing).
    Health,
    /// An issue was resolved.
    Resolved,
}

impl EventKind {
    /// Every kind, in the order the configuration documents them.
    pub const ALL: [EventKind; 4] = [EventKind::Breach, EventKind::Digest, EventKind::Health, EventKind::Resolved];

    /// The word used in `NOTIFY_WEBHOOK_URLS` and in the body's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Breach => "breach",
            EventKind::Digest => "digest",
            EventKind::Health => "health",
            EventKind::Resolved => "resolved",
        }
    }
}

/// One webhook URL and the kinds of event it takes; `Debug` masks the URL (see [`mask_url`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// Where deliveries are POSTed.
    pub url: String,
    /// What it is sent.
    pub kinds: Vec<EventKind>,
}

impl Target {
    /// Whether this target takes `kind`.
    pub fn takes(&self, kind: EventKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// Whether the URL is a Slack incoming webhook, which gets Slack's body instead.
    pub fn is_slack(&self) -> bool {
        is_slack(&self.url)
    }

    /// The URL as people see it (see [`mask_url`]) and its kinds: `https://hooks.slack.com/… (breach, digest)`.
    pub fn shown(&self) -> String {
        let kinds: Vec<&str> = self.kinds.iter().map(|kind| kind.as_str()).collect();
        format!("{} ({})", mask_url(&self.url), kinds.join(", "))
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("url", &mask_url(&self.url)).field("kinds", &self.kinds).finish()
    }
}

/// A webhook URL as `check-config`, `/status` and the logs show it: the scheme and host, then
/// `/…` for whatever followed. A Slack hook's path is a bearer credential (whoever has it can
/// post to the channel), and another receiver's path or query may be one too; a user and
/// password before the host are dropped as well.
pub fn mask_url(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return "…".to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if end < rest.len() || host.len() < authority.len() {
        format!("{scheme}://{host}/…")
    } else {
        format!("{scheme}://{host}")
    }
}

/// `NOTIFY_WEBHOOK_URLS` as written, each entry's URL masked (see [`mask_url`]) and its kinds
/// kept: what `check-config` and a configuration error show. Entries that do not parse are
/// masked all the same.
pub fn mask_targets(text: &str) -> String {
    text.split([';', '\n'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.rsplit_once('=') {
            Some((url, kinds)) if kinds.split(',').all(|word| is_word(word.trim())) => {
                format!("{}={}", mask_url(url), kinds.trim())
            }
            _ => mask_url(entry),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Whether `word` could be meant as an event kind (a few letters), so it may be shown: a
/// piece of a URL's query is not.
fn is_word(word: &str) -> bool {
    !word.is_empty() && word.len() <= 12 && word.bytes().all(|byte| byte.is_ascii_alphabetic())
}

/// `text` (an HTTP client's error, say) with `url`, and the part of it after the host (with or
/// without its leading `/`), masked.
pub fn scrub(text: &str, url: &str) -> String {
    let masked = mask_url(url);
    let mut text = text.replace(url, &masked);
    if let Some((_, rest)) = url.split_once("://")
        && let Some(at) = rest.find(['/', '?', '#'])
        && rest.len() - at > 1
    {
        text = text.replace(&rest[at..], "/…").replace(&rest[at + 1..], "…");
    }
    text
}

/// Whether `url` is a Slack incoming webhook (host `hooks.slack.com`).
pub fn is_slack(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    host.eq_ignore_ascii_case("hooks.slack.com")
}

/// Parses `URL=kind,kind;URL=kind`: entries split by `;` (or new lines), each a URL, `=`,
/// then its kinds (breach, digest, health, resolved, or `all`). The kinds follow the last
/// `=`, so a URL may carry a query.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for entry in text.split([';', '\n']).map(str::trim).filter(|entry| !entry.is_empty()) {
        // An error shows the URL masked: it goes to the terminal and the journal.
        let Some((url, kinds)) = entry.rsplit_once('=') else {
            return Err(format!("{}: expected URL=kinds, e.g. https://hooks.example/x=breach,digest", mask_url(entry)));
        };
        let url = url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < "http://x".len() {
            return Err(format!("{}: expected an http:// or https:// URL before ={kinds}", mask_url(url)));
        }
        let mut found = Vec::new();
        for word in kinds.split(',').map(str::trim) {
            let kind: &[EventKind] = match word.to_ascii_lowercase().as_str() {
                "all" => &EventKind::ALL,
                other => match EventKind::ALL.iter().find(|kind| kind.as_str() == other) {
                    Some(kind) => std::slice::from_ref(kind),
                    None => {
                        // A word that may be a piece of the URL's query (`=kinds` forgotten)
                        // is not repeated.
                        let word = if is_word(word) { format!("{word:?}") } else { "(not shown)".to_string() };
                        return Err(format!(
                            "{}: unknown event kind {word}; expected breach, digest, health, resolved or all after \
                             the URL's last =",
                            mask_url(url)
                        ));
                    }
                },
            };
            found.extend(kind.iter().filter(|kind| !found.contains(*kind)).copied().collect::<Vec<_>>());
        }
        targets.push(Target { url: url.to_string(), kinds: found });
    }
    Ok(targets)
}

/// Reads a signing secret in the Standard Webhooks form `whsec_<base64>` into its key bytes.
pub fn parse_secret(text: &str) -> Result<Vec<u8>, String> {
    let encoded = text.trim().strip_prefix("whsec_").ok_or("expected whsec_ followed by base64")?;
    let key = STANDARD.decode(encoded).map_err(|err| format!("expected whsec_ followed by base64 ({err})"))?;
    if key.len() < 16 {
        return Err("expected a key of at least 16 bytes after whsec_".to_string());
    }
    Ok(key)
}

/// The body a target receives: Slack's `{"text", "blocks"}` for a Slack hook, else a JSON
/// event `{"type", "timestamp", "data": {"purpose", "text"}}`.
pub fn body(target: &Target, kind: EventKind, purpose: &str, text: &str, at: Timestamp) -> String {
    let value = if target.is_slack() {
        json!({
            "text": text,
            "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
        })
    } else {
        json!({
            "type": kind.as_str(),
            "timestamp": at.to_string(),
            "data": { "purpose": purpose, "text": text },
        })
    };
    value.to_string()
}

/// The body of the doctor's ping (`sentinel doctor`): Slack's `{"text"}` for a Slack hook,
/// else a JSON event of `type` `ping`, shaped as every other event, so a receiver that checks
/// signatures and answers 2xx to what it does not know passes.
pub fn ping_body(target: &Target, at: Timestamp) -> String {
    const TEXT: &str = "Sentinel doctor: checking that this webhook answers; nothing to do.";
    let value = if target.is_slack() {
        json!({ "text": TEXT })
    } else {
        json!({ "type": "ping", "timestamp": at.to_string(), "data": { "purpose": "doctor", "text": TEXT } })
    };
    value.to_string()
}

/// The `webhook-signature` header's value: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under `key`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// A UUID version 7 (RFC 9562) in its usual text form: `unix_ms`'s 48 bits, the version,
/// then `random`'s 74 bits around the variant. Ids made this way never repeat, on this box,
/// after a restore, or across boxes, and sort by when they were made.
pub fn uuid_v7(unix_ms: i64, random: [u8; 10]) -> String {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random);
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_v7_carries_its_millisecond_version_and_variant() {
        // RFC 9562's example: 2022-02-22 19:22:22 UTC (0x017F22E279B0 ms).
        let id = uuid_v7(0x017F_22E2_79B0, [0xFC, 0xC3, 0x98, 0xC4, 0xDC, 0x0C, 0x0C, 0x07, 0x39, 0x8F]);
        assert_eq!(id, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
        let id = uuid_v7(0, [0xff; 10]);
        assert_eq!(id, "00000000-0000-7fff-bfff-ffffffffffff", "version 7, variant 10");
    }

    /// Computed apart from this code, with python3's `hmac` and `base64` modules.
    const SECRET: &str = "whsec_c2VudGluZWwtdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2Q=";
    const SIGNED: &str = "v1,WcyLjTAECEyt+sus7TZhWtyv/9x4T8tjAVZNv0H1Bpk=";

    #[test]
    fn the_signature_matches_an_independent_vector() -> Result<(), String> {
        let key = parse_secret(SECRET)?;
        assert_eq!(key, b"sentinel-test-key-0123456789abcd");
        assert_eq!(signature(&key, "msg_7", 1_772_460_000, r#"{"type":"breach"}"#), SIGNED);
        assert_ne!(signature(&key, "msg_8", 1_772_460_000, r#"{"type":"breach"}"#), SIGNED);
        Ok(())
    }

    #[test]
    fn a_bad_secret_is_refused() {
        assert!(parse_secret("c2VudGluZWw=").is_err(), "no prefix");
        assert!(parse_secret("whsec_!!!").is_err(), "not base64");
        assert!(parse_secret("whsec_c2hvcnQ=").is_err(), "too short");
    }

    #[test]
    fn targets_list_their_kinds() -> Result<(), String> {
        let targets =
            parse_targets("https://hooks.example/x?a=b=breach, digest; https://hooks.slack.com/services/T/B/C=all")?;
        assert_eq!(targets[0].url, "https://hooks.example/x?a=b");
        assert_eq!(targets[0].kinds, vec![EventKind::Breach, EventKind::Digest]);
        assert!(!targets[0].is_slack());
        assert_eq!(targets[1].kinds, EventKind::ALL.to_vec());
        assert!(targets[1].is_slack());
        assert_eq!(parse_targets("")?, vec![]);
        Ok(())
    }

    #[test]
    fn bad_targets_say_what_was_expected() {
        let err = |text: &str| parse_targets(text).err().unwrap_or_default();
        assert!(err("https://hooks.example/x").contains("expected URL=kinds"));
        assert!(err("ftp://x=breach").contains("http:// or https://"));
        assert!(err("https://hooks.example/x=breach,fire").contains("unknown event kind \"fire\""));
    }

    #[test]
    fn urls_are_shown_as_scheme_and_host_only() {
        let slack = "https://hooks.slack.com/services/T0AB/B0CD/s3cr3tT0k3n";
        assert_eq!(mask_url(slack), "https://hooks.slack.com/…");
        assert_eq!(mask_url("https://ops.example"), "https://ops.example");
        assert_eq!(mask_url("http://127.0.0.1:9000?token=x"), "http://127.0.0.1:9000/…");
        assert_eq!(mask_url("https://user:pass@ops.example"), "https://ops.example/…");
        assert_eq!(mask_url("not a url"), "…");
        let written = format!(" {slack}=breach, digest ;https://ops.example/x?key=k=all; junk");
        assert_eq!(mask_targets(&written), "https://hooks.slack.com/…=breach, digest;https://ops.example/…=all;…");
        let target = Target { url: slack.into(), kinds: vec![EventKind::Breach, EventKind::Health] };
        assert_eq!(target.shown(), "https://hooks.slack.com/… (breach, health)");
        let said = scrub(&format!("bad uri: {slack}; path services/T0AB/B0CD/s3cr3tT0k3n"), slack);
        assert_eq!(said, "bad uri: https://hooks.slack.com/…; path …");
        assert!(!scrub("GET /services/T0AB/B0CD/s3cr3tT0k3n failed", slack).contains("s3cr3t"));
        assert_eq!(mask_targets("https://ops.example/x?token=s3cr3t"), "https://ops.example/…");
        for bad in
            [format!("{slack}=fire"), slack.to_string(), "ftp://h/s3cr3t=all".into(), format!("{slack}?t=s3cr3t")]
        {
            let err = parse_targets(&bad).err().unwrap_or_default();
            assert!(!err.is_empty() && !err.contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    fn a_ping_is_an_event_of_its_own_type() -> Result<(), serde_json::Error> {
        let at: Timestamp = "2026-03-02T14:00:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH);
        let plain = Target { url: "https://hooks.example/x".into(), kinds: vec![EventKind::Health] };
        let value: serde_json::Value = serde_json::from_str(&ping_body(&plain, at))?;
        assert_eq!((value["type"].as_str(), value["timestamp"].as_str()), (Some("ping"), Some("2026-03-02T14:00:00Z")));
        let slack = Target { url: "https://hooks.slack.com/services/T/B/C".into(), kinds: vec![EventKind::Breach] };
        let value: serde_json::Value = serde_json::from_str(&ping_body(&slack, at))?;
        assert!(value["text"].as_str().is_some_and(|text| text.contains("doctor")), "{value}");
        Ok(())
    }

    #[test]
    fn slack_hooks_get_text_with_blocks() -> Result<(), serde_json::Error> {
        let at: Timestamp = "2026-03-02T14:00:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH);
        let slack = Target { url: "https://hooks.slack.com/services/T/B/C".into(), kinds: vec![EventKind::Breach] };
        let value: serde_json::Value = serde_json::from_str(&body(&slack, EventKind::Breach, "alert:1", "2 late", at))?;
        assert_eq!(value["text"], "2 late");
        assert_eq!(value["blocks"][0]["text"]["text"], "2 late");
        let plain = Target { url: "https://hooks.example/x".into(), kinds: vec![EventKind::Breach] };
        let value: serde_json::Value = serde_json::from_str(&body(&plain, EventKind::Breach, "alert:1", "2 late", at))?;
        assert_eq!(value["type"], "breach");
        assert_eq!(value["data"]["purpose"], "alert:1");
        assert_eq!(value["timestamp"], "2026-03-02T14:00:00Z");
        Ok(())
    }
}
