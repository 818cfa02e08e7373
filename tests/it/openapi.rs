//! GHL's published OpenAPI as a judge of the fake GHL's traffic (issue 13 part 5).
//!
//! `tests/fixtures/ghl-openapi/` keeps the operations the client calls, as GHL publishes them.
//! [`check`] reads every request the fake recorded against its operation (method and path,
//! required headers and query parameters, parameter values, the bearer token, the body's
//! schema) and every answer against the response schema published for its status. It reads
//! the subset of OpenAPI 3.0 those files use (`$ref`, `type`, `properties`, `required`,
//! `items`, `enum`, `nullable`) and reports any other schema keyword rather than skip it.
//!
//! It is stricter than the spec in one way: a field the schema does not name is a violation.
//! Where live GHL differs from its spec (`ghl/CONTRACT.md`), the fake may imitate it, but only
//! as a named [`Deviation`], allowed in live mode, refused in published-only mode, and counted.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::{Fault, Recorded};

/// What the checker accepts besides the published spec.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    /// Live GHL's documented differences from its spec ([`Deviation`]s other than the version).
    pub live_deviations: bool,
    /// A `Version` the test set with `GHL_VERSION`.
    pub version_override: Option<String>,
}

/// A documented way in which live GHL, and so the fake, differs from the published spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Deviation {
    /// The messages page at the top level instead of nested in `messages` (CONTRACT §3.3).
    FlatMessagesPage,
    /// Call details in `meta.call.status`/`meta.call.duration` (CONTRACT §3.3).
    MetaCall,
    /// `lastMessageDate`/`lastMessageDirection` on search results (CONTRACT §3.1).
    SearchLastMessage,
    /// `contactName` on a contact (CONTRACT §4.1).
    ContactName,
    /// An error status the operation does not list, in GHL's generic error shape (CONTRACT
    /// §5.2); allowed in both modes, since GHL answers them whatever its spec lists.
    UnlistedErrorStatus,
    /// `GHL_VERSION` overrides the documented `Version`.
    VersionOverride,
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Deviation::FlatMessagesPage => "messages page at the top level (CONTRACT §3.3)",
            Deviation::MetaCall => "meta.call.* call details (CONTRACT §3.3)",
            Deviation::SearchLastMessage => "lastMessageDate/lastMessageDirection in search results (CONTRACT §3.1)",
            Deviation::ContactName => "contactName on a contact (CONTRACT §4.1)",
            Deviation::UnlistedErrorStatus => "an error status the operation does not list (CONTRACT §5.2)",
            Deviation::VersionOverride => "GHL_VERSION instead of the documented Version",
        })
    }
}

/// What the check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Each way the traffic broke the published contract.
    pub violations: Vec<String>,
    /// How often each allowed deviation occurred.
    pub deviations: BTreeMap<Deviation, usize>,
    /// Requests checked.
    pub requests: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} requests, {} violations", self.requests, self.violations.len())?;
        for violation in self.violations.iter().take(20) {
            writeln!(f, "  - {violation}")?;
        }
        if self.violations.len() > 20 {
            writeln!(f, "  ... and {} more", self.violations.len() - 20)?;
        }
        for (deviation, count) in &self.deviations {
            writeln!(f, "  allowed {count}x: {deviation}")?;
        }
        Ok(())
    }
}

/// GHL's rate-limit headers (CONTRACT §5.1, from GHL's rate-limit page; not in the OpenAPI).
pub const RATE_LIMIT_HEADERS: [&str; 5] = [
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
];

/// Checks every recorded request and answer.
pub fn check(records: &[Recorded], allowed: &Allowed) -> Report {
    let mut report = Report { requests: records.len(), ..Report::default() };
    let spec = match spec() {
        Ok(spec) => spec,
        Err(err) => {
            report.violations.push(format!("the OpenAPI fixtures cannot be read: {err}"));
            return report;
        }
    };
    for record in records {
        let mut checker =
            Checker { spec, allowed, report: &mut report, at: format!("{} {}", record.method, record.path) };
        checker.exchange(record);
    }
    report
}

/// The fixture files, by the name `$ref`s use for them.
struct Spec {
    docs: BTreeMap<&'static str, Value>,
}

