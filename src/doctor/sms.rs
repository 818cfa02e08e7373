//! `--send-test-sms`: one text to each manager through the running service's outbox, as every
//! alert goes, and whether GHL took it (SPEC §13). The only check that changes anything.

use std::time::Duration;

use serde_json::Value;

use super::Check;
use crate::config::Config;

const AREA: &str = "managers";

/// Asks the running service (`POST /jobs/test_sms` on its admin listener) to text each manager,
/// and reads what GHL made of each text.
pub fn test_sms(config: &Config, send_scope: &str) -> Vec<Check> {
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
    read(&answer, &config.manager_contact_ids, send_scope)
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
    use crate::doctor::Level;

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
