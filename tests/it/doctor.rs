//! `sentinel doctor` (SPEC §13, issue 27), the real binary against the fake GHL: a healthy
//! office passes; a refused token, a token lacking one scope, a token of another location, a
//! manager id that is not a contact and one without a phone each fail with their own sentence
//! and exit code 1; `--json` gives the same checks.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::fake_ghl::{FakeGhl, Fault};
use crate::harness::{command, with_ghl};

const TOKEN: &str = "pit-test-token-0123456789";

/// A healthy office: a token of `loc1` holding every scope, a conversation to read, two
/// managers with mobile numbers.
fn office() -> anyhow::Result<FakeGhl> {
    let ghl = FakeGhl::start()?;
    ghl.token_for("loc1");
    ghl.inbound_text("conv1", "c1", "Is anyone coming?", "2026-03-02T15:00:00Z");
    ghl.add_contact_with_phone("m1", "Pat", "Doe", "+12145550104");
    ghl.add_contact_with_phone("m2", "Lee", "Ray", "+12145550177");
    Ok(ghl)
}

/// What one run of `sentinel doctor` said.
struct Said {
    code: Option<i32>,
    text: String,
}

impl Said {
    /// The line of the check named `name`.
    fn line(&self, name: &str) -> &str {
        self.text
            .lines()
            .find(|line| line.chars().skip(2).collect::<String>().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{}", self.text))
    }

    /// The lines of failed checks.
    fn failures(&self) -> Vec<&str> {
        self.text.lines().filter(|line| line.starts_with('✗')).collect()
    }
}

/// Runs `sentinel doctor args` on the office's settings with `extra` replacing any of the same
/// name (an empty value removes it).
fn doctor(ghl: &FakeGhl, extra: &[(&str, &str)], args: &[&str]) -> anyhow::Result<Said> {
    let dir = tempfile::tempdir()?;
    doctor_on(&dir.path().join("sentinel.db"), ghl, extra, args)
}

/// [`doctor`] beside the database at `db`.
fn doctor_on(db: &Path, ghl: &FakeGhl, extra: &[(&str, &str)], args: &[&str]) -> anyhow::Result<Said> {
    let mut env = vec![
        ("GHL_BASE_URL", ghl.url.as_str()),
        ("GHL_TOKEN", TOKEN),
        ("GHL_LOCATION_ID", "loc1"),
        ("MANAGER_CONTACT_IDS", "m1,m2"),
    ];
    for (name, value) in extra {
        env.retain(|(n, _)| n != name);
        if !value.is_empty() {
            env.push((name, value));
        }
    }
    // The box's network as the service sees it: its own tree beside the data, as the harness
    // gives a started service, so no run depends on this machine's interfaces.
    let dir = db.parent().unwrap_or(Path::new("/"));
    let net = dir.join("net");
    if !net.exists() {
        crate::net_tree::Net::at(&net).ethernet("eth0", true)?.routes(&[("eth0", 100)])?;
    }
    env.push(("SENTINEL_NET_ROOT", net.to_str().unwrap_or_default()));
    let Output { status, stdout, stderr } = command()
        .arg("doctor")
        .args(args)
        .env_clear()
        .env("DB_PATH", db)
        .envs(env)
        .current_dir(db.parent().unwrap_or(Path::new("/")))
        .output()?;
    let text = String::from_utf8_lossy(&stdout).to_string();
    assert!(!text.contains(TOKEN), "the token is never shown whole:\n{text}");
    assert!(!text.contains("5550104"), "nor a whole phone number:\n{text}");
    let said = Said { code: status.code(), text };
    if said.code != Some(0) {
        assert!(String::from_utf8_lossy(&stderr).contains("a check failed"), "{}", String::from_utf8_lossy(&stderr));
    }
    Ok(said)
}

#[test]
fn a_healthy_office_passes_every_ghl_check() -> anyhow::Result<()> {
    let ghl = office()?;
    let said = doctor(&ghl, &[], &[])?;
    assert_eq!(said.code, Some(0), "{}", said.text);
    assert!(said.failures().is_empty(), "{}", said.text);
    assert!(said.line("GHL token").starts_with('✓') && said.line("GHL token").contains("****89"), "{}", said.text);
    assert!(said.line("GHL location").starts_with('✓') && said.line("GHL location").contains("loc1"), "{}", said.text);
    for scope in ["conversations.readonly", "conversations/message.readonly", "contacts.readonly"] {
        assert!(said.line(&format!("scope {scope}")).starts_with('✓'), "{}", said.text);
    }
    // Sending is proven only by sending, and the doctor sent nothing.
    let write = said.line("scope conversations/message.write");
    assert!(write.starts_with('⚠') && write.contains("proven only with --send-test-sms"), "{}", said.text);
    assert!(ghl.sends().is_empty());
    let limit = said.line("GHL rate limit");
    assert!(limit.starts_with('✓') && limit.contains("99 of 100") && limit.contains("199000 of 200000"), "{limit}");
    let manager = said.line("manager m1");
    assert!(manager.starts_with('✓') && manager.ends_with("Pat Doe, phone ending 0104"), "{}", said.text);
    assert!(said.line("manager m2").starts_with('✓') && said.line("manager m2").contains("Lee Ray"), "{}", said.text);
    // Every request carried the token, and each was one Sentinel's scopes allow.
    let requests = ghl.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "nothing is changed");
    let bearer = format!("Bearer {TOKEN}");
    assert!(requests.iter().all(|r| r.authorization.as_deref() == Some(bearer.as_str())));
    Ok(())
}