/// The file an operation's own `#/...` references resolve in, and the operation.
struct Operation<'a> {
    doc: &'static str,
    op: &'a Value,
    path_params: Vec<(String, String)>,
}

fn spec() -> Result<&'static Spec, String> {
    static SPEC: OnceLock<Result<Spec, String>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ghl-openapi");
        let mut docs = BTreeMap::new();
        for name in ["conversations.json", "contacts.json", "common-schemas.json"] {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
            let doc: Value = serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?;
            docs.insert(name, doc);
        }
        Ok(Spec { docs })
    })
    .as_ref()
    .map_err(Clone::clone)
}

impl Spec {
    /// The operation for a method and a concrete path, with the path parameters' values.
    fn operation(&self, method: &str, path: &str) -> Option<Operation<'_>> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        for doc in ["conversations.json", "contacts.json"] {
            let paths = self.docs.get(doc)?["paths"].as_object()?;
            for (template, item) in paths {
                let pattern: Vec<&str> = template.trim_matches('/').split('/').collect();
                if pattern.len() != segments.len() {
                    continue;
                }
                let mut params = Vec::new();
                let matches = pattern.iter().zip(&segments).all(|(pattern, segment)| {
                    match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        Some(name) => {
                            params.push((name.to_string(), segment.to_string()));
                            true
                        }
                        None => pattern == segment,
                    }
                });
                let op = &item[method.to_ascii_lowercase()];
                if matches && op.is_object() {
                    return Some(Operation { doc, op, path_params: params });
                }
            }
        }
        None
    }

    /// Follows a `$ref` from `doc`: `#/components/...` in the same file, or
    /// `../common/common-schemas.json#/...`. Returns the file, the schema and its name.
    fn resolve<'a>(&'a self, doc: &'static str, reference: &str) -> Option<(&'static str, &'a Value, String)> {
        let (file, pointer) = reference.split_once('#')?;
        let file: &'static str = match file {
            "" => doc,
            "../common/common-schemas.json" => "common-schemas.json",
            _ => return None,
        };
        let target = self.docs.get(file)?.pointer(pointer)?;
        let name = pointer.rsplit('/').next().unwrap_or_default().to_string();
        Some((file, target, name))
    }
}

struct Checker<'a> {
    spec: &'static Spec,
    allowed: &'a Allowed,
    report: &'a mut Report,
    /// `METHOD /path` of the exchange, for messages.
    at: String,
}

