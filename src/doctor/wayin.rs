//! The way in (issue 27): with `PUBLIC_URL` set, a probe carrying a fresh nonce is posted to the
//! box's own public URL with the webhook secret, and the local admin listener is asked whether
//! it arrived: the tunnel, its ingress and the secret proven in one round trip. Also the URLs and
//! the secret GHL's workflows must use (the secret masked), and whether a real webhook arrived in
//! the last business day.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use super::Check;
use crate::config::{Config, Secret};
use crate::config::{PROBE_API, PROBE_PATH};

const AREA: &str = "way in";
/// The probe's check.
const NAME: &str = "way in";
/// How long the public URL and the admin listener each have to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The way in's checks: the URLs to paste, the secret, the probe, the last webhook.
pub fn checks(config: &Config, now: Timestamp) -> Vec<Check> {
    let secret = secret_of(config);
    let mut checks = Vec::new();
    match &secret {
        Some(secret) => {
            checks.push(Check::ok(AREA, "webhook secret", format!("X-NTPP-Secret: {}", mask_last4(secret.expose()))))
        }
        None => checks.push(Check::warn(
            AREA,
            "webhook secret",
            "WEBHOOK_SECRET is unset and the service has not generated one in the data directory yet",
            "Start the service once (it generates the secret), or set WEBHOOK_SECRET in the env file, then run \
             sentinel doctor again to see it.",
        )),
    }
    match (&config.public_url, &secret) {
        (None, _) => checks.push(Check::warn(
            AREA,
            NAME,
            "the way in is not checked: set PUBLIC_URL",
            "Set PUBLIC_URL to the public base URL GHL's workflows post to (e.g. https://sentinel-dallas.example.com), \
             then run sentinel doctor again.",
        )),
        (Some(url), secret) => {
            for (name, path) in [
                ("URL inbound SMS", "/webhook/ghl/inbound_sms"),
                ("URL unanswered call", "/webhook/ghl/unanswered_call"),
                ("URL events", "/webhook/ghl"),
            ] {
                checks.push(Check::ok(AREA, name, format!("{url}{path}")));
            }
            if let Some(secret) = secret {
                checks.push(probe(url, config.admin_listen_addr, secret));
            }
        }
    }
    checks.push(last_webhook(config, now));
    checks
}

/// The secret the service uses: configured, else the one it generated (read, never made here).
fn secret_of(config: &Config) -> Option<Secret> {
    if let Some(secret) = &config.webhook_secret {
        return Some(secret.clone());
    }
    let stored = std::fs::read_to_string(crate::secret::secret_path(&config.data_dir())).ok()?;
    let stored = stored.trim();
    (!stored.is_empty()).then(|| Secret::new(stored))
}

/// Every character but the last four hidden: `****wxyz (22 chars)`.
pub fn mask_last4(secret: &str) -> String {
    let count = secret.chars().count();
    if count < 12 {
        return "**** (too short to show any of it)".to_string();
    }
    let tail: String = secret.chars().skip(count - 4).collect();
    format!("****{tail} ({count} chars)")
}

/// How the public URL answered the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Nothing took the connection (refused, no such host, no connection in time).
    Unreachable(String),
    /// A connection, but no HTTP answer on it.
    Silent(String),
    /// An HTTP answer: its status, and whether it was a Sentinel taking the probe.
    Status { status: u16, probe_taken: bool },
}

/// The probe's line from the public URL's answer and, once it took the probe, whether the
/// admin listener saw it arrive (`Err` with why it could not be asked).
pub fn judge(url: &str, answer: &Answer, arrived: Result<bool, String>) -> Check {
    let target = format!("{url}{PROBE_PATH}");
    match answer {
        Answer::Unreachable(why) => Check::fail(
            AREA,
            NAME,
            format!("{url} did not answer ({why}): the tunnel server is down or unreachable"),
            "Check the tunnel server behind PUBLIC_URL is running and reachable, and that PUBLIC_URL names it; GHL \
             cannot deliver a webhook until then.",
        ),
        Answer::Silent(why) => Check::fail(
            AREA,
            NAME,
            format!(
                "{url} took the connection but nothing answered behind it ({why}): the tunnel's client is down, or \
                 its ingress forwards to the wrong port"
            ),
            "Check the tunnel client on this box is running (systemctl status rathole-client) and that its \
             local_addr is LISTEN_ADDR, the webhook listener.",
        ),
        Answer::Status { status: 401 | 403, .. } => Check::fail(
            AREA,
            NAME,
            format!("{target} refused the probe's secret ({}): the secret differs", status_of(answer)),
            "The service behind PUBLIC_URL has another WEBHOOK_SECRET than this box's configuration: use one secret \
             (and the same in GHL's workflows).",
        ),
        Answer::Status { status, probe_taken: true } if (200..300).contains(status) => match arrived {
            Ok(true) => Check::ok(
                AREA,
                NAME,
                format!("a probe through {url} arrived: the tunnel, its ingress and the secret work"),
            ),
            Ok(false) => Check::fail(
                AREA,
                NAME,
                format!(
                    "{url} took the probe ({status}), but it never reached this box: PUBLIC_URL leads to another box"
                ),
                "Point PUBLIC_URL (and the tunnel's public name) at this box's tunnel, not another office's.",
            ),
            Err(why) => Check::fail(
                AREA,
                NAME,
                format!("{url} took the probe ({status}), but this box's service could not be asked: {why}"),
                "Check the service runs here (systemctl status sentinel) and ADMIN_LISTEN_ADDR, then run sentinel \
                 doctor again.",
            ),
        },
        Answer::Status { status, .. } => Check::fail(
            AREA,
            NAME,
            format!(
                "{target} answered {status}{}: the ingress forwards to the wrong port or another service",
                if (200..300).contains(status) { " but not as Sentinel" } else { "" }
            ),
            "Forward the tunnel's public port to LISTEN_ADDR (the webhook listener; never ADMIN_LISTEN_ADDR), \
             and check PUBLIC_URL names this box's tunnel.",
        ),
    }
}

