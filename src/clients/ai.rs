//! The AI client: the only code that talks to the OpenAI-compatible endpoint (SPEC §10).
//!
//! Blocking (ureq + rustls, like the GHL client); the resolver runs it in `spawn_blocking` under
//! its own deadline. One request is `POST {OPENAI_BASE_URL}/responses` (the Responses API, with
//! `store:false` and a JSON schema for the answer). The answer's text is read from `output_text`,
//! from `output[].content[]` parts of type `output_text`, or from a chat-completions
//! `choices[0].message.content`, and then judged by `domain::ai::parse_verdict`. Every failure
//! comes back as an [`AiError`], which the caller counts as "still waiting". The client also
//! keeps the counters that `/metrics` and `/status` show. The key is sent and never logged.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{AiGateConfig, Secret};
use crate::domain::ai::{Verdict, parse_verdict};

/// Why an AI request gave no usable answer. Each one means "still waiting".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AiError {
    /// No `OPENAI_API_KEY` is configured.
    NotConfigured,
    /// No answer within the timeout.
    TimedOut,
    /// The endpoint could not be reached.
    Unreachable(String),
    /// The endpoint answered with a non-2xx status.
    Status(u16, String),
    /// The answer was not what the schema asks for.
    Malformed(String),
    /// The model stopped before finishing (`status: incomplete`, `finish_reason: length`).
    Incomplete(String),
}

impl std::fmt::Display for AiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AiError::NotConfigured => write!(f, "no OPENAI_API_KEY"),
            AiError::TimedOut => write!(f, "no answer in time"),
            AiError::Unreachable(m) => write!(f, "endpoint unreachable: {m}"),
            AiError::Status(status, m) if m.is_empty() => write!(f, "endpoint answered {status}"),
            AiError::Status(status, m) => write!(f, "endpoint answered {status}: {m}"),
            AiError::Malformed(m) => write!(f, "unusable answer: {m}"),
            AiError::Incomplete(m) => write!(f, "incomplete answer: {m}"),
        }
    }
}

impl std::error::Error for AiError {}

/// What became of one due issue's AI check, as counted on `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckResult {
    /// A fresh confident NO: the issue was resolved.
    Suppressed,
    /// A fresh answer that did not suppress: the issue opened.
    Waiting,
    /// The request failed, timed out or gave garbage: the issue opened.
    Failed,
    /// The thread state had a verdict already: no request was made.
    Cached,
    /// Not asked: the run's cap or budget was spent, or the thread had no text.
    Skipped,
}

impl CheckResult {
    /// Every result, in the order `/metrics` lists them.
    pub const ALL: [CheckResult; 5] =
        [CheckResult::Suppressed, CheckResult::Waiting, CheckResult::Failed, CheckResult::Cached, CheckResult::Skipped];

    /// The `result` label.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Suppressed => "suppressed",
            CheckResult::Waiting => "waiting",
            CheckResult::Failed => "failed",
            CheckResult::Cached => "cached",
            CheckResult::Skipped => "skipped",
        }
    }
}

/// What `/status`, `/api/status` and `/metrics` show about the AI check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AiGateStatus {
    /// Whether `AI_GATE_ENABLED=1`.
    pub enabled: bool,
    /// The model asked.
    pub model: String,
    /// Checks since start that resolved their issue.
    pub suppressed: u64,
    /// Checks since start whose answer left the issue to open.
    pub waiting: u64,
    /// Checks since start that failed and left the issue to open.
    pub failed: u64,
    /// Checks since start answered from the cache.
    pub cached: u64,
    /// Checks since start not asked (cap, budget, or no text).
    pub skipped: u64,
    /// Requests sent since start.
    pub requests: u64,
    /// The last failure, in words (never the key, never customer text).
    pub last_error: Option<String>,
    /// When the last check finished, on the service's clock.
    pub last_check_at: Option<Timestamp>,
}

impl AiGateStatus {
    /// Checks with this result since start.
    pub fn count(&self, result: CheckResult) -> u64 {
        match result {
            CheckResult::Suppressed => self.suppressed,
            CheckResult::Waiting => self.waiting,
            CheckResult::Failed => self.failed,
            CheckResult::Cached => self.cached,
            CheckResult::Skipped => self.skipped,
        }
    }

    fn counter(&mut self, result: CheckResult) -> &mut u64 {
        match result {
            CheckResult::Suppressed => &mut self.suppressed,
            CheckResult::Waiting => &mut self.waiting,
            CheckResult::Failed => &mut self.failed,
            CheckResult::Cached => &mut self.cached,
            CheckResult::Skipped => &mut self.skipped,
        }
    }
}

/// Longest answer read, in bytes: a verdict is a few hundred.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

/// The AI client; cheap to clone.
#[derive(Clone)]
pub struct AiClient {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    base_url: String,
    api_key: Option<Secret>,
    model: String,
    max_output_tokens: Option<u32>,
    status: Mutex<AiGateStatus>,
}

impl std::fmt::Debug for AiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiClient").field("base_url", &self.inner.base_url).finish_non_exhaustive()
    }
}