#[test]
fn a_refused_token_is_one_failure_with_what_to_do() -> anyhow::Result<()> {
    let ghl = office()?;
    ghl.outage(Fault::Unauthorized);
    let said = doctor(&ghl, &[], &[])?;
    assert_eq!(said.code, Some(1), "{}", said.text);
    assert_eq!(said.failures().len(), 1, "{}", said.text);
    assert!(said.line("GHL token").contains("GHL refused the token"), "{}", said.text);
    assert!(said.line("GHL token").contains("Invalid JWT"), "{}", said.text);
    assert!(said.text.contains("→ Copy the token of this location's Private Integration"), "{}", said.text);
    assert!(said.line("contacts").starts_with('⚠') && said.line("contacts").contains("not checked"), "{}", said.text);
    ghl.recover();
    Ok(())
}

#[test]
fn a_token_missing_one_scope_names_it() -> anyhow::Result<()> {
    for scope in ["conversations.readonly", "conversations/message.readonly", "contacts.readonly"] {
        let ghl = office()?;
        ghl.revoke_scope(scope);
        let said = doctor(&ghl, &[], &[])?;
        assert_eq!(said.code, Some(1), "{scope}: {}", said.text);
        assert_eq!(said.failures().len(), 1, "{scope} alone fails: {}", said.text);
        let line = said.line(&format!("scope {scope}"));
        assert!(line.starts_with('✗'), "{line}");
        assert!(line.contains(&format!("the token is not authorized for {scope}")), "{line}");
        assert!(line.contains("The token is not authorized for this scope."), "GHL's answer is quoted: {line}");
        assert!(said.text.contains(&format!("add the scope {scope} and save")), "{}", said.text);
        assert!(said.line("GHL token").starts_with('✓'), "the token itself is good: {}", said.text);
    }
    Ok(())
}

/// INTERNAL_USER_IDS: each is read as a GHL user (`GET /users/{id}`); one unknown to GHL fails
/// with its own sentence, one of another location too; without users.readonly (which Sentinel
/// needs for nothing else) they are only not checked.
#[test]
fn internal_user_ids_are_users_of_the_location() -> anyhow::Result<()> {
    let ghl = office()?;
    ghl.add_user("u1", "Dana", "Cole", &["loc1"]);
    ghl.add_user("u2", "Sam", "Hill", &["loc7"]);
    let said = doctor(&ghl, &[("INTERNAL_USER_IDS", "u1,u2,u9")], &[])?;
    assert_eq!(said.code, Some(1), "{}", said.text);
    assert!(said.line("internal user u1").starts_with('✓'), "{}", said.text);
    assert!(said.line("internal user u1").ends_with("Dana Cole (user)"), "{}", said.text);
    let other = said.line("internal user u2");
    assert!(other.starts_with('✗') && other.contains("a user of other locations, not of loc1"), "{other}");
    let unknown = said.line("internal user u9");
    assert!(unknown.starts_with('✗') && unknown.contains("not a user: GHL answers \"User not found\""), "{unknown}");
    assert!(said.text.contains("→ Copy the staff member's user id from GHL"), "{}", said.text);
    assert_eq!(said.failures().len(), 2, "{}", said.text);

    ghl.revoke_scope("users.readonly");
    let said = doctor(&ghl, &[("INTERNAL_USER_IDS", "u1")], &[])?;
    assert_eq!(said.code, Some(0), "a token without users.readonly is no failure: {}", said.text);
    let line = said.line("internal user u1");
    assert!(line.starts_with('⚠') && line.contains("not checked: the token cannot read users"), "{line}");
    Ok(())
}