impl Checker<'_> {
    fn violation(&mut self, what: String) {
        let message = format!("{}: {what}", self.at);
        if !self.report.violations.contains(&message) {
            self.report.violations.push(message);
        }
    }

    /// Notes a deviation, or a violation when it is not allowed.
    fn deviation(&mut self, deviation: Deviation, what: &str) -> bool {
        let allowed = match deviation {
            Deviation::UnlistedErrorStatus => true,
            Deviation::VersionOverride => self.allowed.version_override.is_some(),
            _ => self.allowed.live_deviations,
        };
        if allowed {
            *self.report.deviations.entry(deviation).or_default() += 1;
        } else {
            self.violation(format!("{what}: {deviation}, which the published spec does not allow here"));
        }
        allowed
    }

    fn exchange(&mut self, record: &Recorded) {
        let Some(operation) = self.spec.operation(&record.method, &record.path) else {
            self.violation("no such operation in GHL's published OpenAPI (tests/fixtures/ghl-openapi)".to_string());
            return;
        };
        self.request(&operation, record);
        if let Some(answer) = &record.answer {
            self.answer(&operation, answer);
        }
    }

    // === the request ===

    fn request(&mut self, operation: &Operation, record: &Recorded) {
        let header = |name: &str| {
            record.headers.iter().find(|(field, _)| field.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
        };
        let query: Vec<(String, String)> = form_urlencoded::parse(record.query.as_bytes()).into_owned().collect();
        let params = operation.op["parameters"].as_array().cloned().unwrap_or_default();
        for param in &params {
            let name = param["name"].as_str().unwrap_or_default();
            let required = param["required"].as_bool().unwrap_or(false);
            let value = match param["in"].as_str() {
                Some("header") => header(name).map(str::to_string),
                Some("query") => query.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()),
                Some("path") => operation.path_params.iter().find(|(key, _)| key == name).map(|(_, v)| v.clone()),
                other => {
                    self.violation(format!("parameter {name} in {other:?}: the checker does not know that place"));
                    continue;
                }
            };
            match value.filter(|value| !value.is_empty()) {
                Some(value) => self.parameter(operation.doc, param, name, &value),
                None if required => {
                    self.violation(format!(
                        "required {} parameter {name} is missing",
                        param["in"].as_str().unwrap_or("?")
                    ));
                }
                None => {}
            }
        }
        for (key, _) in &query {
            let documented = params.iter().any(|p| p["in"] == "query" && p["name"] == key.as_str());
            if !documented {
                self.violation(format!("query parameter {key} is not documented for this operation"));
            }
        }
        let bearer = operation.op["security"]
            .as_array()
            .is_some_and(|schemes| schemes.iter().any(|scheme| scheme.get("bearer").is_some()));
        let token = header("Authorization").and_then(|auth| auth.strip_prefix("Bearer ")).map(str::trim);
        if bearer && token.is_none_or(str::is_empty) {
            self.violation("the bearer token (Authorization: Bearer ...) is missing".to_string());
        }
        let body_spec = &operation.op["requestBody"];
        if body_spec.is_null() {
            if !record.body.is_empty() {
                self.violation("a body was sent to an operation that takes none".to_string());
            }
            return;
        }
        if record.body.is_empty() {
            if body_spec["required"].as_bool().unwrap_or(false) {
                self.violation("the required request body is missing".to_string());
            }
            return;
        }
        if !header("Content-Type").is_some_and(|kind| kind.starts_with("application/json")) {
            self.violation(format!("request body sent as {:?}, not application/json", header("Content-Type")));
        }
        let schema = &body_spec["content"]["application/json"]["schema"];
        match serde_json::from_str::<Value>(&record.body) {
            Ok(body) => self.value(operation.doc, schema, &body, "body", None),
            Err(err) => self.violation(format!("the request body is not JSON: {err}")),
        }
    }

    /// A parameter's value (always text on the wire) against its schema.
    fn parameter(&mut self, doc: &'static str, param: &Value, name: &str, value: &str) {
        let schema = &param["schema"];
        if let Some(choices) = schema["enum"].as_array()
            && !choices.iter().any(|choice| choice.as_str() == Some(value))
        {
            if name == "Version" && self.allowed.version_override.as_deref() == Some(value) {
                self.deviation(Deviation::VersionOverride, "Version");
                return;
            }
            self.violation(format!("{name}={value:?} is not one of {}", Value::Array(choices.clone())));
            return;
        }
        match schema["type"].as_str() {
            Some("number") if value.parse::<f64>().is_err() => {
                self.violation(format!("{name}={value:?} is not a number"));
            }
            Some("string" | "number" | "any") => {}
            other => self.violation(format!("{name}: the checker does not know parameter type {other:?} ({doc})")),
        }
    }

    // === the answer ===

    fn answer(&mut self, operation: &Operation, answer: &super::Answered) {
        for name in RATE_LIMIT_HEADERS {
            let value = answer.headers.iter().find(|(field, _)| field.eq_ignore_ascii_case(name));
            let number = value.and_then(|(_, value)| value.parse::<u64>().ok());
            if number.is_none() {
                self.violation(format!("answer {} lacks a numeric {name} header", answer.status));
            }
        }
        if answer.headers.iter().any(|(field, _)| field.eq_ignore_ascii_case("Retry-After")) {
            self.violation("the answer carries Retry-After, which GHL does not document".to_string());
        }
        if answer.fault == Some(Fault::Garbage) {
            // A deliberate non-JSON answer: a test instrument, not a claim about GHL's shapes.
            return;
        }
        let status = answer.status.to_string();
        let documented = &operation.op["responses"][&status];
        if documented.is_null() {
            if answer.status >= 400 {
                self.deviation(Deviation::UnlistedErrorStatus, &format!("status {status}"));
                let generic = json!({ "type": "object", "properties": {
                    "statusCode": { "type": "number" }, "message": {}, "error": { "type": "string" } } });
                match serde_json::from_str::<Value>(&answer.body) {
                    Ok(body) => {
                        self.value(operation.doc, &generic, &body, "answer", None);
                        let message_ok = body["message"].is_string()
                            || body["message"].as_array().is_some_and(|m| m.iter().all(Value::is_string));
                        if !body["statusCode"].is_number() || !message_ok {
                            self.violation(format!("error {status} is not GHL's {{statusCode, message}}: {body}"));
                        }
                    }
                    Err(err) => self.violation(format!("error {status} is not JSON: {err}")),
                }
            } else {
                let listed: Vec<&String> =
                    operation.op["responses"].as_object().map(|r| r.keys().collect()).unwrap_or_default();
                self.violation(format!("status {status} is not documented (the spec lists {listed:?})"));
            }
            return;
        }
        let schema = &documented["content"]["application/json"]["schema"];
        if schema.is_null() {
            return;
        }
        let body: Value = match serde_json::from_str(&answer.body) {
            Ok(body) => body,
            Err(err) => {
                self.violation(format!("answer {status} is not JSON: {err}"));
                return;
            }
        };
        // The flat messages page: live GHL's and other spec versions' shape (CONTRACT §3.3).
        let body = if operation.op["operationId"] == "get-messages" && body["messages"].is_array() {
            self.deviation(Deviation::FlatMessagesPage, "answer");
            json!({ "messages": body })
        } else {
            body
        };
        self.value(operation.doc, schema, &body, "answer", None);
    }

    // === schemas ===

    /// `value` at `at` against `schema` (in `doc`, named `name` when reached by `$ref`).
    fn value(&mut self, doc: &'static str, schema: &Value, value: &Value, at: &str, name: Option<&str>) {
        if let Some(reference) = schema["$ref"].as_str() {
            match self.spec.resolve(doc, reference) {
                Some((doc, target, name)) => self.value(doc, target, value, at, Some(&name)),
                None => self.violation(format!("{at}: cannot resolve {reference}")),
            }
            return;
        }
        for keyword in ["allOf", "anyOf", "oneOf", "not", "additionalProperties"] {
            if !schema[keyword].is_null() {
                self.violation(format!("{at}: the checker does not read {keyword}; extend tests/it/openapi.rs"));
                return;
            }
        }
        if value.is_null() {
            if !schema["nullable"].as_bool().unwrap_or(false) && !schema.as_object().is_some_and(|s| s.is_empty()) {
                self.violation(format!("{at} is null"));
            }
            return;
        }
        let kind = schema["type"].as_str().or_else(|| schema.get("properties").map(|_| "object"));
        let fits = match kind {
            None | Some("any") => true,
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("number") => value.is_number(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("boolean") => value.is_boolean(),
            Some(other) => {
                self.violation(format!("{at}: the checker does not know type {other}"));
                return;
            }
        };
        if !fits {
            self.violation(format!("{at}: expected {}, got {}", kind.unwrap_or("?"), short(value)));
            return;
        }
        if let Some(choices) = schema["enum"].as_array()
            && !choices.contains(value)
        {
            self.violation(format!("{at}: {} is not one of {}", short(value), Value::Array(choices.clone())));
        }
        if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
            for (index, item) in list.iter().enumerate() {
                self.value(doc, items, item, &format!("{at}[{index}]"), None);
            }
        }
        let (Some(fields), Some(properties)) = (value.as_object(), schema["properties"].as_object()) else {
            return;
        };
        for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !fields.contains_key(required) {
                self.violation(format!("{at}: required field {required} is missing"));
            }
        }
        for (key, field) in fields {
            let path = format!("{at}.{key}");
            match properties.get(key) {
                Some(property) => self.value(doc, property, field, &path, None),
                None => self.undocumented(name.unwrap_or("an inline schema"), key, field, &path),
            }
        }
    }

    /// A field the schema does not name: a violation unless a deviation names it.
    fn undocumented(&mut self, schema: &str, key: &str, value: &Value, at: &str) {
        let (deviation, fits) = match (schema, key) {
            ("MessageMeta", "call") => (
                Deviation::MetaCall,
                value.as_object().is_some_and(|call| {
                    call.keys().all(|k| k == "status" || k == "duration")
                        && call.get("status").is_none_or(|status| {
                            ["pending", "completed", "answered", "busy", "no-answer", "failed", "canceled", "voicemail"]
                                .iter()
                                .any(|s| status == s)
                        })
                }),
            ),
            ("ConversationSchema", "lastMessageDate") => {
                (Deviation::SearchLastMessage, value.is_number() || value.is_string())
            }
            ("ConversationSchema", "lastMessageDirection") => {
                (Deviation::SearchLastMessage, value == "inbound" || value == "outbound")
            }
            ("GetContectByIdSchema", "contactName") => (Deviation::ContactName, value.is_string()),
            _ => {
                self.violation(format!("{at}: {schema} has no field {key}"));
                return;
            }
        };
        if self.deviation(deviation, at) && !fits {
            self.violation(format!("{at}: {} does not have the shape CONTRACT.md describes", short(value)));
        }
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 { format!("{}…", text.chars().take(80).collect::<String>()) } else { text }
}

