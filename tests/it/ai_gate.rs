//! The optional AI check (SPEC §10) against a fake OpenAI-compatible endpoint on 127.0.0.1:
//! only a confident NO resolves a due text; every other answer, failure, stall or garbage
//! leaves it to open and alert managers as without the check. Customer contact details are
//! masked before sending, a thread state is sent once, the gate is off by default, and each
//! run is capped in requests and in time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tiny_http::{Header, Response, Server};

use crate::fake_ghl::FakeGhl;
use crate::harness::{Sentinel, metric, with_ghl};

/// Monday 2026-03-02 09:00 CST; texts are due at 11:00 CST (17:00Z).
const MONDAY_9AM: &str = "2026-03-02T15:00:00Z";
const DUE: &str = "2026-03-02T17:00:00Z";
const KEY: &str = "sk-test-ai-gate-0123456789";

/// One request the fake endpoint received.
#[derive(Debug, Clone)]
struct AiRequest {
    method: String,
    path: String,
    authorization: Option<String>,
    body: String,
}

/// A fake OpenAI-compatible endpoint. It answers by the marker found in the thread it is
/// sent (`#confident`, `#chatshape`, `#yes`, `#unsure`, `#fail`, `#stall`, `#garbage`,
/// `#fieldless`, `#incomplete`; YES otherwise), records every request, and stops on drop.
struct FakeAi {
    url: String,
    server: Arc<Server>,
    requests: Arc<Mutex<Vec<AiRequest>>>,
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

/// How long `#stall` holds its answer: longer than any timeout the tests set.
const STALL: Duration = Duration::from_secs(5);

impl FakeAi {
    fn start() -> anyhow::Result<FakeAi> {
        let server = Arc::new(Server::http("127.0.0.1:0").map_err(|e| anyhow::format_err!("{e}"))?);
        let url = format!("http://{}/v1", server.server_addr().to_ip().map(|a| a.to_string()).unwrap_or_default());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let workers = (0..4)
            .map(|_| {
                let (server, requests, stopping) = (server.clone(), requests.clone(), stopping.clone());
                std::thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        serve(request, &requests, &stopping);
                    }
                })
            })
            .collect();
        Ok(FakeAi { url, server, requests, stopping, workers })
    }

    fn requests(&self) -> Vec<AiRequest> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for FakeAi {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn verdict(answer: &str, confidence: f64) -> String {
    json!({ "needs_follow_up": answer, "confidence": confidence, "evidence": ["the customer says it is sorted"] })
        .to_string()
}

fn serve(mut request: tiny_http::Request, requests: &Mutex<Vec<AiRequest>>, stopping: &AtomicBool) {
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let authorization =
        request.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.as_str().to_string());
    let recorded = AiRequest {
        method: request.method().as_str().to_string(),
        path: request.url().to_string(),
        authorization,
        body: body.clone(),
    };
    requests.lock().unwrap_or_else(PoisonError::into_inner).push(recorded);
    let no = verdict("NO", 0.96);
    let (status, answer) = if body.contains("#chatshape") {
        (
            200,
            json!({ "choices": [{ "index": 0, "finish_reason": "stop", "message": { "role": "assistant", "content": no } }] }),
        )
    } else if body.contains("#confident") {
        (
            200,
            json!({ "id": "resp_1", "object": "response", "status": "completed", "output": [
                { "type": "reasoning", "summary": [] },
                { "type": "message", "role": "assistant", "content": [{ "type": "output_text", "text": no, "annotations": [] }] }
            ] }),
        )
    } else if body.contains("#unsure") {
        (200, json!({ "status": "completed", "output_text": verdict("NO", 0.6) }))
    } else if body.contains("#fail") {
        (500, json!({ "error": { "message": "The server had an error", "type": "server_error" } }))
    } else if body.contains("#stall") {
        // Hold the answer (a confident NO, which must then count for nothing).
        let until = Instant::now() + STALL;
        while Instant::now() < until && !stopping.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        (200, json!({ "status": "completed", "output_text": no }))
    } else if body.contains("#garbage") {
        let _ = request.respond(Response::from_string("<html>502 Bad Gateway</html>").with_status_code(200));
        return;
    } else if body.contains("#fieldless") {
        (200, json!({ "id": "resp_2", "object": "response", "status": "completed", "model": "gpt-4o-mini" }))
    } else if body.contains("#incomplete") {
        (
            200,
            json!({ "status": "incomplete", "incomplete_details": { "reason": "max_output_tokens" }, "output_text": no }),
        )
    } else {
        (200, json!({ "status": "completed", "output_text": verdict("YES", 0.9) }))
    };
    let content_type = Header::from_bytes("Content-Type", "application/json").ok();
    let mut response = Response::from_string(answer.to_string()).with_status_code(status);
    if let Some(header) = content_type {
        response = response.with_header(header);
    }
    let _ = request.respond(response);
}

