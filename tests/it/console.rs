//! The managers' console (issue 17) over real HTTP: sign-in by PIN and by SMS link, the
//! session cookie's flags and expiry on the injected clock, CSRF, the guard on wrong PINs,
//! the webhook listener's refusal, and each button's change to the database and timeline.

use std::collections::HashMap;

use serde_json::json;

use crate::fake_ghl::FakeGhl;
use crate::harness::{Answer, Sentinel, command, raw_request, request, with_ghl};

/// The manager every test signs in as, and their PIN.
pub const NAME: &str = "Dana";
/// Dana's PIN.
pub const PIN: &str = "24681357";

/// A running Sentinel with the fake GHL, manager Dana (contact `boss`) added by the CLI, and
/// the clock at Monday 2026-11-23 09:00 CST.
pub struct Desk {
    /// The fake GHL.
    pub ghl: FakeGhl,
    /// The service.
    pub app: Sentinel,
}

impl Desk {
    pub fn open(extra: &[(&str, &str)]) -> anyhow::Result<Desk> {
        let ghl = FakeGhl::start()?;
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("sentinel.db");
        let added = command()
            .args(["manager", "add", NAME, "--contact-id", "boss", "--pin", PIN])
            .env_clear()
            .env("DB_PATH", &db)
            .output()?;
        anyhow::ensure!(added.status.success(), "manager add: {}", String::from_utf8_lossy(&added.stderr));
        let app = with_ghl(&ghl)
            .and(&[
                ("MANAGER_CONTACT_IDS", "boss"),
                ("SUMMARY_SLOTS", "night=23:30"),
                ("SENTINEL_TEST_NOW", "2026-11-23T15:00:00Z"),
                ("CONSOLE_URL", "http://sentinel.office.lan:8001"),
            ])
            .and(extra)
            .start_in(dir)?;
        Ok(Desk { ghl, app })
    }

    /// A customer texts (`c7` from +12145550007); returns the issue number.
    pub fn customer(&self, contact: &str, name: &str) -> anyhow::Result<i64> {
        let digits: String = contact.chars().filter(char::is_ascii_digit).collect();
        let phone = format!("+12145550{digits:0>3}");
        let body = json!({ "type": "InboundMessage", "locationId": "loc1", "contactId": contact,
            "conversationId": format!("conv-{contact}"), "contactName": name, "phone": phone,
            "messageType": "SMS", "body": format!("{name}: the pool is green") });
        let answer = self.app.webhook("", &body.to_string())?;
        answer.json["issue_id"].as_i64().ok_or_else(|| anyhow::format_err!("{answer:?}"))
    }

    pub fn get(&self, path: &str, cookie: Option<&str>) -> anyhow::Result<Answer> {
        let cookie = cookie.map(|token| format!("sentinel_session={token}"));
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("Cookie", c.as_str())).collect();
        request(&self.app.admin_addr, "GET", path, &headers, b"")
    }

    pub fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> anyhow::Result<Answer> {
        self.post_with(path, cookie, form, &[])
    }

    pub fn post_with(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let cookie = cookie.map(|token| format!("sentinel_session={token}"));
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        headers.extend(cookie.iter().map(|c| ("Cookie", c.as_str())));
        headers.extend_from_slice(extra);
        request(&self.app.admin_addr, "POST", path, &headers, body.as_bytes())
    }

    /// Signs Dana in; returns the session token and the answer.
    pub fn sign_in(&self) -> anyhow::Result<(String, Answer)> {
        let answer = self.post("/console/signin", None, &[("name", NAME), ("pin", PIN)])?;
        anyhow::ensure!(answer.status == 303, "sign-in: {} {}", answer.status, answer.text);
        Ok((cookie_token(&answer).ok_or_else(|| anyhow::format_err!("no cookie: {}", answer.head))?, answer))
    }

    /// The CSRF token on a signed-in page.
    pub fn csrf(&self, token: &str) -> anyhow::Result<String> {
        let page = self.get("/console", Some(token))?;
        hidden(&page.text, "csrf").ok_or_else(|| anyhow::format_err!("no csrf field: {}", page.text))
    }

    /// An issue's status and the timeline's last entry `(event, actor, detail)`.
    pub fn state(&self, id: i64) -> anyhow::Result<(String, (String, String, String))> {
        let db = self.app.db()?;
        let status = db.query_row("SELECT status FROM issues WHERE id = ?1", [id], |r| r.get(0))?;
        let last = db.query_row(
            "SELECT event, actor, detail FROM timeline WHERE issue_id = ?1 ORDER BY id DESC LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok((status, last))
    }
}

/// The session token a `Set-Cookie` carries.
pub fn cookie_token(answer: &Answer) -> Option<String> {
    let cookie = answer.header("Set-Cookie")?;
    let value = cookie.split(';').next()?.strip_prefix("sentinel_session=")?;
    (!value.is_empty()).then(|| value.to_string())
}

/// A hidden form field's value in a page.
pub fn hidden(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    Some(page[start..].split('"').next()?.to_string())
}