#[cfg(test)]
mod tests {
    //! The checker itself: traffic that breaks the published contract is caught.

    use std::time::Instant;

    use super::super::{Answered, Recorded};
    use super::*;

    const LIMITS: [(&str, &str); 5] = [
        ("X-RateLimit-Limit-Daily", "200000"),
        ("X-RateLimit-Daily-Remaining", "199999"),
        ("X-RateLimit-Interval-Milliseconds", "10000"),
        ("X-RateLimit-Max", "100"),
        ("X-RateLimit-Remaining", "99"),
    ];

    fn exchange(method: &str, url: &str, version: &str, body: Value, status: u16, answer: Value) -> Recorded {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let mut headers = vec![("Authorization".to_string(), "Bearer t".to_string())];
        if !version.is_empty() {
            headers.push(("Version".to_string(), version.to_string()));
        }
        if !body.is_null() {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
        }
        Recorded {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            authorization: Some("Bearer t".to_string()),
            version: Some(version.to_string()),
            headers,
            body: if body.is_null() { String::new() } else { body.to_string() },
            at: Instant::now(),
            answer: Some(Answered {
                status,
                headers: LIMITS.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
                body: answer.to_string(),
                fault: None,
            }),
        }
    }

    fn message(extra: Value) -> Value {
        let mut message = json!({ "id": "m1", "type": 2, "messageType": "TYPE_SMS", "locationId": "l", "contactId": "c",
            "conversationId": "v", "dateAdded": "2026-03-02T15:00:00Z", "direction": "inbound", "contentType": "text/plain" });
        if let (Some(message), Value::Object(extra)) = (message.as_object_mut(), extra) {
            message.extend(extra);
        }
        message
    }