#[test]
fn a_token_of_another_location_says_so() -> anyhow::Result<()> {
    let ghl = office()?;
    let said = doctor(&ghl, &[("GHL_LOCATION_ID", "loc2")], &[])?;
    assert_eq!(said.code, Some(1), "{}", said.text);
    assert_eq!(said.failures().len(), 1, "{}", said.text);
    let line = said.line("GHL location");
    assert!(line.contains("the token is for another location"), "{line}");
    assert!(line.contains("The token does not have access to this location."), "{line}");
    assert!(said.text.contains("→ Use a Private Integration token created in the sub-account loc2"), "{}", said.text);
    Ok(())
}

#[test]
fn a_manager_id_that_is_not_a_contact_fails_with_what_to_do() -> anyhow::Result<()> {
    let ghl = office()?;
    let said = doctor(&ghl, &[("MANAGER_CONTACT_IDS", "m1,ghost")], &[])?;
    assert_eq!(said.code, Some(1), "{}", said.text);
    assert_eq!(said.failures().len(), 1, "{}", said.text);
    let line = said.line("manager ghost");
    assert!(line.contains("not a contact") && line.contains("Contact not found"), "{line}");
    assert!(said.text.contains("→ Copy the manager's contact id from their contact page"), "{}", said.text);
    assert!(said.line("manager m1").starts_with('✓'), "{}", said.text);
    Ok(())
}

#[test]
fn a_manager_without_a_phone_fails_and_an_internal_contact_without_one_warns() -> anyhow::Result<()> {
    let ghl = office()?;
    ghl.add_contact("m3", "Sam", "Lowe");
    ghl.add_contact("i1", "Robin", "Hale");
    let said = doctor(&ghl, &[("MANAGER_CONTACT_IDS", "m1,m3"), ("INTERNAL_CONTACT_IDS", "i1,m2")], &[])?;
    assert_eq!(said.code, Some(1), "{}", said.text);
    assert_eq!(said.failures().len(), 1, "{}", said.text);
    let line = said.line("manager m3");
    assert!(line.starts_with('✗') && line.contains("Sam Lowe has no phone: it cannot receive SMS"), "{line}");
    assert!(said.text.contains("→ Add the manager's mobile number to their contact in GHL."), "{}", said.text);
    let internal = said.line("internal contact i1");
    assert!(internal.starts_with('⚠') && internal.contains("Robin Hale has no phone"), "{internal}");
    assert!(said.line("internal contact m2").starts_with('✓'), "{}", said.text);
    // Each contact is read once.
    assert_eq!(ghl.requests().iter().filter(|r| r.path.starts_with("/contacts/")).count(), 4);
    Ok(())
}

#[test]
fn without_a_location_the_doctor_says_it_is_unknown_until_the_first_webhook() -> anyhow::Result<()> {
    let ghl = office()?;
    let said = doctor(&ghl, &[("GHL_LOCATION_ID", "")], &[])?;
    assert_eq!(said.code, Some(0), "a warning alone passes: {}", said.text);
    let line = said.line("GHL location");
    assert!(line.starts_with('⚠') && line.contains("until the first webhook"), "{line}");
    assert!(said.line("GHL token").starts_with('✓'), "a contact read proves the token: {}", said.text);
    assert!(said.line("scope contacts.readonly").starts_with('✓'), "{}", said.text);
    assert!(said.line("manager m1").starts_with('✓'), "{}", said.text);
    assert!(ghl.requests().iter().all(|r| r.path != "/conversations/search"), "no search without a location");
    Ok(())
}