#[test]
fn the_session_cookie_is_http_only_strict_and_secure_behind_tls() -> anyhow::Result<()> {
    let desk = Desk::open(&[])?;
    let away = desk.get("/console", None)?;
    assert_eq!((away.status, away.header("Location")), (303, Some("/console/signin")));
    let signin = desk.get("/console/signin", None)?;
    assert_eq!(signin.status, 200);
    assert!(signin.text.contains("name=\"pin\""), "{}", signin.text);

    let (token, answer) = desk.sign_in()?;
    assert_eq!(answer.header("Location"), Some("/console"));
    let cookie = answer.header("Set-Cookie").unwrap_or_default().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.split("; ").any(|part| part == flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http on the LAN: {cookie}");
    // Only the token's hash is kept: the database alone signs no one in.
    assert_eq!(desk.app.count("SELECT COUNT(*) FROM console_sessions")?, 1);
    let kept: String = desk.app.db()?.query_row("SELECT token_hash FROM console_sessions", [], |r| r.get(0))?;
    assert_ne!(kept, token);
    let home = desk.get("/console", Some(&token))?;
    assert_eq!(home.status, 200, "{}", home.text);
    assert!(home.text.contains("Dana") && home.text.contains("Issues"), "{}", home.text);

    // Behind a TLS proxy on this box the cookie is Secure.
    let forwarded = [("X-Forwarded-Proto", "https")];
    let tls = desk.post_with("/console/signin", None, &[("name", "dana"), ("pin", PIN)], &forwarded)?;
    assert_eq!(tls.status, 303, "the name is case-insensitive: {}", tls.text);
    assert!(tls.header("Set-Cookie").unwrap_or_default().ends_with("; Secure"), "{}", tls.head);

    // The shared secret opens the API, never the console.
    let with_secret = desk.app.admin("GET", "/console")?;
    assert_eq!(with_secret.status, 303);
    assert_eq!(desk.app.admin("GET", "/api/issues")?.status, 200);

    // Signing out ends the session in the database, not only in the browser.
    let csrf = desk.csrf(&token)?;
    let out = desk.post("/console/signout", Some(&token), &[("csrf", &csrf)])?;
    assert_eq!(out.status, 303);
    assert!(out.header("Set-Cookie").unwrap_or_default().contains("Max-Age=0"), "{}", out.head);
    assert_eq!(desk.get("/console", Some(&token))?.status, 303);
    Ok(())
}

#[test]
fn a_session_ends_after_its_hours_on_the_injected_clock() -> anyhow::Result<()> {
    let desk = Desk::open(&[("CONSOLE_SESSION_HOURS", "2")])?;
    let (token, answer) = desk.sign_in()?;
    assert!(answer.header("Set-Cookie").unwrap_or_default().contains("Max-Age=7200"), "{}", answer.head);
    desk.app.set_clock("2026-11-23T16:59:00Z")?;
    assert_eq!(desk.get("/console", Some(&token))?.status, 200, "1 h 59 m in");
    desk.app.set_clock("2026-11-23T17:00:01Z")?;
    let late = desk.get("/console", Some(&token))?;
    assert_eq!((late.status, late.header("Location")), (303, Some("/console/signin")), "{}", late.text);
    let csrf_was = "any";
    let refused = desk.post("/console/issue/1/note", Some(&token), &[("csrf", csrf_was), ("note", "late")])?;
    assert_eq!(refused.status, 403, "{}", refused.text);
    Ok(())
}

#[test]
fn a_post_without_its_csrf_token_or_from_another_site_is_refused() -> anyhow::Result<()> {
    let desk = Desk::open(&[])?;
    let id = desk.customer("c1", "Carl Jones")?;
    let (token, _) = desk.sign_in()?;
    let csrf = desk.csrf(&token)?;
    let path = format!("/console/issue/{id}/resolve");
    let missing = desk.post(&path, Some(&token), &[])?;
    assert_eq!(missing.status, 403);
    assert!(missing.text.contains("security token (CSRF)"), "{}", missing.text);
    assert_eq!(desk.post(&path, Some(&token), &[("csrf", "forged")])?.status, 403);
    let foreign = desk.post_with(&path, Some(&token), &[("csrf", &csrf)], &[("Origin", "https://evil.example")])?;
    assert_eq!(foreign.status, 403);
    assert_eq!(desk.state(id)?.0, "PENDING", "nothing refused changed the issue");
    // Another session's token is no good either.
    let (other, _) = desk.sign_in()?;
    assert_eq!(desk.post(&path, Some(&other), &[("csrf", &csrf)])?.status, 403);
    let done = desk.post(&path, Some(&token), &[("csrf", &csrf)])?;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(desk.state(id)?.0, "RESOLVED");
    Ok(())
}

/// A counter on `/metrics`.
fn metric(desk: &Desk, name: &str) -> anyhow::Result<u64> {
    let metrics = desk.app.admin("GET", "/metrics")?.text;
    crate::harness::metric(&metrics, name)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| anyhow::format_err!("no {name}: {metrics}"))
}