fn status_of(answer: &Answer) -> String {
    match answer {
        Answer::Status { status, .. } => status.to_string(),
        _ => String::new(),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .user_agent(concat!("sentinel-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Posts a probe with a fresh nonce to `url` and asks the admin listener at `admin` about it.
fn probe(url: &str, admin: SocketAddr, secret: &Secret) -> Check {
    let nonce = match nonce() {
        Ok(nonce) => nonce,
        Err(why) => return Check::fail(AREA, NAME, format!("no nonce: {why}"), "Run sentinel doctor again."),
    };
    let agent = agent();
    let body = serde_json::json!({ "nonce": nonce }).to_string();
    let sent = agent
        .post(format!("{url}{PROBE_PATH}"))
        .header("content-type", "application/json")
        .header("X-NTPP-Secret", secret.expose())
        .send(body.as_str());
    let answer = match sent {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let text = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
            let probe_taken =
                serde_json::from_str::<Value>(&text).is_ok_and(|value| value.get("probe") == Some(&Value::Bool(true)));
            Answer::Status { status, probe_taken }
        }
        Err(err) => classify_error(&err),
    };
    let arrived = match answer {
        Answer::Status { probe_taken: true, .. } => arrived(&agent, admin, secret, &nonce),
        _ => Err("not asked".to_string()),
    };
    judge(url, &answer, arrived)
}

/// A failed request as [`Answer`]: whether anything took the connection.
fn classify_error(err: &ureq::Error) -> Answer {
    use std::io::ErrorKind;
    match err {
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::AddrNotAvailable
            ) =>
        {
            Answer::Unreachable(format!("connection refused: {io}"))
        }
        ureq::Error::HostNotFound => Answer::Unreachable("host not found".to_string()),
        ureq::Error::ConnectionFailed => Answer::Unreachable("connection failed".to_string()),
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => Answer::Unreachable(format!("{err}")),
        other => Answer::Silent(format!("{other}")),
    }
}

/// Asks the admin listener whether `nonce` arrived.
fn arrived(agent: &ureq::Agent, admin: SocketAddr, secret: &Secret, nonce: &str) -> Result<bool, String> {
    let addr = local(admin);
    let answer = agent
        .get(format!("http://{addr}{PROBE_API}{nonce}"))
        .header("X-NTPP-Secret", secret.expose())
        .call()
        .map_err(|err| format!("ADMIN_LISTEN_ADDR {addr} did not answer: {err}"))?;
    let status = answer.status().as_u16();
    if status != 200 {
        return Err(format!("ADMIN_LISTEN_ADDR {addr} answered {status}"));
    }
    let value: Value = answer.into_body().read_json().map_err(|err| format!("ADMIN_LISTEN_ADDR {addr}: {err}"))?;
    Ok(value.get("arrived") == Some(&Value::Bool(true)))
}

/// The admin listener as this box reaches it: a wildcard address is asked on loopback.
fn local(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        ip if ip.is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port()),
        _ => addr,
    }
}