#[test]
fn the_location_learnt_from_the_webhooks_is_checked_and_the_database_left_as_it_was() -> anyhow::Result<()> {
    let ghl = office()?;
    let app =
        with_ghl(&ghl).without("GHL_LOCATION_ID").and(&[("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")]).start()?;
    let body = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": "conv1", "contactId": "c1",
        "messageType": "SMS", "body": "pool is green" });
    app.webhook("", &body.to_string())?;
    let learnt = || -> anyhow::Result<bool> {
        Ok(app.count("SELECT COUNT(*) FROM kv WHERE key = 'ghl_location_learned' AND value = 'loc1'")? == 1)
    };
    app.eventually("the location is learnt", learnt)?;
    let (_, dir) = app.stop()?;
    let db = dir.path().join("sentinel.db");
    let before = std::fs::read(&db)?;
    let said = doctor_on(&db, &ghl, &[("GHL_LOCATION_ID", "")], &[])?;
    assert_eq!(said.code, Some(0), "{}", said.text);
    let line = said.line("GHL location");
    assert!(line.starts_with('✓') && line.contains("loc1 (learnt from the webhooks)"), "{line}");
    assert!(said.line("scope conversations/message.readonly").starts_with('✓'), "{}", said.text);
    assert!(std::fs::read(&db)? == before, "the doctor changes nothing");
    Ok(())
}

#[test]
fn json_gives_the_same_checks() -> anyhow::Result<()> {
    let ghl = office()?;
    ghl.add_contact("m3", "Sam", "Lowe");
    let extra = [("MANAGER_CONTACT_IDS", "m1,m3")];
    // Both beside the same database, so the box's lines name the same paths.
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("sentinel.db");
    let text = doctor_on(&db, &ghl, &extra, &[])?;
    let json = doctor_on(&db, &ghl, &extra, &["--json"])?;
    assert_eq!((text.code, json.code), (Some(1), Some(1)));
    let report: Value = serde_json::from_str(&json.text)?;
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    let lines: Vec<&str> =
        text.text.lines().filter(|line| ["✓", "⚠", "✗"].iter().any(|m| line.starts_with(m))).collect();
    assert_eq!(checks.len(), lines.len(), "{}\n{}", json.text, text.text);
    for (check, line) in checks.iter().zip(&lines) {
        let mark = match check["level"].as_str() {
            Some("ok") => "✓",
            Some("warn") => "⚠",
            Some("fail") => "✗",
            other => panic!("level {other:?}"),
        };
        let name = check["name"].as_str().unwrap_or_default();
        assert!(line.starts_with(&format!("{mark} {name} ")), "{line} vs {check}");
        // The clock's line shows the time it read, a second apart in two runs.
        if name != "clock" {
            assert!(line.ends_with(check["detail"].as_str().unwrap_or_default()), "{line} vs {check}");
        }
        assert_eq!(check["advice"].is_string(), mark != "✓", "{check}");
    }
    let failed = checks.iter().find(|check| check["level"] == "fail").expect("a failure");
    assert_eq!((failed["area"].as_str(), failed["name"].as_str()), (Some("managers"), Some("manager m3")));
    Ok(())
}

#[test]
fn doctor_help_is_shown() -> anyhow::Result<()> {
    let output = command().args(["doctor", "--help"]).env_clear().output()?;
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("doctor") && text.contains("--send-test-sms") && text.contains("--json"), "{text}");
    Ok(())
}