#[test]
fn wrong_pins_are_slowed_down_and_refused_the_same_way_right_or_wrong() -> anyhow::Result<()> {
    let desk = Desk::open(&[])?;
    let mut statuses = Vec::new();
    for attempt in 0..12 {
        let pin = format!("1111{attempt:04}");
        statuses.push(desk.post("/console/signin", None, &[("name", NAME), ("pin", &pin)])?);
    }
    let codes: Vec<u16> = statuses.iter().map(|answer| answer.status).collect();
    assert_eq!(codes[..10], [401; 10], "{codes:?}");
    assert_eq!(codes[10..], [429; 2], "{codes:?}");
    assert!(statuses[0].text.contains("do not match") && cookie_token(&statuses[0]).is_none());
    assert!(statuses[5].text.contains("not checked") && statuses[5].text.contains("text Pin"), "{}", statuses[5].text);
    assert!(statuses[11].header("Retry-After").is_some());
    assert!(statuses[11].text.contains("Too many wrong sign-ins"), "{}", statuses[11].text);
    // Only the name's budget of PINs was looked at.
    assert_eq!(metric(&desk, "sentinel_console_pins_checked_total")?, 5);
    // The right PIN, now, gets the same refusal as a wrong one: the answer tells nothing.
    let right = desk.post("/console/signin", None, &[("name", NAME), ("pin", PIN)])?;
    assert_eq!((right.status, cookie_token(&right)), (429, None), "{}", right.text);
    // A minute after the guessing stopped, the right PIN works again.
    desk.app.set_clock("2026-11-23T15:01:01Z")?;
    let (token, _) = desk.sign_in()?;
    assert_eq!(desk.get("/console", Some(&token))?.status, 200);
    assert_eq!(desk.app.count("SELECT COUNT(*) FROM console_sessions")?, 1);
    Ok(())
}

#[test]
fn a_flood_of_guesses_from_many_connections_gets_a_few_checks_and_the_texted_link_still_signs_in() -> anyhow::Result<()>
{
    let desk = Desk::open(&[])?;
    let addr = desk.app.admin_addr.clone();
    let flood: Vec<_> = (0..16)
        .map(|thread| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                for attempt in 0..6 {
                    let form = format!("name=dana&pin=9{thread:03}{attempt:04}");
                    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
                    if let Ok(answer) = request(&addr, "POST", "/console/signin", &headers, form.as_bytes()) {
                        answers.push(answer.status);
                    }
                }
                answers
            })
        })
        .collect();
    // From inside the flood: the right PIN is refused like any guess, the texted link gets in.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let right = desk.post("/console/signin", None, &[("name", NAME), ("pin", PIN)])?;
    assert_ne!(right.status, 303, "a real guess inside the flood: {}", right.text);
    let (_, token) = texted_link(&desk, "boss", "Dana")?;
    let used = desk.post("/console/link", None, &[("token", &token)])?;
    assert_eq!(used.status, 303, "{}", used.text);
    let mut answered = 0;
    for thread in flood {
        let statuses = thread.join().map_err(|_| anyhow::format_err!("a flood thread panicked"))?;
        assert!(statuses.iter().all(|status| matches!(status, 401 | 429)), "{statuses:?}");
        answered += statuses.len();
    }
    assert!(answered >= 90, "only {answered} guesses answered");
    let checked = metric(&desk, "sentinel_console_pins_checked_total")?;
    assert!(checked <= 5, "{checked} PINs checked in a minute for one name");
    // Webhooks with the secret were served throughout.
    assert!(desk.customer("c9", "Cora").is_ok());
    Ok(())
}

#[test]
fn a_pin_shorter_than_eight_digits_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let added = command()
        .args(["manager", "add", "Lee", "--contact-id", "lee1", "--pin", "1234567"])
        .env_clear()
        .env("DB_PATH", dir.path().join("sentinel.db"))
        .output()?;
    assert!(!added.status.success());
    let said = String::from_utf8_lossy(&added.stderr);
    assert!(said.contains("8 to 12 digits"), "{said}");
    Ok(())
}

#[test]
fn the_console_is_not_served_on_the_webhook_listener() -> anyhow::Result<()> {
    let desk = Desk::open(&[])?;
    for path in ["/console", "/console/signin", "/console/style.css", "/console/link?token=x", "/console/issue/1"] {
        let answer = request(&desk.app.webhook_addr, "GET", path, &[], b"")?;
        assert_eq!(answer.status, 404, "{path}");
    }
    let form = format!("name={NAME}&pin={PIN}");
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let answer = request(&desk.app.webhook_addr, "POST", "/console/signin", &headers, form.as_bytes())?;
    assert_eq!(answer.status, 404);
    assert!(cookie_token(&answer).is_none());
    assert_eq!(desk.get("/console/signin", None)?.status, 200, "the admin listener serves it");
    Ok(())
}

