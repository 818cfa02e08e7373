//! Notification webhooks (issue 18 §3) end to end: a local receiver that verifies every
//! Standard Webhooks signature fails, stalls and comes back, and each breach arrives once.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::fake_ghl::FakeGhl;
use crate::harness::{Sentinel, command, with_ghl};

/// Computed apart from the service, with python3's `base64`.
const SECRET: &str = "whsec_c2VudGluZWwtdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2Q=";
const KEY: &[u8] = b"sentinel-test-key-0123456789abcd";

const ANSWER: u8 = 0;
const FAIL: u8 = 1;
const STALL: u8 = 2;

/// A webhook receiver on 127.0.0.1: answers, fails with 500 or stalls, as told.
struct Receiver {
    addr: String,
    mode: Arc<AtomicU8>,
    /// Deliveries taken with a valid signature: (webhook-id, body).
    taken: Arc<Mutex<Vec<(String, Value)>>>,
    /// Every request seen, whatever came of it.
    seen: Arc<Mutex<usize>>,
    /// The `webhook-id` of every request seen, failed and stalled ones too.
    ids: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start() -> anyhow::Result<Receiver> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(|err| anyhow::format_err!("{err}"))?;
        let addr = server.server_addr().to_string();
        let (mode, taken, seen) =
            (Arc::new(AtomicU8::new(ANSWER)), Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(0)));
        let ids = Arc::new(Mutex::new(Vec::new()));
        let (m, t, s, i) = (mode.clone(), taken.clone(), seen.clone(), ids.clone());
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                *s.lock().expect("seen") += 1;
                let id = request.headers().iter().find(|h| h.field.equiv("webhook-id")).map(|h| h.value.to_string());
                i.lock().expect("ids").push(id.unwrap_or_default());
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                match m.load(Ordering::SeqCst) {
                    FAIL => {
                        let _ = request.respond(tiny_http::Response::empty(500));
                    }
                    STALL => {
                        // Longer than the sender waits; the answer never comes in time.
                        std::thread::sleep(Duration::from_secs(7));
                        drop(request);
                    }
                    _ => {
                        let header = |name: &'static str| {
                            request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.to_string())
                        };
                        let (id, stamp, signature) =
                            (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
                        let verified = match (&id, &stamp, &signature) {
                            (Some(id), Some(stamp), Some(signature)) => verify(id, stamp, &body, signature),
                            _ => false,
                        };
                        let status = if verified { 200 } else { 400 };
                        if let (true, Some(id), Ok(value)) = (verified, id, serde_json::from_str(&body)) {
                            t.lock().expect("taken").push((id, value));
                        }
                        let _ = request.respond(tiny_http::Response::empty(status));
                    }
                }
            }
        });
        Ok(Receiver { addr, mode, taken, seen, ids })
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn taken(&self) -> Vec<(String, Value)> {
        self.taken.lock().map(|taken| taken.clone()).unwrap_or_default()
    }

    fn seen(&self) -> usize {
        self.seen.lock().map(|seen| *seen).unwrap_or_default()
    }

    fn ids(&self) -> Vec<String> {
        self.ids.lock().map(|ids| ids.clone()).unwrap_or_default()
    }
}

/// Verifies a Standard Webhooks signature as any receiver would, with ring's HMAC.
fn verify(id: &str, stamp: &str, body: &str, signature: &str) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, KEY);
    let Some(Ok(tag)) = signature.strip_prefix("v1,").map(|tag| STANDARD.decode(tag)) else {
        return false;
    };
    ring::hmac::verify(&key, format!("{id}.{stamp}.{body}").as_bytes(), &tag).is_ok()
}

fn start(ghl: &FakeGhl, receiver: &Receiver) -> anyhow::Result<Sentinel> {
    let urls = format!("http://{}/hooks=breach,resolved", receiver.addr);
    with_ghl(ghl)
        .and(&[
            ("MANAGER_CONTACT_IDS", "m1"),
            ("SENTINEL_TEST_NOW", "2026-11-23T15:00:00Z"),
            ("NOTIFY_WEBHOOK_URLS", &urls),
            ("NOTIFY_WEBHOOK_SECRET", SECRET),
        ])
        .start()
}