    fn conversation(extra: Value) -> Value {
        let mut conversation = json!({ "id": "v", "contactId": "c", "locationId": "l", "lastMessageBody": "", "lastMessageType": "TYPE_SMS",
            "type": "TYPE_PHONE", "unreadCount": 0, "fullName": "", "contactName": "", "email": "", "phone": "" });
        if let (Some(conversation), Value::Object(extra)) = (conversation.as_object_mut(), extra) {
            conversation.extend(extra);
        }
        conversation
    }

    fn published() -> Allowed {
        Allowed::default()
    }

    fn live() -> Allowed {
        Allowed { live_deviations: true, version_override: None }
    }

    fn violations(records: &[Recorded], allowed: &Allowed) -> Vec<String> {
        check(records, allowed).violations
    }

    #[test]
    fn published_traffic_passes() {
        let page = json!({ "messages": { "lastMessageId": "m1", "nextPage": false,
            "messages": [message(json!({ "meta": { "callStatus": "voicemail", "callDuration": "12" } }))] } });
        let records = [
            exchange(
                "GET",
                "/conversations/search?locationId=l&contactId=c&limit=1",
                "2021-04-15",
                Value::Null,
                200,
                json!({ "conversations": [conversation(json!({}))], "total": 1 }),
            ),
            exchange(
                "GET",
                "/conversations/v/messages?limit=50&lastMessageId=m0",
                "2021-04-15",
                Value::Null,
                200,
                page,
            ),
            exchange(
                "GET",
                "/contacts/c",
                "2021-07-28",
                Value::Null,
                200,
                json!({ "contact": { "id": "c", "name": "Pat Doe", "firstName": "Pat", "lastName": "Doe" } }),
            ),
            exchange(
                "POST",
                "/conversations/messages",
                "2021-04-15",
                json!({ "type": "SMS", "contactId": "c", "message": "hi" }),
                200,
                json!({ "conversationId": "v", "messageId": "m2", "msg": "Message queued successfully." }),
            ),
        ];
        let report = check(&records, &published());
        assert!(report.violations.is_empty(), "{report}");
        assert!(report.deviations.is_empty(), "{report}");
    }