fn start(ghl: &FakeGhl, ai: &FakeAi, extra: &[(&str, &str)]) -> anyhow::Result<Sentinel> {
    with_ghl(ghl)
        .and(&[
            ("MANAGER_CONTACT_IDS", "m1"),
            ("SENTINEL_TEST_NOW", MONDAY_9AM),
            ("AI_GATE_ENABLED", "1"),
            ("OPENAI_API_KEY", KEY),
            ("OPENAI_BASE_URL", ai.url.as_str()),
            ("AI_GATE_TIMEOUT_SECONDS", "0.5"),
        ])
        .and(extra)
        .start()
}

/// A customer's text: in GHL's conversation (as GHL records it, a moment before the webhook
/// arrives) and as the webhook that opens the issue.
fn customer_text(app: &Sentinel, ghl: &FakeGhl, conversation: &str, at: &str, text: &str) -> anyhow::Result<i64> {
    let contact = format!("contact-{conversation}");
    ghl.add_message(
        conversation,
        &contact,
        json!({ "direction": "inbound", "messageType": "TYPE_SMS", "dateAdded": at, "body": text }),
    );
    webhook_only(app, conversation, text)
}

/// The webhook alone, as a late redelivery of a text GHL already shows.
fn webhook_only(app: &Sentinel, conversation: &str, text: &str) -> anyhow::Result<i64> {
    let body = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": conversation,
        "contactId": format!("contact-{conversation}"), "messageType": "SMS", "direction": "inbound", "body": text,
        "contactName": format!("Customer {conversation}") });
    let answer = app.webhook("", &body.to_string())?;
    answer.json["issue_id"].as_i64().ok_or_else(|| anyhow::format_err!("no issue: {answer:?}"))
}