impl AiClient {
    /// A client for the configured endpoint; it sends nothing until asked.
    pub fn new(config: &AiGateConfig) -> AiClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.timeout.min(Duration::from_secs(5))))
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("sentinel/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let status = AiGateStatus { enabled: config.enabled, model: config.model.clone(), ..AiGateStatus::default() };
        AiClient {
            inner: Arc::new(Inner {
                agent,
                base_url: config.base_url.clone(),
                api_key: config.api_key.clone(),
                model: config.model.clone(),
                max_output_tokens: config.max_output_tokens,
                status: Mutex::new(status),
            }),
        }
    }

    /// The model asked.
    pub fn model(&self) -> &str {
        &self.inner.model
    }

    /// Asks whether the customer in `transcript` is still waiting, giving up after `timeout`.
    pub fn classify(&self, transcript: &str, timeout: Duration) -> Result<Verdict, AiError> {
        let Some(key) = &self.inner.api_key else {
            return Err(AiError::NotConfigured);
        };
        let url = format!("{}/responses", self.inner.base_url);
        let body = request_body(&self.inner.model, self.inner.max_output_tokens, transcript);
        self.lock().requests += 1;
        let sent = self
            .inner
            .agent
            .post(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Authorization", &format!("Bearer {}", key.expose()))
            .header("Accept", "application/json")
            .send_json(&body);
        let mut response = sent.map_err(transport_error)?;
        let status = response.status().as_u16();
        let text =
            response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string().map_err(transport_error)?;
        if !(200..=299).contains(&status) {
            return Err(AiError::Status(status, error_message(&text, key)));
        }
        let value: Value = serde_json::from_str(&text)
            .map_err(|_| AiError::Malformed(format!("the body is not JSON ({} bytes)", text.len())))?;
        let answer = answer_text(&value)?;
        parse_verdict(&answer).map_err(AiError::Malformed)
    }

    /// Counts one check's result.
    pub fn count(&self, result: CheckResult, at: Timestamp) {
        let mut status = self.lock();
        *status.counter(result) += 1;
        status.last_check_at = Some(at);
    }

    /// Remembers the last failure for `/status`.
    pub fn note_error(&self, error: &AiError) {
        self.lock().last_error = Some(error.to_string());
    }

    /// The counters for `/status` and `/metrics`.
    pub fn status(&self) -> AiGateStatus {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AiGateStatus> {
        self.inner.status.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn transport_error(err: ureq::Error) -> AiError {
    match err {
        ureq::Error::Timeout(_) => AiError::TimedOut,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => AiError::TimedOut,
        other => AiError::Unreachable(other.to_string()),
    }
}

/// The endpoint's own error text (`error.message`), short, with the key scrubbed should an
/// endpoint echo it.
fn error_message(text: &str, key: &Secret) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let message = parsed.as_ref().and_then(|v| v["error"]["message"].as_str().or(v["message"].as_str()));
    let message: String = message.unwrap_or_default().chars().take(120).collect();
    if key.expose().is_empty() { message } else { message.replace(key.expose(), "****") }
}

/// What the model is told. The bias matches the gate's purpose: it may only suppress, so a
/// doubtful thread must come back YES.
const INSTRUCTIONS: &str = "You read the recent text-message thread between a pool service company and \
one of its customers, and decide whether the company still owes the customer a reply. \
Answer YES when the customer is waiting for an answer, a visit, a price, a time or any action, \
and whenever you are unsure: missing a waiting customer is far worse than a needless reminder. \
Answer NO only when the thread is settled, for example the customer only thanks, confirms or \
says the problem is gone. Quote up to three short pieces of the thread as evidence. \
Reply with JSON that matches the schema and nothing else.";

/// The schema of the answer: `domain::ai::parse_verdict` reads exactly this.
fn answer_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "needs_follow_up": { "type": "string", "enum": ["YES", "NO"] },
            "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
            "evidence": { "type": "array", "items": { "type": "string" }, "minItems": 1, "maxItems": 3 }
        },
        "required": ["needs_follow_up", "confidence", "evidence"]
    })
}

/// The Responses API request: instructions, the transcript, the answer's schema, and
/// `store:false` so the endpoint keeps no copy of the thread; `max_output_tokens` when set
/// (`AI_GATE_MAX_OUTPUT_TOKENS`).
fn request_body(model: &str, max_output_tokens: Option<u32>, transcript: &str) -> Value {
    let user = format!(
        "[CUSTOMER] lines are the customer's texts; [INTERNAL] lines are the company's. \
         Phone numbers, e-mails and links may be masked.\n\nThread, oldest first:\n{transcript}"
    );
    let mut body = json!({
        "model": model,
        "input": [
            { "role": "system", "content": INSTRUCTIONS },
            { "role": "user", "content": user }
        ],
        "text": { "format": { "type": "json_schema", "name": "follow_up_check", "schema": answer_schema() } },
        "store": false
    });
    if let Some(tokens) = max_output_tokens {
        body["max_output_tokens"] = json!(tokens);
    }
    body
}