#[test]
fn each_button_changes_the_issue_and_its_timeline_names_the_manager() -> anyhow::Result<()> {
    let desk = Desk::open(&[])?;
    let (first, second) = (desk.customer("c1", "Carl")?, desk.customer("c2", "Erin")?);
    let (token, _) = desk.sign_in()?;
    let csrf = desk.csrf(&token)?;
    let act = |id: i64, action: &str, form: &[(&str, &str)]| -> anyhow::Result<Answer> {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        let answer = desk.post(&format!("/console/issue/{id}/{action}"), Some(&token), &fields)?;
        anyhow::ensure!(answer.status == 303, "{action}: {} {}", answer.status, answer.text);
        Ok(answer)
    };
    let resolved = act(first, "resolve", &[])?;
    assert_eq!(resolved.header("Location"), Some(format!("/console/issue/{first}?done=resolve").as_str()));
    let (status, (event, actor, _)) = desk.state(first)?;
    assert_eq!((status.as_str(), event.as_str(), actor.as_str()), ("RESOLVED", "resolved", "console:Dana"));
    let resolved_by: String =
        desk.app.db()?.query_row("SELECT resolved_by FROM issues WHERE id = ?1", [first], |r| r.get(0))?;
    assert_eq!(resolved_by, "console:Dana");

    act(second, "note", &[("note", "Called back, left a voicemail")])?;
    assert_eq!(
        desk.state(second)?,
        ("PENDING".into(), ("note".into(), "console:Dana".into(), "Called back, left a voicemail".into()))
    );
    act(second, "spam", &[])?;
    let (status, (event, actor, _)) = desk.state(second)?;
    assert_eq!((status.as_str(), event.as_str(), actor.as_str()), ("SPAM", "spam", "console:Dana"));
    assert_eq!(desk.app.count("SELECT COUNT(*) FROM spam_phones WHERE phone = '+12145550002'")?, 1);
    // A closed issue takes a note but no other button.
    let again = desk.post(&format!("/console/issue/{first}/resolve"), Some(&token), &[("csrf", &csrf)])?;
    assert_eq!(again.status, 409, "{}", again.text);

    let page = desk.get(&format!("/console/issue/{second}?done=spam"), Some(&token))?;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Marked spam") && page.text.contains("<strong>spam</strong> by Dana"), "{}", page.text);
    assert!(page.text.contains("Erin: the pool is green"), "the message Sentinel kept: {}", page.text);
    Ok(())
}

#[test]
fn a_snoozed_issue_stays_live_and_falls_due_again_at_the_chosen_time() -> anyhow::Result<()> {
    // The SLA clock's debug line shows when it arms, so the test sees the snooze re-arm it
    // (moving the test clock would re-arm it anyway).
    let desk = Desk::open(&[("RUST_LOG", "info,sentinel::actors::clock=debug")])?;
    // Monday 09:00 CST; the text is due at 11:00.
    let id = desk.customer("c1", "Carl")?;
    desk.app.set_clock("2026-11-23T17:30:00Z")?;
    desk.app.eventually("overdue", || Ok(desk.state(id)?.0 == "OPEN"))?;
    let (token, _) = desk.sign_in()?;
    let csrf = desk.csrf(&token)?;
    let path = format!("/console/issue/{id}/snooze");
    let past = desk.post(&path, Some(&token), &[("csrf", &csrf), ("until", "2026-11-23T10:00")])?;
    assert_eq!(past.status, 400, "{}", past.text);
    let snoozed = desk.post(&path, Some(&token), &[("csrf", &csrf), ("until", "2026-11-23T14:00")])?;
    assert_eq!(snoozed.status, 303, "{}", snoozed.text);
    let (status, (event, actor, detail)) = desk.state(id)?;
    assert_eq!((status.as_str(), event.as_str(), actor.as_str()), ("PENDING", "snoozed", "console:Dana"));
    assert!(detail.contains("Mon 2:00pm CST"), "{detail}");
    let due: String = desk.app.db()?.query_row("SELECT due_at FROM issues WHERE id = ?1", [id], |r| r.get(0))?;
    assert_eq!(due, "2026-11-23T20:00:00.000Z");
    desk.app.eventually("the SLA clock re-armed for the snooze", || {
        Ok(desk.app.log().lines().any(|line| line.contains("SLA clock armed") && line.contains("2026-11-23T20:00:00Z")))
    })?;
    desk.app.set_clock("2026-11-23T19:59:00Z")?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(desk.state(id)?.0, "PENDING", "not due yet");
    desk.app.set_clock("2026-11-23T20:00:30Z")?;
    desk.app.eventually("due again", || Ok(desk.state(id)?.0 == "OPEN"))?;
    Ok(())
}