    #[test]
    fn requests_ghl_would_refuse_are_caught() {
        let ok = json!({ "conversations": [], "total": 0 });
        let cases = [
            (
                exchange("GET", "/conversations/search?contactId=c", "2021-04-15", Value::Null, 200, ok.clone()),
                "required query parameter locationId",
            ),
            (
                exchange("GET", "/conversations/search?locationId=l", "", Value::Null, 200, ok.clone()),
                "required header parameter Version",
            ),
            (
                exchange("GET", "/conversations/search?locationId=l", "2021-07-28", Value::Null, 200, ok.clone()),
                "Version=\"2021-07-28\"",
            ),
            (
                exchange(
                    "GET",
                    "/conversations/search?locationId=l&sortBy=newest",
                    "2021-04-15",
                    Value::Null,
                    200,
                    ok.clone(),
                ),
                "sortBy=\"newest\"",
            ),
            (
                exchange(
                    "GET",
                    "/conversations/search?locationId=l&limit=ten",
                    "2021-04-15",
                    Value::Null,
                    200,
                    ok.clone(),
                ),
                "not a number",
            ),
            (
                exchange(
                    "GET",
                    "/conversations/search?locationId=l&page=2",
                    "2021-04-15",
                    Value::Null,
                    200,
                    ok.clone(),
                ),
                "page is not documented",
            ),
            (
                exchange("GET", "/conversations/v/details", "2021-04-15", Value::Null, 200, ok.clone()),
                "no such operation",
            ),
            (
                exchange(
                    "POST",
                    "/conversations/messages",
                    "2021-04-15",
                    json!({ "type": "SMS", "message": "hi" }),
                    200,
                    json!({ "conversationId": "v", "messageId": "m" }),
                ),
                "required field contactId",
            ),
            (
                exchange(
                    "POST",
                    "/conversations/messages",
                    "2021-04-15",
                    json!({ "type": "SMS", "contactId": "c", "conversationId": "v" }),
                    200,
                    json!({ "conversationId": "v", "messageId": "m" }),
                ),
                "has no field conversationId",
            ),
            (
                exchange(
                    "POST",
                    "/conversations/messages",
                    "2021-04-15",
                    json!({ "type": "Text", "contactId": "c" }),
                    200,
                    json!({ "conversationId": "v", "messageId": "m" }),
                ),
                "\"Text\" is not one of",
            ),
        ];
        for (record, expected) in cases {
            let found = violations(&[record], &live());
            assert!(found.iter().any(|v| v.contains(expected)), "expected {expected:?} in {found:?}");
        }
        let mut anonymous = exchange("GET", "/contacts/c", "2021-07-28", Value::Null, 200, json!({ "contact": {} }));
        anonymous.headers.retain(|(name, _)| name != "Authorization");
        assert!(violations(&[anonymous], &live()).iter().any(|v| v.contains("bearer token")));
    }