/// The model's answer text in a Responses API body (`output_text`, else the first
/// `output[].content[]` part of type `output_text`) or a chat-completions body
/// (`choices[0].message.content`). An unfinished response is an error, whatever it holds.
pub fn answer_text(body: &Value) -> Result<String, AiError> {
    if let Some(status @ ("incomplete" | "failed" | "cancelled")) = body["status"].as_str() {
        let reason = body["incomplete_details"]["reason"].as_str().or(body["error"]["message"].as_str());
        return Err(AiError::Incomplete(format!("{status} ({})", reason.unwrap_or("no reason given"))));
    }
    let usable = |value: &Value| value.as_str().map(str::trim).filter(|text| !text.is_empty()).map(str::to_string);
    if let Some(text) = usable(&body["output_text"]) {
        return Ok(text);
    }
    let parts = body["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"].as_str().is_none_or(|kind| kind == "message"))
        .flat_map(|item| item["content"].as_array().into_iter().flatten());
    for part in parts {
        if part["type"] == "output_text"
            && let Some(text) = usable(&part["text"])
        {
            return Ok(text);
        }
    }
    let choice = &body["choices"][0];
    if choice["finish_reason"] == "length" {
        return Err(AiError::Incomplete("finish_reason length".to_string()));
    }
    usable(&choice["message"]["content"])
        .ok_or_else(|| AiError::Malformed("no output text in the response".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERDICT: &str = r#"{"needs_follow_up":"NO","confidence":0.97,"evidence":["thanks, all good"]}"#;

    #[test]
    fn every_documented_answer_shape_is_read() -> Result<(), AiError> {
        let shapes = [
            json!({ "status": "completed", "output_text": VERDICT }),
            json!({ "status": "completed", "output": [
                { "type": "reasoning", "content": [] },
                { "type": "message", "role": "assistant", "content": [
                    { "type": "refusal", "refusal": "no" },
                    { "type": "output_text", "text": VERDICT, "annotations": [] }
                ] }
            ] }),
            json!({ "choices": [{ "index": 0, "finish_reason": "stop", "message": { "role": "assistant", "content": VERDICT } }] }),
        ];
        for shape in shapes {
            assert_eq!(answer_text(&shape)?, VERDICT, "{shape}");
        }
        Ok(())
    }

    #[test]
    fn unfinished_or_empty_answers_are_errors() {
        let bad = [
            json!({ "status": "incomplete", "incomplete_details": { "reason": "max_output_tokens" }, "output_text": "{\"needs" }),
            json!({ "status": "failed", "error": { "message": "server_error" } }),
            json!({ "status": "completed", "output": [] }),
            json!({ "status": "completed", "output_text": "   " }),
            json!({ "choices": [{ "finish_reason": "length", "message": { "content": VERDICT } }] }),
            json!({ "choices": [] }),
            json!([1, 2, 3]),
            json!("NO"),
        ];
        for body in &bad {
            assert!(answer_text(body).is_err(), "{body} was accepted");
        }
        let incomplete = answer_text(&bad[0]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(incomplete.contains("max_output_tokens"), "{incomplete}");
    }

    #[test]
    fn the_request_asks_for_the_schema_and_no_storage() {
        let body = request_body("gpt-4o-mini", None, "[CUSTOMER] thanks!");
        assert_eq!(body["model"], "gpt-4o-mini");
        assert!(body.get("max_output_tokens").is_none(), "no limit unless AI_GATE_MAX_OUTPUT_TOKENS is set");
        assert_eq!(request_body("gpt-5-mini", Some(220), "")["max_output_tokens"], 220);
        assert_eq!(body["store"], false);
        assert_eq!(body["input"][0]["role"], "system");
        assert_eq!(body["input"][1]["role"], "user");
        assert!(body["input"][1]["content"].as_str().is_some_and(|text| text.ends_with("[CUSTOMER] thanks!")));
        assert_eq!(body["text"]["format"]["type"], "json_schema");
        assert_eq!(body["text"]["format"]["schema"]["required"], json!(["needs_follow_up", "confidence", "evidence"]));
    }

    #[test]
    fn an_echoed_key_is_scrubbed_from_errors() {
        let key = Secret::new("sk-test-0123456789abcdef");
        let text = r#"{"error":{"message":"Incorrect API key provided: sk-test-0123456789abcdef"}}"#;
        assert_eq!(error_message(text, &key), "Incorrect API key provided: ****");
        assert_eq!(error_message("<html>", &key), "");
    }

    #[test]
    fn no_key_means_no_request() {
        let config = AiGateConfig {
            enabled: false,
            api_key: None,
            base_url: "http://127.0.0.1:9".into(),
            model: "m".into(),
            suppress_no_confidence: 0.9,
            max_messages: 10,
            gap: jiff::SignedDuration::from_hours(4),
            max_per_run: 20,
            run_budget: Duration::from_secs(20),
            timeout: Duration::from_secs(1),
            redaction: crate::domain::ai::Redaction::Mask,
            max_output_tokens: None,
        };
        let client = AiClient::new(&config);
        assert_eq!(client.classify("[CUSTOMER] hi", Duration::from_secs(1)), Err(AiError::NotConfigured));
        assert_eq!(client.status().requests, 0);
    }
}