/// Issue 24 item 9h: a snooze set after the breach alert asks for one more alert when the issue
/// falls due again, once; the first alert's time is kept (a snooze used to erase it).
#[test]
fn a_snooze_after_the_alert_earns_one_more_alert_and_keeps_the_first() -> anyhow::Result<()> {
    let desk = Desk::open(&[])?;
    let alerts =
        || desk.ghl.sends().iter().filter(|s| s["message"].as_str().unwrap_or_default().contains("Breach")).count();
    let alerted_at = || -> anyhow::Result<Option<String>> {
        Ok(desk.app.db()?.query_row("SELECT alerted_at FROM issues WHERE id = 1", [], |r| r.get(0))?)
    };
    // Monday 09:00 CST; due at 11:00, alerted within the minute after.
    let id = desk.customer("c1", "Carl")?;
    desk.app.set_clock("2026-11-23T17:00:30Z")?;
    desk.app.eventually("open", || Ok(desk.state(id)?.0 == "OPEN"))?;
    desk.app.eventually("the breach heard", || Ok(desk.app.log().contains("alert bundled")))?;
    desk.app.set_clock("2026-11-23T17:02:00Z")?;
    desk.app.eventually("the alert", || Ok(alerts() == 1 && alerted_at()?.is_some()))?;
    let first = alerted_at()?;
    // Dana reads the alert and snoozes the issue until 2pm.
    desk.app.set_clock("2026-11-23T17:05:00Z")?;
    let (token, _) = desk.sign_in()?;
    let csrf = desk.csrf(&token)?;
    let path = format!("/console/issue/{id}/snooze");
    let snoozed = desk.post(&path, Some(&token), &[("csrf", &csrf), ("until", "2026-11-23T14:00")])?;
    assert_eq!(snoozed.status, 303, "{}", snoozed.text);
    assert_eq!(alerted_at()?, first, "when managers were told stays known");
    desk.app.set_clock("2026-11-23T20:00:30Z")?;
    desk.app.eventually("open again", || Ok(desk.state(id)?.0 == "OPEN"))?;
    desk.app.eventually("the breach heard again", || Ok(desk.app.log().matches("alert bundled").count() == 2))?;
    desk.app.set_clock("2026-11-23T20:02:00Z")?;
    desk.app.eventually("one more alert", || Ok(alerts() == 2 && alerted_at()? > first))?;
    desk.app.set_clock("2026-11-23T20:10:00Z")?;
    desk.app.eventually("the outbox idle", || {
        Ok(desk.app.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")? == 0)
    })?;
    assert_eq!(alerts(), 2, "once more, not again and again");
    Ok(())
}

/// Issue 24 item 8: after a Snooze the Why gave the old due time while the line below it gave
/// the new one.
#[test]
fn after_a_snooze_the_why_says_who_snoozed_it_until_when() -> anyhow::Result<()> {
    let desk = Desk::open(&[])?;
    // Monday 09:00 CST; the text is due at 11:00.
    let id = desk.customer("c1", "Carl")?;
    desk.app.set_clock("2026-11-23T15:05:00Z")?;
    let (token, _) = desk.sign_in()?;
    let csrf = desk.csrf(&token)?;
    let snoozed = desk.post(
        &format!("/console/issue/{id}/snooze"),
        Some(&token),
        &[("csrf", &csrf), ("until", "2026-11-23T14:00")],
    )?;
    assert_eq!(snoozed.status, 303, "{}", snoozed.text);
    let page = desk.get(&format!("/console/issue/{id}"), Some(&token))?.text;
    assert!(
        page.contains(
            "texted Mon 9:00am CST; target 2 h of business time → due Mon 11:00am CST, then snoozed by Dana on Mon 9:05am CST until Mon 2:00pm CST"
        ),
        "the Why: {page}"
    );
    assert!(page.contains("Due Mon 2:00pm CST."), "{page}");
    Ok(())
}

/// Issue 24 item 9b: the timeline showed `manual:boss` for a manager whose name is known.
#[test]
fn the_timeline_names_a_manager_who_acted_by_text() -> anyhow::Result<()> {
    let desk = Desk::open(&[])?;
    let id = desk.customer("c1", "Carl")?;
    let body = json!({ "contact_id": "boss", "message": { "type": "SMS", "body": format!("Note {id} called back") } });
    let answer = desk.app.webhook("inbound_sms", &body.to_string())?;
    assert_eq!(answer.json["command"], true, "{answer:?}");
    let (token, _) = desk.sign_in()?;
    let page = desk.get(&format!("/console/issue/{id}"), Some(&token))?.text;
    assert!(page.contains("<strong>note</strong> by Dana: called back"), "{page}");
    assert!(!page.contains("manual:boss"), "{page}");
    // Issue 24 item 9e: the phone in its national form.
    assert!(page.contains("Carl · (214) 555-0001"), "{page}");
    Ok(())
}

/// `contact` (called `name` in GHL) texts `Pin`; returns the link's path and its token, as
/// the fake GHL was asked to text them.
fn texted_link(desk: &Desk, contact: &str, name: &str) -> anyhow::Result<(String, String)> {
    let before = desk.ghl.sends().len();
    let body = json!({ "contact_id": contact, "full_name": name, "message": { "type": "SMS", "body": "Pin" } });
    let answer = desk.app.webhook("inbound_sms", &body.to_string())?;
    assert_eq!(answer.json["command"], true, "{answer:?}");
    let texted = |send: &serde_json::Value| {
        send["contactId"] == contact && send["message"].as_str().is_some_and(|text| text.contains("/console/link"))
    };
    desk.app.eventually("the link is texted", || Ok(desk.ghl.sends().iter().skip(before).any(texted)))?;
    let sends = desk.ghl.sends();
    let text = sends.iter().skip(before).find(|send| texted(send)).and_then(|send| send["message"].as_str());
    let text = text.unwrap_or_default().to_string();
    let link = text
        .split_whitespace()
        .find_map(|word| word.strip_prefix("http://sentinel.office.lan:8001"))
        .ok_or_else(|| anyhow::format_err!("no link: {text}"))?;
    let query: HashMap<String, String> =
        form_urlencoded::parse(link.split_once('?').map_or("", |(_, q)| q).as_bytes()).into_owned().collect();
    let token = query.get("token").cloned().unwrap_or_default();
    anyhow::ensure!(token.len() >= 40, "a short token: {text}");
    Ok((link.to_string(), token))
}

#[test]
fn the_pin_command_texts_a_link_that_signs_in_once() -> anyhow::Result<()> {
    let desk = Desk::open(&[("MANAGER_CONTACT_IDS", "boss,owner")])?;
    let (link, token) = texted_link(&desk, "owner", "Olga Owner")?;
    let link = link.as_str();
    // Opening the link (or a phone's preview of it) signs no one in and uses nothing up.
    for _ in 0..2 {
        let page = desk.get(link, None)?;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("Olga Owner") && cookie_token(&page).is_none(), "{}", page.text);
    }
    let used = desk.post("/console/link", None, &[("token", &token)])?;
    assert_eq!(used.status, 303, "{}", used.text);
    let session = cookie_token(&used).ok_or_else(|| anyhow::format_err!("no cookie"))?;
    let home = desk.get("/console", Some(&session))?;
    assert!(home.text.contains("Olga Owner"), "{}", home.text);
    assert_eq!(desk.post("/console/link", None, &[("token", &token)])?.status, 401, "once only");
    assert_eq!(desk.get(link, None)?.status, 401);
    Ok(())
}