    #[test]
    fn answers_ghl_would_not_give_are_caught() {
        let search = |item: Value| {
            exchange(
                "GET",
                "/conversations/search?locationId=l",
                "2021-04-15",
                Value::Null,
                200,
                json!({ "conversations": [item], "total": 1 }),
            )
        };
        let messages = |body: Value| exchange("GET", "/conversations/v/messages", "2021-04-15", Value::Null, 200, body);
        let cases = [
            (search(json!({ "id": "v", "contactId": "c", "locationId": "l" })), "required field lastMessageBody"),
            (search(conversation(json!({ "unreadCount": "none" }))), "expected number"),
            (search(conversation(json!({ "starred": true }))), "ConversationSchema has no field starred"),
            (
                messages(
                    json!({ "messages": { "lastMessageId": "m1", "nextPage": false, "messages": [message(json!({ "messageType": "SMS" }))] } }),
                ),
                "\"SMS\" is not one of",
            ),
            (messages(json!({ "messages": { "nextPage": false, "messages": [] } })), "required field lastMessageId"),
            (
                messages(json!({ "messages": { "lastMessageId": "m1", "nextPage": false,
                "messages": [message(json!({ "meta": { "callStatus": "rang-out" } }))] } })),
                "\"rang-out\" is not one of",
            ),
            (
                exchange(
                    "POST",
                    "/conversations/messages",
                    "2021-04-15",
                    json!({ "type": "SMS", "contactId": "c" }),
                    201,
                    json!({ "conversationId": "v", "messageId": "m" }),
                ),
                "status 201 is not documented",
            ),
            (
                exchange("GET", "/contacts/c", "2021-07-28", Value::Null, 404, json!({ "error": "gone" })),
                "not GHL's {statusCode, message}",
            ),
        ];
        for (record, expected) in cases {
            let found = violations(&[record], &live());
            assert!(found.iter().any(|v| v.contains(expected)), "expected {expected:?} in {found:?}");
        }
        let mut retry_after = search(conversation(json!({})));
        if let Some(answer) = &mut retry_after.answer {
            answer.headers.push(("Retry-After".to_string(), "1".to_string()));
            answer.headers.retain(|(name, _)| name != "X-RateLimit-Max");
        }
        let found = violations(&[retry_after], &live());
        assert!(found.iter().any(|v| v.contains("Retry-After")), "{found:?}");
        assert!(found.iter().any(|v| v.contains("X-RateLimit-Max")), "{found:?}");
    }

    /// Live GHL's documented differences pass only as named deviations, and only in live mode.
    #[test]
    fn live_deviations_are_named_and_refused_when_published_only() {
        let records = [
            exchange(
                "GET",
                "/conversations/search?locationId=l",
                "2021-04-15",
                Value::Null,
                200,
                json!({ "conversations": [conversation(json!({ "lastMessageDate": 1, "lastMessageDirection": "outbound" }))], "total": 1 }),
            ),
            exchange(
                "GET",
                "/conversations/v/messages",
                "2021-04-15",
                Value::Null,
                200,
                json!({ "lastMessageId": "m1", "nextPage": false, "messages": [message(json!({ "meta": { "call": { "status": "no-answer" } } }))] }),
            ),
            exchange(
                "GET",
                "/contacts/c",
                "2021-07-28",
                Value::Null,
                200,
                json!({ "contact": { "id": "c", "contactName": "Pat" } }),
            ),
        ];
        let report = check(&records, &live());
        assert!(report.violations.is_empty(), "{report}");
        assert_eq!(
            report.deviations.keys().copied().collect::<Vec<_>>(),
            [Deviation::FlatMessagesPage, Deviation::MetaCall, Deviation::SearchLastMessage, Deviation::ContactName]
        );
        let refused = violations(&records, &published());
        for expected in ["lastMessageDate", "lastMessageDirection", "top level", "meta.call", "contactName"] {
            assert!(refused.iter().any(|v| v.contains(expected)), "expected {expected:?} in {refused:?}");
        }
        let wrong_shape = exchange(
            "GET",
            "/conversations/v/messages",
            "2021-04-15",
            Value::Null,
            200,
            json!({ "messages": { "lastMessageId": "m1", "nextPage": false, "messages": [message(json!({ "meta": { "call": { "status": "rang" } } }))] } }),
        );
        assert!(violations(&[wrong_shape], &live()).iter().any(|v| v.contains("shape CONTRACT.md describes")));
    }

    #[test]
    fn a_version_override_passes_only_when_the_test_set_it() {
        let record = exchange(
            "GET",
            "/conversations/v/messages",
            "2021-07-28",
            Value::Null,
            200,
            json!({ "messages": { "lastMessageId": "", "nextPage": false, "messages": [] } }),
        );
        assert!(!violations(std::slice::from_ref(&record), &live()).is_empty());
        let allowed = Allowed { live_deviations: false, version_override: Some("2021-07-28".to_string()) };
        let report = check(&[record], &allowed);
        assert!(report.violations.is_empty(), "{report}");
        assert_eq!(report.deviations.get(&Deviation::VersionOverride), Some(&1));
    }
}
