//! Reads one recorded exchange against its published operation and schemas.

use serde_json::{Value, json};

use super::*;

pub(super) struct Checker<'a> {
    pub(super) spec: &'static Spec,
    pub(super) allowed: &'a Allowed,
    pub(super) report: &'a mut Report,
    /// `METHOD /path` of the exchange, for messages.
    pub(super) at: String,
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

    pub(super) fn exchange(&mut self, record: &Recorded) {
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
        // `bearer` in conversations and contacts; `Location-Access` / `Agency-Access` in users:
        // each is an HTTP bearer scheme.
        let bearer = operation.op["security"].as_array().is_some_and(|schemes| {
            schemes
                .iter()
                .any(|scheme| ["bearer", "Location-Access", "Agency-Access"].iter().any(|s| scheme.get(s).is_some()))
        });
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

    fn answer(&mut self, operation: &Operation, answer: &super::super::Answered) {
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
                self.violation(format!(
                    "{at}: the checker does not read {keyword}; extend tests/it/fake_ghl/openapi/checker.rs"
                ));
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
            ("ConversationSchema", "sort") => (
                Deviation::SearchSort,
                value.as_array().is_some_and(|sort| !sort.is_empty() && sort.iter().all(Value::is_number)),
            ),
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