fn text(app: &Sentinel, contact: &str) -> anyhow::Result<()> {
    let body = json!({ "contact_id": contact, "full_name": format!("Customer {contact}"), "message": { "body": "pool is green" } });
    app.webhook("inbound_sms", &body.to_string())?;
    Ok(())
}

#[test]
fn a_breach_reaches_a_failing_then_stalled_receiver_exactly_once() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let receiver = Receiver::start()?;
    receiver.set(FAIL);
    let app = start(&ghl, &receiver)?;
    text(&app, "c1")?;
    app.set_clock("2026-11-23T17:00:00Z")?;
    app.eventually("open", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 1))?;
    app.eventually("the breach heard", || Ok(app.log().contains("alert bundled")))?;
    app.set_clock("2026-11-23T17:01:00Z")?;
    app.eventually("the alert sent to the manager", || Ok(!ghl.sends().is_empty()))?;
    app.eventually("a failed delivery", || Ok(receiver.seen() >= 1))?;
    app.eventually("the failure recorded", || {
        Ok(app.count("SELECT COUNT(*) FROM outbox WHERE channel = 'webhook' AND attempts >= 1")? == 1)
    })?;
    // The receiver stalls: the retry after the backoff times out and is recorded.
    receiver.set(STALL);
    app.set_clock("2026-11-23T17:01:40Z")?;
    app.eventually("a stalled delivery", || Ok(receiver.seen() >= 2))?;
    app.eventually("the stall recorded", || {
        Ok(app.count("SELECT COUNT(*) FROM outbox WHERE channel = 'webhook' AND attempts >= 2")? == 1)
    })?;
    let status = app.admin("GET", "/status")?;
    assert!(status.text.contains("Notification webhooks waiting: 1"), "{}", status.text);
    // It comes back: the next retry is taken, signed, and nothing is sent again.
    receiver.set(ANSWER);
    app.set_clock("2026-11-23T17:10:00Z")?;
    app.eventually("delivered", || Ok(receiver.taken().len() == 1))?;
    app.eventually("marked sent", || {
        Ok(app.count("SELECT COUNT(*) FROM outbox WHERE channel = 'webhook' AND status = 'sent'")? == 1)
    })?;
    app.set_clock("2026-11-23T18:10:00Z")?;
    std::thread::sleep(Duration::from_millis(500));
    let taken = receiver.taken();
    assert_eq!(taken.len(), 1, "{taken:?}");
    let (id, body) = &taken[0];
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(body["type"], "breach");
    let text = body["data"]["text"].as_str().unwrap_or_default();
    assert!(text.contains("SLA Breach Alert") && text.contains("#1 Customer c1"), "{text}");
    // A manager resolves it: the resolution is told once too.
    let command = json!({ "contact_id": "m1", "message": { "type": "SMS", "body": "Resolve 1" } });
    app.webhook("inbound_sms", &command.to_string())?;
    app.eventually("the resolution delivered", || Ok(receiver.taken().len() == 2))?;
    app.set_clock("2026-11-23T19:10:00Z")?;
    std::thread::sleep(Duration::from_millis(500));
    let taken = receiver.taken();
    assert_eq!(taken.len(), 2, "{taken:?}");
    assert_eq!(taken[1].1["type"], "resolved");
    assert_ne!(taken[0].0, taken[1].0, "each delivery has its own id");
    let text = taken[1].1["data"]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Issue #1 resolved") && text.contains("Customer c1"), "{text}");
    Ok(())
}

