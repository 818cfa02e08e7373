//! `--send-test-sms`: one text to each manager through the running service's outbox, as every
//! alert goes, whether GHL took it, and each manager's "OK" texted back (SPEC §13). The only
//! check that changes anything.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Check, Level};
use crate::config::Config;

const AREA: &str = "managers";

/// Asks the running service (`POST /jobs/test_sms` on its admin listener) to text each manager,
/// reads what GHL made of each text, then waits up to `wait` for the managers who got one to
/// text "OK" back (`GET /api/test_sms`).
pub fn test_sms(config: &Config, send_scope: &str, wait: Duration) -> Vec<Check> {
    let answer = match ask(config) {
        Ok(answer) => answer,
        Err(err) => {
            return vec![Check::fail(
                AREA,
                "test SMS",
                format!("the running service could not be asked to send them: {err:#}"),
                "Start the service (systemctl start sentinel), then run sentinel doctor --send-test-sms again.",
            )];
        }
    };
    let sent_to: Vec<String> =
        answer["sent_to"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    let oks = match answer["queued_at"].as_str().map(str::parse::<jiff::Timestamp>) {
        Some(Ok(since)) if !sent_to.is_empty() => wait_for_oks(config, since, &sent_to, wait),
        _ => Ok(Vec::new()),
    };
    let mut checks = read(&answer, &config.manager_contact_ids, send_scope);
    for check in checks.iter_mut().filter(|check| check.area == AREA && check.level == Level::Ok) {
        let Some(manager) = check.name.strip_prefix("test SMS to ") else { continue };
        check.detail = match &oks {
            Ok(oks) => match oks.iter().find(|(contact, _)| contact == manager) {
                Some((_, at)) => format!(
                    "GHL took it, and the manager texted OK back at {}",
                    crate::domain::format::clock(*at, config.calendar.zone())
                ),
                None if wait.is_zero() => "GHL took it; ask the manager whether it arrived".to_string(),
                None => {
                    check.level = Level::Warn;
                    check.advice = Some(
                        "Ask the manager whether it arrived and to text OK back; run the doctor again to see it."
                            .to_string(),
                    );
                    format!("GHL took it, but no OK came back within {} s", wait.as_secs())
                }
            },
            Err(err) => format!("GHL took it; the OK could not be read back: {err:#}"),
        };
    }
    checks
}

/// Polls the service for the managers' OKs until each of `sent_to` answered or `wait` passed.
fn wait_for_oks(
    config: &Config,
    since: jiff::Timestamp,
    sent_to: &[String],
    wait: Duration,
) -> anyhow::Result<Vec<(String, jiff::Timestamp)>> {
    if !wait.is_zero() {
        eprintln!(
            "Waiting up to {} s for each manager to text OK back to the test SMS (Ctrl-C stops)…",
            wait.as_secs()
        );
    }
    let path = format!("/api/test_sms?since={since}");
    let agent = crate::status::admin_agent(Duration::from_secs(10));
    let started = Instant::now();
    loop {
        let answer: Value = crate::status::admin_get(&agent, config, &path)?;
        let oks: Vec<(String, jiff::Timestamp)> = answer["oks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|ok| Some((ok["contact_id"].as_str()?.to_string(), ok["at"].as_str()?.parse().ok()?)))
            .collect();
        let all = sent_to.iter().all(|manager| oks.iter().any(|(contact, _)| contact == manager));
        if all || started.elapsed() >= wait {
            return Ok(oks);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn ask(config: &Config) -> anyhow::Result<Value> {
    use anyhow::Context as _;
    let secret = crate::status::admin_secret(config)?;
    let url = format!("http://{}/jobs/test_sms", config.admin_listen_addr);
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(30))).build().into();
    agent
        .post(&url)
        .header("X-NTPP-Secret", &secret)
        .send_empty()
        .with_context(|| format!("asking the service at {url} (is it running?)"))?
        .body_mut()
        .read_json()
        .context("reading the service's answer")
}

/// One line per manager, and the send scope proven when GHL took any.
fn read(answer: &Value, managers: &[String], send_scope: &str) -> Vec<Check> {
    let sent_to: Vec<&str> = answer["sent_to"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let errors: Vec<&str> = answer["errors"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut checks = Vec::new();
    if sent_to.is_empty() {
        let why = errors.first().copied().unwrap_or("GHL took none of them");
        checks.push(Check::fail(
            "GHL",
            format!("scope {send_scope}"),
            format!("no test SMS was taken: {why}"),
            format!("Give the Private Integration {send_scope}, check GHL_TOKEN, then try again."),
        ));
    } else {
        checks.push(Check::ok("GHL", format!("scope {send_scope}"), "GHL took the test SMS"));
    }
    for manager in managers {
        let name = format!("test SMS to {manager}");
        if sent_to.contains(&manager.as_str()) {
            checks.push(Check::ok(AREA, name, "GHL took it; ask the manager whether it arrived"));
        } else {
            let why = errors.iter().find(|error| error.contains(manager.as_str())).copied().unwrap_or("not taken");
            checks.push(Check::fail(
                AREA,
                name,
                why.to_string(),
                "Check the manager's contact in GHL (a phone, no DND on SMS), then try again.",
            ));
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_manager_gets_a_line_and_the_scope_is_proven_by_any_text_taken() {
        let managers = ["m1".to_string(), "m2".to_string()];
        let answer = json!({ "sent_to": ["m1"], "errors": ["not sent to m2 (skipped): DND"] });
        let checks = read(&answer, &managers, "conversations/message.write");
        let levels: Vec<Level> = checks.iter().map(|check| check.level).collect();
        assert_eq!(levels, [Level::Ok, Level::Ok, Level::Fail]);
        assert!(checks[2].detail.contains("DND"), "{:?}", checks[2]);
        let none = read(&json!({ "sent_to": [], "errors": ["not sent: no GHL_TOKEN"] }), &managers, "s");
        assert_eq!(none[0].level, Level::Fail);
        assert!(none[0].detail.contains("no GHL_TOKEN"));
    }
}