fn status_of(app: &Sentinel, id: i64) -> anyhow::Result<(String, Option<String>)> {
    Ok(app
        .db()?
        .query_row("SELECT status, resolved_by FROM issues WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

fn timeline(app: &Sentinel, id: i64, event: &str) -> anyhow::Result<String> {
    Ok(app.db()?.query_row(
        "SELECT detail FROM timeline WHERE issue_id = ?1 AND event = ?2",
        rusqlite::params![id, event],
        |r| r.get(0),
    )?)
}

fn settle(app: &Sentinel, at: &str) -> anyhow::Result<()> {
    app.set_clock(at)?;
    app.eventually("every due text settles", || {
        Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'PENDING'")? == 0)
    })
}

fn alerts(ghl: &FakeGhl) -> Vec<String> {
    ghl.sends()
        .iter()
        .filter_map(|send| send["message"].as_str().map(str::to_string))
        .filter(|message| message.contains("SLA Breach Alert"))
        .collect()
}

#[test]
fn only_a_confident_no_resolves_and_everything_else_opens_and_alerts() -> anyhow::Result<()> {
    let (ghl, ai) = (FakeGhl::start()?, FakeAi::start()?);
    let app = start(&ghl, &ai, &[])?;
    let cases = [
        ("confident", "#confident all good now, thanks so much"),
        ("chatshape", "#chatshape all sorted, thank you"),
        ("yes", "#yes when is the tech coming?"),
        ("unsure", "#unsure ok I guess"),
        ("fail", "#fail the heater is off"),
        ("stall", "#stall water is green"),
        ("garbage", "#garbage pump noise"),
        ("fieldless", "#fieldless filter question"),
        ("incomplete", "#incomplete all fine now thanks"),
    ];
    let mut ids = Vec::new();
    for (conversation, text) in cases {
        ids.push((conversation, customer_text(&app, &ghl, conversation, "2026-03-02T14:59:58Z", text)?));
    }
    settle(&app, DUE)?;

    for (conversation, id) in &ids {
        let (status, resolved_by) = status_of(&app, *id)?;
        if ["confident", "chatshape"].contains(conversation) {
            assert_eq!((status.as_str(), resolved_by.as_deref()), ("RESOLVED", Some("ai")), "{conversation}");
            let detail = timeline(&app, *id, "resolved")?;
            assert!(detail.contains("not waiting") && detail.contains("the customer says it is sorted"), "{detail}");
        } else {
            assert_eq!((status.as_str(), resolved_by), ("OPEN", None), "{conversation}");
            let detail = timeline(&app, *id, "opened")?;
            assert!(detail.starts_with("response target passed without a staff reply; AI check"), "{detail}");
        }
    }
    // Managers hear about every text that opened, as without the check, and only those.
    app.eventually("the breach heard", || Ok(app.log().contains("alert bundled")))?;
    app.set_clock("2026-03-02T17:01:00Z")?;
    app.eventually("the breach alert is sent", || Ok(!alerts(&ghl).is_empty()))?;
    let alert = alerts(&ghl).join("\n");
    for (conversation, id) in &ids {
        let listed = alert.contains(&format!("#{id} Customer {conversation}"));
        assert_eq!(listed, !["confident", "chatshape"].contains(conversation), "{conversation}: {alert}");
    }

    let requests = ai.requests();
    assert_eq!(requests.len(), cases.len(), "one request per due text");
    for request in &requests {
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v1/responses"));
        assert_eq!(request.authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
        let body: Value = serde_json::from_str(&request.body)?;
        assert_eq!((body["model"].as_str(), body["store"].as_bool()), (Some("gpt-4o-mini"), Some(false)), "{body}");
        assert_eq!(body["text"]["format"]["type"], "json_schema");
        assert_eq!(body["input"][0]["role"], "system");
    }

    let metrics = app.admin("GET", "/metrics")?.text;
    for (result, count) in [("suppressed", 2), ("waiting", 2), ("failed", 5), ("cached", 0)] {
        let series = format!("sentinel_ai_gate_checks_total{{result=\"{result}\"}}");
        assert_eq!(metric(&metrics, &series), Some(count.to_string().as_str()), "{series}{metrics}");
    }
    let page = app.admin("GET", "/status")?.text;
    assert!(page.contains("AI check: on (gpt-4o-mini): 2 resolved, 2 still waiting, 5 failed"), "{page}");
    assert!(!app.log().contains(KEY) && !page.contains(KEY) && !metrics.contains(KEY), "the key is never shown");
    Ok(())
}

#[test]
fn phones_emails_and_links_never_leave_the_appliance() -> anyhow::Result<()> {
    let (ghl, ai) = (FakeGhl::start()?, FakeAi::start()?);
    let app = start(&ghl, &ai, &[])?;
    ghl.add_message(
        "conv1",
        "contact-conv1",
        json!({ "direction": "outbound", "messageType": "TYPE_SMS", "userId": "u1", "source": "app",
            "dateAdded": "2026-03-02T14:40:00Z", "body": "Pay at https://pay.example.com/inv/77 or call 972-555-0123" }),
    );
    customer_text(
        &app,
        &ghl,
        "conv1",
        "2026-03-02T14:59:58Z",
        "#yes call me on (214) 555-0199 or +1 469 555 0142, or mail pat.doe@example.org. Photo: www.imgur.com/a/xyz",
    )?;
    settle(&app, DUE)?;
    let requests = ai.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0].body;
    for secret in
        ["214", "555-0199", "469 555", "pat.doe", "example.org", "imgur", "pay.example.com", "972-555", "https://"]
    {
        assert!(!sent.contains(secret), "{secret:?} was sent: {sent}");
    }
    let body: Value = serde_json::from_str(sent)?;
    let user = body["input"][1]["content"].as_str().unwrap_or_default();
    assert!(user.contains("[INTERNAL] Pay at [URL] or call [PHONE]"), "{user}");
    assert!(user.contains("[CUSTOMER] #yes call me on [PHONE] or [PHONE], or mail [EMAIL]. Photo: [URL]"), "{user}");
    Ok(())
}

#[test]
fn a_thread_state_is_sent_once_and_a_new_message_is_sent_again() -> anyhow::Result<()> {
    let (ghl, ai) = (FakeGhl::start()?, FakeAi::start()?);
    let app = start(&ghl, &ai, &[])?;
    let text = "#confident all good now, thanks";
    let first = customer_text(&app, &ghl, "conv1", "2026-03-02T14:59:58Z", text)?;
    settle(&app, DUE)?;
    assert_eq!(status_of(&app, first)?.1.as_deref(), Some("ai"));
    assert_eq!(ai.requests().len(), 1);

    // GHL redelivers the same webhook late: a second issue on the same thread state.
    app.set_clock("2026-03-02T17:10:00Z")?;
    let again = webhook_only(&app, "conv1", text)?;
    assert_ne!(again, first);
    settle(&app, "2026-03-02T19:10:00Z")?;
    assert_eq!(status_of(&app, again)?.1.as_deref(), Some("ai"), "the cached verdict decides");
    assert!(timeline(&app, again, "resolved")?.contains("(cached)"));
    assert_eq!(ai.requests().len(), 1, "the same thread state is never sent twice");

    // A new message is a new thread state, and is asked about.
    app.set_clock("2026-03-02T19:30:00Z")?;
    let newer = customer_text(&app, &ghl, "conv1", "2026-03-02T19:29:58Z", "#yes actually, the pump is leaking")?;
    settle(&app, "2026-03-02T21:30:00Z")?;
    assert_eq!(status_of(&app, newer)?, ("OPEN".to_string(), None));
    assert_eq!(ai.requests().len(), 2);
    let metrics = app.admin("GET", "/metrics")?.text;
    assert_eq!(metric(&metrics, "sentinel_ai_gate_checks_total{result=\"cached\"}"), Some("1"), "{metrics}");
    Ok(())
}

#[test]
fn with_the_gate_off_by_default_nothing_is_sent() -> anyhow::Result<()> {
    let (ghl, ai) = (FakeGhl::start()?, FakeAi::start()?);
    // The original's .env.example: the gate off, the key empty.
    let app = start(&ghl, &ai, &[("AI_GATE_ENABLED", ""), ("OPENAI_API_KEY", "")])?;
    let id = customer_text(&app, &ghl, "conv1", "2026-03-02T14:59:58Z", "#confident all good, thanks")?;
    settle(&app, DUE)?;
    assert_eq!(status_of(&app, id)?, ("OPEN".to_string(), None));
    assert!(ai.requests().is_empty(), "{:?}", ai.requests());
    assert_eq!(metric(&app.admin("GET", "/metrics")?.text, "sentinel_ai_gate_enabled"), Some("0"));
    assert!(app.admin("GET", "/status")?.text.contains("AI check: off"));
    Ok(())
}

#[test]
fn each_run_makes_at_most_the_configured_number_of_requests() -> anyhow::Result<()> {
    let (ghl, ai) = (FakeGhl::start()?, FakeAi::start()?);
    // The older name of the cap still works.
    let app = start(&ghl, &ai, &[("AI_GATE_MAX_PER_RUN", "2")])?;
    let mut ids = Vec::new();
    for index in 0..4 {
        ids.push(customer_text(&app, &ghl, &format!("conv{index}"), "2026-03-02T14:59:58Z", "#confident all good")?);
    }
    settle(&app, DUE)?;
    assert_eq!(ai.requests().len(), 2);
    let statuses: Vec<(String, Option<String>)> =
        ids.iter().map(|id| status_of(&app, *id)).collect::<Result<_, _>>()?;
    let resolved = statuses.iter().filter(|(_, by)| by.as_deref() == Some("ai")).count();
    let opened = statuses.iter().filter(|(status, _)| status == "OPEN").count();
    assert_eq!((resolved, opened), (2, 2), "{statuses:?}");
    let metrics = app.admin("GET", "/metrics")?.text;
    assert_eq!(metric(&metrics, "sentinel_ai_gate_checks_total{result=\"skipped\"}"), Some("2"), "{metrics}");
    Ok(())
}

#[test]
fn a_stalling_endpoint_is_bounded_by_the_run_budget_and_never_delays_webhooks() -> anyhow::Result<()> {
    let (ghl, ai) = (FakeGhl::start()?, FakeAi::start()?);
    let app = start(&ghl, &ai, &[("AI_GATE_TIMEOUT_SECONDS", "1"), ("AI_GATE_RUN_BUDGET_SECONDS", "1.5")])?;
    let mut ids = Vec::new();
    for index in 0..4 {
        ids.push(customer_text(&app, &ghl, &format!("conv{index}"), "2026-03-02T14:59:58Z", "#stall hello?")?);
    }
    let started = Instant::now();
    app.set_clock(DUE)?;
    // While the endpoint stalls, webhooks are answered as fast as ever.
    app.eventually("the first request arrives", || Ok(!ai.requests().is_empty()))?;
    let sent = Instant::now();
    let late = customer_text(&app, &ghl, "late", "2026-03-02T16:59:58Z", "another question")?;
    assert!(sent.elapsed() < Duration::from_millis(500), "a webhook waited {:?}", sent.elapsed());
    assert_eq!(status_of(&app, late)?.0, "PENDING");
    app.eventually("every due text settles", || {
        Ok(ids.iter().all(|id| status_of(&app, *id).is_ok_and(|(status, _)| status == "OPEN")))
    })?;
    assert!(started.elapsed() < Duration::from_secs(5), "the run took {:?}", started.elapsed());
    assert_eq!(ai.requests().len(), 2, "one full timeout, one cut to the budget left, then none");
    let metrics = app.admin("GET", "/metrics")?.text;
    assert_eq!(metric(&metrics, "sentinel_ai_gate_checks_total{result=\"failed\"}"), Some("2"), "{metrics}");
    assert_eq!(metric(&metrics, "sentinel_ai_gate_checks_total{result=\"skipped\"}"), Some("2"), "{metrics}");
    Ok(())
}