/// Every file under `dir` (the database, its WAL, backups), as bytes.
fn files_holding(dir: &std::path::Path, needle: &str) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)?.windows(needle.len()).any(|window| window == needle.as_bytes()) {
                found.push(path.display().to_string());
            }
        }
    }
    Ok(found)
}

/// A manager known only by `MANAGER_CONTACT_IDS` whose GHL name is another manager's name here
/// signs in under a name of their own, never as that manager (issue 23, own reading).
#[test]
fn a_ghl_name_that_is_another_managers_does_not_sign_in_as_them() -> anyhow::Result<()> {
    let desk = Desk::open(&[("MANAGER_CONTACT_IDS", "boss,owner")])?;
    let (link, token) = texted_link(&desk, "owner", "Dana")?;
    let page = desk.get(&link, None)?;
    assert!(page.text.contains("Dana (MANAGER_CONTACT_IDS owner)"), "{}", page.text);
    let used = desk.post("/console/link", None, &[("token", &token)])?;
    let home = desk.get("/console", cookie_token(&used).as_deref())?;
    assert!(home.text.contains("Dana (MANAGER_CONTACT_IDS owner)"), "{}", home.text);
    Ok(())
}

#[test]
fn a_texted_sign_in_link_is_kept_nowhere_but_on_the_managers_phone() -> anyhow::Result<()> {
    let desk = Desk::open(&[("MANAGER_CONTACT_IDS", "boss,owner")])?;
    let (link, token) = texted_link(&desk, "owner", "Olga Owner")?;
    // Dana, signed in, reads every page: Olga's unused link is on none of them.
    let (dana, _) = desk.sign_in()?;
    for path in ["/console", "/console/digest", "/console/health", "/console/hours"] {
        let page = desk.get(path, Some(&dana))?;
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.text.contains(&token), "{path} shows Olga's sign-in link: {}", page.text);
    }
    // GHL echoes what Sentinel sent as an OutboundMessage: the echo keeps no token either.
    let sent = desk.ghl.sends().into_iter().rev().find(|send| send["contactId"] == "owner");
    let text = sent.and_then(|send| send["message"].as_str().map(str::to_string)).unwrap_or_default();
    let echo = json!({ "type": "OutboundMessage", "locationId": "loc1", "contactId": "owner",
        "conversationId": "conv-owner", "messageType": "SMS", "direction": "outbound", "source": "api",
        "messageId": "echo-1", "body": text });
    assert_eq!(desk.app.webhook("", &echo.to_string())?.status, 200);
    // Nor the database, its WAL, a backup of it, or the log.
    let backup = desk.app.dir().join("backup.db");
    let output = command()
        .args(["backup", &backup.display().to_string()])
        .env_clear()
        .env("DB_PATH", desk.app.db_path())
        .output()?;
    assert!(output.status.success(), "backup: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(files_holding(desk.app.dir(), &token)?, Vec::<String>::new(), "the token in clear");
    assert!(!desk.app.log().contains(&token), "the token in the log");
    // Olga's link still signs Olga in, once.
    assert_eq!(desk.get(&link, None)?.status, 200);
    let used = desk.post("/console/link", None, &[("token", &token)])?;
    assert_eq!(used.status, 303, "{}", used.text);
    let home = desk.get("/console", cookie_token(&used).as_deref())?;
    assert!(home.text.contains("Olga Owner"), "{}", home.text);
    Ok(())
}