#[test]
fn a_health_change_is_told_both_ways_and_signed() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let receiver = Receiver::start()?;
    let urls = format!("http://{}/hooks=health", receiver.addr);
    let app = with_ghl(&ghl)
        .and(&[
            ("SENTINEL_TEST_NOW", "2026-11-23T15:00:00Z"),
            ("NOTIFY_WEBHOOK_URLS", &urls),
            ("NOTIFY_WEBHOOK_SECRET", SECRET),
        ])
        .start()?;
    // Let the watcher take its healthy baseline, then hold the store as a stuck disk would.
    std::thread::sleep(Duration::from_secs(3));
    assert!(receiver.taken().is_empty(), "a start is not a change");
    assert_eq!(app.admin("POST", "/debug/wedge?seconds=5")?.status, 200);
    // Failing is seen within a probe's 3 s; the hook is queued once the store answers again,
    // and healthy is seen at the next look, 2 s on.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while receiver.taken().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(receiver.taken().len() >= 2, "{:?}\n{}", receiver.taken(), app.log());
    let texts: Vec<String> = receiver
        .taken()
        .iter()
        .map(|(_, body)| {
            assert_eq!(body["type"], "health", "{body}");
            body["data"]["text"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert!(texts[0].contains("from healthy to failing"), "{texts:?}");
    assert!(texts[1].contains("from failing to healthy"), "{texts:?}");
    Ok(())
}

/// The parts of the hook URLs below that are credentials: none may be shown anywhere.
const HIDDEN: [&str; 4] = ["T0SENT", "slackSecretPath42", "otherSecretPath43", "tokSecret44"];

fn shows_no_credential(what: &str, text: &str) {
    for hidden in HIDDEN {
        assert!(!text.contains(hidden), "{what} shows {hidden}: {text}");
    }
}

/// A Slack hook's URL is a bearer credential (whoever has it posts to the channel), and
/// another receiver's path or query may be one: `check-config`, a configuration error,
/// `/status`, `/api/status`, `sentinel status` and the log show each URL's scheme and host only.
#[test]
fn hook_urls_are_shown_as_scheme_and_host_only() -> anyhow::Result<()> {
    let slack = "https://hooks.slack.com/services/T0SENT/B0SENT/slackSecretPath42";
    let other = "https://ops.example/hooks/otherSecretPath43?token=tokSecret44";
    let urls = format!("{slack}=breach,digest;{other}=health");
    let check = |urls: &str| -> anyhow::Result<(bool, String)> {
        let dir = tempfile::tempdir()?;
        let output = command()
            .arg("check-config")
            .env_clear()
            .env("DB_PATH", dir.path().join("sentinel.db"))
            .env("NOTIFY_WEBHOOK_URLS", urls)
            .env("NOTIFY_WEBHOOK_SECRET", SECRET)
            .output()?;
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        Ok((output.status.success(), text))
    };
    let (ok, shown) = check(&urls)?;
    assert!(ok, "{shown}");
    shows_no_credential("check-config", &shown);
    assert!(
        shown.contains("NOTIFY_WEBHOOK_URLS=https://hooks.slack.com/…=breach,digest;https://ops.example/…=health"),
        "{shown}"
    );
    // A mistake in the list is reported with the URLs masked too.
    let (ok, said) = check(&format!("{slack}=fire;{other}"))?;
    assert!(!ok, "{said}");
    assert!(said.contains("unknown event kind \"fire\""), "{said}");
    shows_no_credential("a configuration error", &said);

    // The running service: a receiver shaped like a Slack hook that fails every delivery.
    let ghl = FakeGhl::start()?;
    let receiver = Receiver::start()?;
    receiver.set(FAIL);
    let hook = format!("http://{}/services/T0SENT/B0SENT/slackSecretPath42", receiver.addr);
    let urls = format!("{hook}=breach;http://{}/hooks/otherSecretPath43?token=tokSecret44=resolved", receiver.addr);
    let app = with_ghl(&ghl)
        .and(&[
            ("MANAGER_CONTACT_IDS", "m1"),
            ("SENTINEL_TEST_NOW", "2026-11-23T15:00:00Z"),
            ("NOTIFY_WEBHOOK_URLS", &urls),
            ("NOTIFY_WEBHOOK_SECRET", SECRET),
        ])
        .start()?;
    text(&app, "c1")?;
    app.set_clock("2026-11-23T17:00:00Z")?;
    app.eventually("open", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 1))?;
    app.set_clock("2026-11-23T17:01:00Z")?;
    app.eventually("a failed delivery logged", || Ok(app.log().contains("webhook not delivered")))?;
    let masked = format!("http://{}/…", receiver.addr);
    let log = app.log();
    shows_no_credential("the log", &log);
    assert!(log.contains(&format!("to={masked}")), "the log says where, masked: {log}");
    let page = app.admin("GET", "/status")?.text;
    shows_no_credential("/status", &page);
    assert!(page.contains(&format!("Notification webhooks: {masked} (breach); {masked} (resolved)")), "{page}");
    let json = app.admin("GET", "/api/status")?.text;
    shows_no_credential("/api/status", &json);
    assert!(json.contains(&format!("{masked} (breach)")), "{json}");
    let output = command()
        .arg("status")
        .env_clear()
        .env("ADMIN_LISTEN_ADDR", &app.admin_addr)
        .env("WEBHOOK_SECRET", crate::harness::SECRET)
        .output()?;
    let screen = String::from_utf8_lossy(&output.stdout);
    shows_no_credential("sentinel status", &screen);
    assert!(screen.contains(&format!("notify:        {masked} (breach)")), "{screen}");
    Ok(())
}

/// `msg_` and a UUIDv7 in its text form: 8-4-4-4-12 lowercase hex digits, version 7, variant 10.
fn is_uuid_v7_id(id: &str) -> bool {
    let Some(uuid) = id.strip_prefix("msg_") else { return false };
    let parts: Vec<&str> = uuid.split('-').collect();
    let lengths: Vec<usize> = parts.iter().map(|part| part.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && uuid.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && parts[2].starts_with('7')
        && "89ab".contains(&parts[3][..1])
}

/// One box: a customer's text, resolved by the manager's `Resolve 1`, told to `receiver`;
/// the first delivery fails and the retry 30 s later is taken. Answers the ids of both.
fn resolution_told_after_a_retry(ghl: &FakeGhl, receiver: &Receiver) -> anyhow::Result<Vec<String>> {
    receiver.set(FAIL);
    let app = start(ghl, receiver)?;
    text(&app, "c1")?;
    let command = json!({ "contact_id": "m1", "message": { "type": "SMS", "body": "Resolve 1" } });
    app.webhook("inbound_sms", &command.to_string())?;
    app.eventually("a failed delivery", || {
        Ok(app.count("SELECT COUNT(*) FROM outbox WHERE channel = 'webhook' AND attempts >= 1")? == 1)
    })?;
    receiver.set(ANSWER);
    app.set_clock("2026-11-23T15:01:00Z")?;
    app.eventually("delivered on the retry", || Ok(receiver.taken().len() == 1))?;
    Ok(receiver.ids())
}

/// Issue 24: the `webhook-id` was the outbox row's number, so after a restore (and on every
/// other box) a new alert went out as `msg_1` again and receivers dropped it as a repeat. It
/// is `msg_` and a UUIDv7 kept with the row: the same on a retry, never the same for another
/// delivery, on this box or another.
#[test]
fn webhook_ids_are_uuids_kept_by_a_retry_and_never_repeated_by_another_box() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let (first, second) = (Receiver::start()?, Receiver::start()?);
    let on_first = resolution_told_after_a_retry(&ghl, &first)?;
    let on_second = resolution_told_after_a_retry(&ghl, &second)?;
    for ids in [&on_first, &on_second] {
        assert_eq!(ids.len(), 2, "a failed attempt and its retry: {ids:?}");
        assert!(is_uuid_v7_id(&ids[0]), "{ids:?}");
        assert_eq!(ids[0], ids[1], "a retry keeps its delivery's id");
    }
    assert_ne!(on_first[0], on_second[0], "two boxes (two databases) never give the same id");
    Ok(())
}