/// `--send-test-sms`: one text to each manager through the running service's outbox; each line
/// says whether GHL took it, and the send scope is proven by it.
#[test]
fn test_sms_go_through_the_running_services_outbox() -> anyhow::Result<()> {
    let ghl = office()?;
    let app = with_ghl(&ghl).and(&[("GHL_TOKEN", TOKEN), ("MANAGER_CONTACT_IDS", "m1,m2")]).start()?;
    let run = |extra: &[(&str, &str)]| -> anyhow::Result<Said> {
        let mut env: Vec<(&str, &str)> = vec![
            ("ADMIN_LISTEN_ADDR", app.admin_addr.as_str()),
            ("WEBHOOK_SECRET", crate::harness::SECRET),
            ("LED_PATH", "/nonexistent/led"),
        ];
        env.extend_from_slice(extra);
        doctor_on(&app.db_path(), &ghl, &env, &["--send-test-sms", "--wait-for-ok", "0"])
    };
    let said = run(&[])?;
    assert!(said.line("scope conversations/message.write").starts_with('✓'), "{}", said.text);
    for manager in ["m1", "m2"] {
        assert!(said.line(&format!("test SMS to {manager}")).starts_with('✓'), "{}", said.text);
    }
    let sent: Vec<String> =
        ghl.sends().iter().filter_map(|send| send["contactId"].as_str().map(str::to_string)).collect();
    assert_eq!(sent, ["m1", "m2"], "one text each");
    assert!(ghl.sends()[0]["message"].as_str().unwrap_or_default().contains("test text from sentinel doctor"));

    // GHL refuses the sending scope: said so, with the scope's name.
    ghl.revoke_scope("conversations/message.write");
    let refused = run(&[])?;
    assert_eq!(refused.code, Some(1), "{}", refused.text);
    assert!(refused.line("scope conversations/message.write").starts_with('✗'), "{}", refused.text);
    // Without the doctor's option nothing is sent at all.
    let before = ghl.sends().len();
    doctor_on(&app.db_path(), &ghl, &[("ADMIN_LISTEN_ADDR", app.admin_addr.as_str())], &[])?;
    assert_eq!(ghl.sends().len(), before);
    Ok(())
}

/// The doctor waits for the managers to text "OK" back and shows who did; a manager who did not
/// is a warning (they may be away), not a failure; an OK older than the test does not count.
#[test]
fn a_managers_ok_to_the_test_sms_is_shown() -> anyhow::Result<()> {
    let ghl = office()?;
    let app = with_ghl(&ghl).and(&[("GHL_TOKEN", TOKEN), ("MANAGER_CONTACT_IDS", "m1,m2")]).start()?;
    let env = [
        ("ADMIN_LISTEN_ADDR", app.admin_addr.as_str()),
        ("WEBHOOK_SECRET", crate::harness::SECRET),
        ("LED_PATH", "/nonexistent/led"),
    ];
    let said = std::thread::scope(|scope| -> anyhow::Result<Said> {
        let manager = scope.spawn(|| -> anyhow::Result<()> {
            app.eventually("the test texts went out", || Ok(ghl.sends().len() >= 2))?;
            let body = json!({ "contact_id": "m1", "message": { "type": "SMS", "body": "OK, got it" } });
            let answer = app.webhook("inbound_sms", &body.to_string())?;
            anyhow::ensure!(answer.json["command"] == true, "the OK is a manager's command: {answer:?}");
            Ok(())
        });
        let said = doctor_on(&app.db_path(), &ghl, &env, &["--send-test-sms", "--wait-for-ok", "8"]);
        manager.join().map_err(|_| anyhow::anyhow!("the manager's thread panicked"))??;
        said
    })?;
    assert_eq!(said.code, Some(0), "a missing OK is only a warning: {}", said.text);
    let m1 = said.line("test SMS to m1");
    assert!(m1.starts_with('✓') && m1.contains("the manager texted OK back at"), "{}", said.text);
    let m2 = said.line("test SMS to m2");
    assert!(m2.starts_with('⚠') && m2.contains("no OK came back within 8 s"), "{}", said.text);
    assert!(said.text.contains("→ Ask the manager whether it arrived and to text OK back"), "{}", said.text);
    // The manager who said OK is thanked, and it is no unknown command.
    app.eventually("m1 is answered", || {
        Ok(ghl.sends().iter().any(|send| {
            send["contactId"] == "m1" && send["message"].as_str().unwrap_or_default().contains("got your OK")
        }))
    })?;
    assert!(!ghl.sends().iter().any(|send| send["message"].as_str().unwrap_or_default().contains("unknown command")));

    // What the doctor reads back is the admin API's: bad input is refused plainly.
    for path in ["/api/test_sms", "/api/test_sms?since=yesterday"] {
        let answer = app.admin("GET", path)?;
        assert_eq!(answer.status, 400, "{path}: {answer:?}");
        assert!(answer.text.contains("since="), "{path}: {}", answer.text);
    }
    // A later test: the earlier OK does not answer it.
    let again = doctor_on(&app.db_path(), &ghl, &env, &["--send-test-sms", "--wait-for-ok", "0"])?;
    let m1 = again.line("test SMS to m1");
    assert!(m1.starts_with('✓') && m1.contains("ask the manager whether it arrived"), "{}", again.text);
    Ok(())
}