#[test]
fn removing_a_manager_ends_their_unused_sign_in_links_and_sessions() -> anyhow::Result<()> {
    let desk = Desk::open(&[("MANAGER_CONTACT_IDS", "boss,pat1")])?;
    let added = command()
        .args(["manager", "add", "Pat", "--contact-id", "pat1", "--pin", "13572468"])
        .env_clear()
        .env("DB_PATH", desk.app.db_path())
        .output()?;
    assert!(added.status.success(), "manager add: {}", String::from_utf8_lossy(&added.stderr));
    let (link, token) = texted_link(&desk, "pat1", "Pat")?;
    let signed_in = desk.post("/console/signin", None, &[("name", "Pat"), ("pin", "13572468")])?;
    let session = cookie_token(&signed_in).ok_or_else(|| anyhow::format_err!("no cookie: {}", signed_in.text))?;
    assert_eq!(desk.get("/console", Some(&session))?.status, 200);
    let removed =
        command().args(["manager", "remove", "Pat"]).env_clear().env("DB_PATH", desk.app.db_path()).output()?;
    assert!(removed.status.success(), "manager remove: {}", String::from_utf8_lossy(&removed.stderr));
    assert_eq!(desk.get(&link, None)?.status, 401, "the link outlived its manager");
    assert_eq!(desk.post("/console/link", None, &[("token", &token)])?.status, 401);
    assert_ne!(desk.get("/console", Some(&session))?.status, 200, "the session outlived its manager");
    Ok(())
}

