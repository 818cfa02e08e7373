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

mod checker;
#[cfg(test)]
mod tests;

use checker::Checker;

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
    /// The cursor `sort` (`[lastMessageDate]`) on search results, for `startAfterDate`
    /// (CONTRACT §3.1).
    SearchSort,
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
            Deviation::SearchSort => "the sort cursor in search results (CONTRACT §3.1)",
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
        for name in ["conversations.json", "contacts.json", "users.json", "common-schemas.json"] {
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
        for doc in ["conversations.json", "contacts.json", "users.json"] {
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

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 { format!("{}…", text.chars().take(80).collect::<String>()) } else { text }
}