/// 16 random bytes as hex.
fn nonce() -> Result<String, String> {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| "no randomness".to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether a real webhook (not catch-up's) arrived since the start of the last business day
/// before today, read from the database without changing it.
fn last_webhook(config: &Config, now: Timestamp) -> Check {
    const LAST: &str = "last webhook";
    if !config.catchup.webhooks {
        return Check::ok(AREA, LAST, "none expected (WEBHOOKS=off)");
    }
    let read = rusqlite::Connection::open_with_flags(&config.db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|conn| crate::db::events::last_received_at(&conn));
    let last = match read {
        Ok(last) => last,
        Err(err) => {
            return Check::warn(
                AREA,
                LAST,
                format!("the database could not be read ({err})"),
                "Start the service once, then run sentinel doctor again.",
            );
        }
    };
    let since = last_business_day_start(&config.calendar, now);
    judge_last(last, since, &config.calendar)
}

/// The start of the latest business day before today (in the office's zone), looking back at
/// most two weeks; `None` when there is none.
fn last_business_day_start(calendar: &crate::domain::calendar::Calendar, now: Timestamp) -> Option<Timestamp> {
    let zone = calendar.zone().clone();
    let mut date = now.to_zoned(zone.clone()).date();
    for _ in 0..14 {
        date = date.yesterday().ok()?;
        if calendar.is_business_day(date) {
            return date.to_zoned(zone).ok().map(|zoned| zoned.timestamp());
        }
    }
    None
}

/// ✓ when the last webhook came since `since`, ⚠ otherwise.
fn judge_last(
    last: Option<Timestamp>,
    since: Option<Timestamp>,
    calendar: &crate::domain::calendar::Calendar,
) -> Check {
    const LAST: &str = "last webhook";
    let advice = "Check the tunnel and that GHL's workflows post to the URLs above with the secret above.";
    match (last, since) {
        (Some(last), Some(since)) if last >= since => Check::ok(AREA, LAST, calendar.stamp(last)),
        (Some(last), _) => Check::warn(
            AREA,
            LAST,
            format!("none in the last business day (the last came {})", calendar.stamp(last)),
            advice,
        ),
        (None, _) => Check::warn(AREA, LAST, "no webhook has arrived yet", advice),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://sentinel-dallas.example.com";

    fn taken(status: u16) -> Answer {
        Answer::Status { status, probe_taken: true }
    }

    #[test]
    fn each_answer_gets_its_own_reason() {
        let ok = judge(URL, &taken(200), Ok(true));
        assert_eq!(ok.level, super::super::Level::Ok);
        assert!(ok.detail.contains("the tunnel, its ingress and the secret work"), "{}", ok.detail);

        let cases = [
            (Answer::Unreachable("connection refused".into()), Ok(false), "the tunnel server is down"),
            (Answer::Silent("connection reset".into()), Ok(false), "wrong port"),
            (Answer::Status { status: 404, probe_taken: false }, Ok(false), "wrong port"),
            (Answer::Status { status: 502, probe_taken: false }, Ok(false), "wrong port"),
            (Answer::Status { status: 200, probe_taken: false }, Ok(false), "not as Sentinel"),
            (Answer::Status { status: 401, probe_taken: false }, Ok(false), "the secret differs"),
            (Answer::Status { status: 403, probe_taken: false }, Ok(false), "the secret differs"),
            (taken(200), Ok(false), "another box"),
            (taken(200), Err("refused".into()), "could not be asked"),
        ];
        for (answer, arrived, reason) in cases {
            let check = judge(URL, &answer, arrived);
            assert_eq!(check.level, super::super::Level::Fail, "{answer:?}");
            assert!(check.detail.contains(reason), "{answer:?}: {}", check.detail);
            assert!(check.advice.is_some());
        }
    }

    #[test]
    fn the_secret_shows_only_its_last_four() {
        assert_eq!(mask_last4("test-secret-0123456789"), "****6789 (22 chars)");
        assert!(!mask_last4("short-one").contains("one"));
    }

    #[test]
    fn a_webhook_since_the_last_business_day_passes() -> anyhow::Result<()> {
        let calendar = crate::domain::calendar::Calendar::new(
            jiff::tz::TimeZone::UTC,
            crate::domain::calendar::WeeklySchedule::weekdays("08:00", "17:00").map_err(anyhow::Error::msg)?,
            Default::default(),
        );
        // Monday: the last business day before it is Friday.
        let monday: Timestamp = "2026-03-02T10:00:00Z".parse()?;
        let since = last_business_day_start(&calendar, monday);
        assert_eq!(since, Some("2026-02-27T00:00:00Z".parse()?));
        let friday: Timestamp = "2026-02-27T15:00:00Z".parse()?;
        assert_eq!(judge_last(Some(friday), since, &calendar).level, super::super::Level::Ok);
        let thursday: Timestamp = "2026-02-26T15:00:00Z".parse()?;
        assert_eq!(judge_last(Some(thursday), since, &calendar).level, super::super::Level::Warn);
        assert_eq!(judge_last(None, since, &calendar).level, super::super::Level::Warn);
        Ok(())
    }
}