#[test]
fn every_page_answers_small_and_without_outside_resources() -> anyhow::Result<()> {
    let desk = Desk::open(&[("HOLIDAYS", "2026-11-26")])?;
    let id = desk.customer("c1", "Carl")?;
    let (token, _) = desk.sign_in()?;
    for path in ["/console", &format!("/console/issue/{id}"), "/console/hours", "/console/health", "/console/digest"] {
        let page = desk.get(path, Some(&token))?;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        assert!(page.text.len() <= 30 * 1024, "{path}: {} bytes", page.text.len());
        assert!(!page.text.contains("https://") || path.contains("issue"), "{path} links outside");
        assert_eq!(page.header("Cache-Control"), Some("no-store"), "{path}");
        let policy = page.header("Content-Security-Policy").unwrap_or_default();
        assert!(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"), "{path}");
    }
    let hours = desk.get("/console/hours", Some(&token))?.text;
    assert!(hours.contains("Thu 11/26") && hours.contains("holiday"), "{hours}");
    let issue = desk.get(&format!("/console/issue/{id}"), Some(&token))?.text;
    assert!(
        issue.contains("texted Mon 9:00am CST; target 2 h of business time → due Mon 11:00am CST"),
        "the Why: {issue}"
    );
    assert!(issue.contains("/v2/location/loc1/conversations/conversations/conv-c1"), "{issue}");
    let digest = desk.get("/console/digest", Some(&token))?.text;
    assert!(digest.contains("Preview: night"), "{digest}");
    let style = desk.get("/console/style.css", None)?;
    assert!(style.text.contains("prefers-color-scheme: dark") && style.text.len() < 8 * 1024);
    Ok(())
}

#[test]
fn the_digest_page_shows_what_managers_were_told_by_name_a_page_at_a_time() -> anyhow::Result<()> {
    let slots: Vec<String> = (1..=12).map(|n| format!("s{n:02}={:02}:00", n + 7)).collect();
    let slots = slots.join(",");
    let desk = Desk::open(&[("MANAGER_CONTACT_IDS", "boss,owner"), ("SUMMARY_SLOTS", &slots)])?;
    // Olga's Pin and its link are her own conversation, not the page's.
    texted_link(&desk, "owner", "Olga Owner")?;
    desk.customer("c1", "Carl")?;
    desk.app.set_clock("2026-11-23T17:30:00Z")?;
    desk.app.eventually("Carl's issue is overdue", || Ok(desk.app.log().contains("issues overdue")))?;
    // Breaches are bundled for a minute before the alert goes out.
    desk.app.set_clock("2026-11-23T17:31:30Z")?;
    desk.app.eventually("Carl's issue is alerted", || {
        Ok(desk.app.count("SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'alert:%' AND status = 'sent'")? == 2)
    })?;
    for n in 1..=12 {
        let sent = desk.app.admin("POST", &format!("/jobs/send_summary?slot=s{n:02}"))?;
        assert_eq!(sent.status, 200, "{}", sent.text);
    }
    let (dana, _) = desk.sign_in()?;
    let first = desk.get("/console/digest", Some(&dana))?.text;
    assert!(first.contains("Digest: s12") && first.contains("To Dana ("), "{first}");
    assert!(first.contains("1 manager by MANAGER_CONTACT_IDS"), "{first}");
    assert!(first.contains("Page 1 of 2") && first.contains("page=2"), "{first}");
    assert!(!first.contains("Overdue alert"), "the alert is older than ten digests: {first}");
    for internal in ["boss", "owner", "Olga", "digest:2026", "alert:2026", "reply:", "signin:", "token="] {
        assert!(!first.contains(internal), "the page shows {internal:?}: {first}");
    }
    assert!(first.len() < 30 * 1024, "{} bytes", first.len());
    let second = desk.get("/console/digest?page=2", Some(&dana))?.text;
    assert!(second.contains("Overdue alert") && second.contains("Carl"), "{second}");
    assert!(second.contains("Page 2 of 2") && second.contains("Newer"), "{second}");
    Ok(())
}

#[test]
fn a_page_elsewhere_that_rebinds_its_name_to_the_box_gets_no_console() -> anyhow::Result<()> {
    // DNS rebinding: a page at evil.example re-points its own name at the box's LAN address, so
    // a manager's browser sends the console `Host: evil.example` with a matching `Origin`.
    let desk = Desk::open(&[])?;
    let port = desk.app.admin_addr.rsplit_once(':').map(|(_, port)| port.to_string()).unwrap_or_default();
    let evil = format!("evil.example:{port}");
    let form = format!("name={NAME}&pin={PIN}");
    let head = format!(
        "POST /console/signin HTTP/1.1\r\nHost: {evil}\r\nOrigin: http://{evil}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        form.len()
    );
    let answer = raw_request(&desk.app.admin_addr, head.as_bytes(), form.as_bytes())?;
    assert_eq!(answer.status, 421, "{}", answer.text);
    assert!(cookie_token(&answer).is_none(), "signed in through another site's name");
    let head = format!("GET /console/signin HTTP/1.1\r\nHost: {evil}\r\nConnection: close\r\n\r\n");
    assert_eq!(raw_request(&desk.app.admin_addr, head.as_bytes(), b"")?.status, 421);
    // By the box's address, and by CONSOLE_URL's name, it is served as before.
    desk.sign_in()?;
    let head = format!("GET /console/signin HTTP/1.1\r\nHost: sentinel.office.lan:{port}\r\nConnection: close\r\n\r\n");
    assert_eq!(raw_request(&desk.app.admin_addr, head.as_bytes(), b"")?.status, 200);
    Ok(())
}

#[test]
fn console_the_setup_page_lists_the_doctors_checks_and_shows_no_secret() -> anyhow::Result<()> {
    // No GHL token: the GHL line fails with what to do; the box's checks are there too.
    let desk = Desk::open(&[("GHL_TOKEN", "")])?;
    let (token, _) = desk.sign_in()?;
    let page = desk.get("/console/setup", Some(&token))?;
    assert_eq!(page.status, 200, "{}", page.text);
    let text = &page.text;
    assert!(text.contains(r#"<a href="/console/setup" aria-current="page">Set-up</a>"#), "in the navigation: {text}");
    assert!(text.contains(r#"aria-label="failed">✗</span> GHL token"#), "{text}");
    assert!(text.contains("GHL_TOKEN is unset"), "{text}");
    assert!(text.contains("→ Create a Private Integration token"), "the advice: {text}");
    assert!(text.contains(r#"aria-label="passed">✓</span> configuration"#), "{text}");
    for check in ["clock", "disk", "watchdog", "LED", "backups", "update key"] {
        assert!(text.contains(&format!("</span> {check}</th>")), "{check}: {text}");
    }
    assert!(!text.contains(crate::harness::SECRET), "the webhook secret is never shown");
    assert!(!text.contains("</span> off-box bucket</th>"), "nothing is written to the bucket from here");
    let health = desk.get("/console/health", Some(&token))?;
    assert!(health.text.contains("Set-up checks"), "{}", health.text);
    drop(desk);

    // With a token GHL accepts, the token is shown masked, never in full.
    let desk = Desk::open(&[])?;
    let (token, _) = desk.sign_in()?;
    let page = desk.get("/console/setup", Some(&token))?;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("</span> GHL token</th>"), "{}", page.text);
    assert!(!page.text.contains("test-token"), "the token in full: {}", page.text);
    assert!(!page.text.contains(crate::harness::SECRET), "the webhook secret is never shown");
    let health = desk.app.admin("GET", "/health")?;
    assert!(health.json["degraded_reason"].is_null(), "no set-up check fails on a healthy box: {health:?}");
    Ok(())
}