/// The README's "Before you leave the office" shows the doctor on a healthy office: the fake
/// GHL of a good token, the way in through the real rathole with a webhook already come, a
/// trusted release key, both managers texting OK back. Every check passes but the watchdog,
/// which only systemd arms; the README shows this run's lines, in this order.
#[test]
fn a_healthy_office_passes_and_the_readme_shows_it() -> anyhow::Result<()> {
    let ghl = office()?;
    let app = with_ghl(&ghl).and(&[("GHL_TOKEN", TOKEN), ("MANAGER_CONTACT_IDS", "m1,m2")]).start()?;
    let tunnel = crate::rathole::Tunnel::start(&app, "the-token")?;
    tunnel.wait_until_up(&app)?;
    let public_url = format!("http://{}", tunnel.public_addr);
    let body =
        json!({ "contact_id": "c9", "phone": "+12145550123", "message": { "type": "SMS", "body": "Pool is green" } });
    let posted = crate::harness::request(
        &tunnel.public_addr,
        "POST",
        "/webhook/ghl/inbound_sms",
        &[("X-NTPP-Secret", crate::harness::SECRET), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )?;
    assert_eq!(posted.status, 200, "{}", posted.text);
    let keys = tempfile::tempdir()?;
    let made = command().args(["release", "keygen", "--out"]).arg(keys.path()).env_clear().output()?;
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let keys_dir = keys.path().to_string_lossy().to_string();
    let env = [
        ("ADMIN_LISTEN_ADDR", app.admin_addr.as_str()),
        ("WEBHOOK_SECRET", crate::harness::SECRET),
        ("LED_PATH", "/nonexistent/led"),
        ("PUBLIC_URL", public_url.as_str()),
        ("SENTINEL_KEYS_DIR", keys_dir.as_str()),
    ];
    let said = std::thread::scope(|scope| -> anyhow::Result<Said> {
        let managers = scope.spawn(|| -> anyhow::Result<()> {
            app.eventually("the test texts went out", || Ok(ghl.sends().len() >= 2))?;
            for manager in ["m1", "m2"] {
                let body = json!({ "contact_id": manager, "message": { "type": "SMS", "body": "OK" } });
                app.webhook("inbound_sms", &body.to_string())?;
            }
            Ok(())
        });
        let said = doctor_on(&app.db_path(), &ghl, &env, &["--send-test-sms", "--wait-for-ok", "30"]);
        managers.join().map_err(|_| anyhow::anyhow!("the managers' thread panicked"))??;
        said
    })?;
    assert_eq!(said.code, Some(0), "{}", said.text);
    let marked: Vec<&str> = said.text.lines().filter(|line| line.starts_with(['✓', '⚠', '✗'])).collect();
    let not_ok: Vec<&&str> = marked.iter().filter(|line| !line.starts_with('✓')).collect();
    assert!(
        not_ok.len() == 1 && not_ok[0].starts_with("⚠ watchdog") && not_ok[0].contains("not under systemd"),
        "only the watchdog, which systemd arms, is not ✓:\n{}",
        said.text
    );
    // The README's block names the same checks in the same order.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))?;
    let section = readme.split("## Before you leave the office").nth(1).unwrap_or_default();
    let block = section.split("```").nth(1).unwrap_or_default();
    let name = |line: &str| line.get(4..).unwrap_or_default().split("  ").next().unwrap_or_default().trim().to_string();
    let shown: Vec<String> = block.lines().filter(|line| line.starts_with(['✓', '⚠', '✗'])).map(name).collect();
    let ran: Vec<String> = marked.iter().map(|line| name(line)).collect();
    if std::env::var_os("SENTINEL_PRINT_DOCTOR").is_some() {
        eprintln!("{}", said.text);
    }
    assert_eq!(shown, ran, "README's doctor block is out of date; this run said:\n{}", said.text);
    Ok(())
}
