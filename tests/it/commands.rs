//! Managers' SMS commands (SPEC §7), end to end: an inbound text from a manager, the change
//! in the database, and the reply sent through the fake GHL.

use serde_json::json;

use crate::fake_ghl::FakeGhl;
use crate::harness::{Sentinel, command, with_ghl};

struct Office {
    ghl: FakeGhl,
    app: Sentinel,
    sent: std::cell::Cell<usize>,
}

impl Office {
    fn open() -> anyhow::Result<Office> {
        Office::open_with(&[])
    }

    fn open_with(extra: &[(&str, &str)]) -> anyhow::Result<Office> {
        let ghl = FakeGhl::start()?;
        let app = with_ghl(&ghl)
            .and(&[
                ("MANAGER_CONTACT_IDS", "boss"),
                ("INTERNAL_CONTACT_IDS", "tech"),
                // Digests and alerts go to managers too; keep them out of these conversations.
                ("SUMMARY_SLOTS", "night=23:30"),
                // Monday 2026-11-23 09:00 CST.
                ("SENTINEL_TEST_NOW", "2026-11-23T15:00:00Z"),
            ])
            .and(extra)
            .start()?;
        Ok(Office { ghl, app, sent: std::cell::Cell::new(0) })
    }

    /// A customer texts; returns the issue number.
    fn customer(&self, contact: &str, name: &str, phone: &str) -> anyhow::Result<i64> {
        let body = json!({ "type": "InboundMessage", "locationId": "loc1", "contactId": contact, "conversationId": format!("conv-{contact}"),
            "contactName": name, "phone": phone, "messageType": "SMS", "body": "help, the pool is green" });
        let answer = self.app.webhook("", &body.to_string())?;
        answer.json["issue_id"].as_i64().ok_or_else(|| anyhow::format_err!("{answer:?}"))
    }

    /// `from` texts `command`; returns the reply GHL was asked to send back to `from`.
    fn say(&self, from: &str, command: &str) -> anyhow::Result<String> {
        self.say_from(from, None, command)
    }

    /// `from` texts `command` from `phone`, when given; returns the reply sent back to `from`.
    fn say_from(&self, from: &str, phone: Option<&str>, command: &str) -> anyhow::Result<String> {
        let mut body = json!({ "contact_id": from, "message": { "type": "SMS", "body": command } });
        if let Some(phone) = phone {
            body["phone"] = json!(phone);
        }
        let answer = self.app.webhook("inbound_sms", &body.to_string())?;
        anyhow::ensure!(answer.json["command"] == true, "not taken as a command: {answer:?}");
        let replies = || -> Vec<serde_json::Value> {
            let sends = self.ghl.sends();
            sends
                .into_iter()
                .filter(|s| !s["message"].as_str().unwrap_or_default().starts_with("NTPP Sentinel"))
                .collect()
        };
        let expected = self.sent.get() + 1;
        self.app.eventually("the reply is sent", || Ok(replies().len() >= expected))?;
        let replies = replies();
        self.sent.set(replies.len());
        let reply = &replies[expected - 1];
        anyhow::ensure!(reply["contactId"] == from, "reply went to {}", reply["contactId"]);
        Ok(reply["message"].as_str().unwrap_or_default().to_string())
    }

    /// `sentinel manager add ARGS` on the running service's database, as the README says.
    fn add_manager(&self, args: &[&str]) -> anyhow::Result<String> {
        let added =
            command().args(["manager", "add"]).args(args).env_clear().env("DB_PATH", self.app.db_path()).output()?;
        let said = String::from_utf8_lossy(&added.stdout).to_string();
        anyhow::ensure!(added.status.success(), "manager add: {said}{}", String::from_utf8_lossy(&added.stderr));
        Ok(said)
    }

    fn status(&self, id: i64) -> anyhow::Result<(String, Option<String>)> {
        Ok(self
            .app
            .db()?
            .query_row("SELECT status, resolved_by FROM issues WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }
}

#[test]
fn list_more_and_open() -> anyhow::Result<()> {
    let office = Office::open()?;
    for n in 0..7 {
        office.customer(&format!("c{n}"), &format!("Customer {n}"), &format!("+1214555010{n}"))?;
    }
    assert_eq!(office.say("boss", "List")?, "No open issues.");
    office.app.set_clock("2026-11-23T17:00:00Z")?;
    office
        .app
        .eventually("all open", || Ok(office.app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 7))?;
    let first = office.say("boss", "Sentinel list")?;
    assert!(
        first.starts_with("Open issues (7), page 1/2:\n#1 SMS Customer 0, (214) 555-0100 — due 11:00am"),
        "{first}"
    );
    assert!(first.ends_with("Reply More for the next page."), "{first}");
    let second = office.say("boss", "MORE")?;
    assert!(second.contains("page 2/2") && second.contains("#7 "), "{second}");
    assert_eq!(office.say("boss", "more")?, "No more open issues. Reply List to start over.");
    // Paging is kept per manager.
    assert!(office.say("tech", "More")?.contains("page 1/2"));
    let link = office.say("boss", "Open #3")?;
    assert_eq!(
        link,
        "#3 Customer 2, (214) 555-0102: https://app.gohighlevel.com/v2/location/loc1/conversations/conversations/conv-c2"
    );
    assert_eq!(office.say("boss", "Open 99")?, "There is no issue #99. Send List for the open issues. Usage: Open 12");
    Ok(())
}

#[test]
fn resolve_by_ids_phone_and_name() -> anyhow::Result<()> {
    let office = Office::open()?;
    let a = office.customer("ca", "Carl Jones", "+12145550199")?;
    let b = office.customer("cb", "Beth Moss", "+12145550111")?;
    let c = office.customer("cc", "Carla Smith", "+12145550122")?;
    let d = office.customer("cd", "Dana White", "+12145550133")?;
    assert_eq!(office.say("boss", "Resolve 2145550111")?, format!("Resolved #{b}."), "a phone, not an id");
    assert_eq!(office.status(b)?, ("RESOLVED".into(), Some("manual:boss".into())));
    assert_eq!(office.say("boss", "Resolve 2")?, format!("#{b} was already resolved. Send List for the open issues."));
    let ambiguous = office.say("boss", "Resolve carl")?;
    assert!(ambiguous.starts_with("Several match \"carl\""), "{ambiguous}");
    assert_eq!((office.status(a)?.0, office.status(c)?.0), ("PENDING".into(), "PENDING".into()), "nothing resolved");
    assert_eq!(
        office.say("boss", &format!("resolve #{a}, 99"))?,
        format!(
            "Resolved #{a}.\nThere is no issue #99. Send List for the open issues. Usage: Resolve 12 13 | Resolve <phone or name>"
        )
    );
    assert_eq!(office.say("boss", "Resolve Dana")?, format!("Resolved #{d}."));
    assert_eq!(
        office.say("boss", "Resolve +1 (214) 555-0000")?,
        "No open issue for +1***0000. Send List for the open issues. Usage: Resolve 12 13 | Resolve <phone or name>"
    );
    Ok(())
}

#[test]
fn spam_by_id_and_by_the_whole_phone() -> anyhow::Result<()> {
    let office = Office::open()?;
    let spammer = office.customer("cs", "WIN BIG", "+12145550199")?;
    let reply = office.say("boss", "Spam +1 (214) 555-0199")?;
    // Issue 24 item 9c: it said "1 open issue(s)" for this pending one.
    assert_eq!(reply, "+1***0199 is on the spam list; 1 pending issue marked spam.");
    assert_eq!(office.status(spammer)?.0, "SPAM");
    let again = json!({ "type": "InboundMessage", "locationId": "loc1", "contactId": "cs2", "phone": "214-555-0199", "messageType": "SMS", "body": "WIN" });
    assert_eq!(office.app.webhook("", &again.to_string())?.json["ignored"], "spam");
    let other = office.customer("co", "Other", "+12145550177")?;
    assert_eq!(
        office.say("boss", &format!("spam {other}"))?,
        format!("#{other} marked spam; +1***0177 will open no more issues.")
    );
    assert!(office.say("boss", "Spam Carl")?.contains("Usage: Spam"), "names are not spam targets");
    Ok(())
}

#[test]
fn note_why_status_help_and_mistakes() -> anyhow::Result<()> {
    let office = Office::open()?;
    let id = office.customer("c1", "Carl Jones", "+12145550199")?;
    assert_eq!(office.say("boss", &format!("Note {id} keep, commas,  and spaces"))?, format!("Noted on #{id}."));
    let note: String =
        office.app.db()?.query_row("SELECT detail FROM timeline WHERE event = 'note'", [], |r| r.get(0))?;
    assert_eq!(note, "keep, commas,  and spaces", "kept verbatim");
    let why = office.say("boss", &format!("why {id}"))?;
    assert!(why.starts_with(&format!("#{id}: texted Mon 9:00am CST")) && why.contains("due Mon 11:00am CST"), "{why}");
    assert!(why.contains("note: keep, commas,  and spaces"), "{why}");
    let status = office.say("boss", "Status")?;
    assert!(status.contains("0 open, 1 pending") && status.contains("GHL ok"), "{status}");
    assert!(office.say("boss", "help")?.contains("Resolve"));
    let mistake = office.say("boss", "Frobnicate 3")?;
    assert!(mistake.contains("unknown command") && mistake.contains("Usage"), "{mistake}");
    assert!(office.say("boss", "Open")?.contains("Usage: Open 12"));
    Ok(())
}

#[test]
fn only_managers_and_staff_command() -> anyhow::Result<()> {
    let office = Office::open()?;
    let body = json!({ "contact_id": "customer9", "message": { "body": "List" } });
    let answer = office.app.webhook("inbound_sms", &body.to_string())?;
    assert_eq!(answer.json["issue_created_or_updated"], true, "a customer's 'List' is a text to answer: {answer:?}");
    assert!(office.ghl.sends().is_empty());
    // A manager's command delivered twice is carried out and answered once.
    let command = json!({ "contact_id": "boss", "message": { "body": "Status" } }).to_string();
    office.app.webhook("inbound_sms", &command)?;
    assert_eq!(office.app.webhook("inbound_sms", &command)?.json["duplicate"], true);
    office.app.eventually("one reply", || Ok(office.ghl.sends().len() == 1))?;
    Ok(())
}

#[test]
fn repeat_missed_calls_show_their_count_in_digests_and_list() -> anyhow::Result<()> {
    let office = Office::open()?;
    let call = crate::harness::payload("workflow_unanswered_call.json").replace("ntppLocation01", "loc1");
    // Three missed calls from Dana, a few minutes apart (each a new call, not a retry).
    for (n, at) in ["2026-11-23T15:00:00Z", "2026-11-23T15:03:00Z", "2026-11-23T15:07:00Z"].iter().enumerate() {
        office.app.set_clock(at)?;
        let answer = office.app.webhook("unanswered_call", &call)?;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.json["duplicate"].is_null(), "call {} is a new call: {answer:?}", n + 1);
    }
    assert_eq!(office.app.count("SELECT COUNT(*) FROM issues")?, 1);
    assert_eq!(office.app.count("SELECT inbound_count FROM issues")?, 3);
    let api = office.app.admin("GET", "/api/issues")?;
    assert_eq!(api.json["issues"][0]["attempts"], 3, "{api:?}");
    assert_eq!(office.app.admin("GET", "/api/issues/1")?.json["issue"]["attempts"], 3);
    // Past the two-hour target it is OPEN, and managers see the attempts.
    office.app.set_clock("2026-11-23T17:30:00Z")?;
    office.app.eventually("the call is overdue", || {
        Ok(office.app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 1)
    })?;
    let digest = office.app.admin("POST", "/jobs/send_summary?slot=night&dry_run=1")?;
    let body = digest.json["body"].as_str().unwrap_or_default().to_string();
    assert!(body.contains("Dana Smith") && body.contains("×3"), "{body}");
    let list = office.say("boss", "List")?;
    assert!(list.contains("×3"), "{list}");
    Ok(())
}

#[test]
fn every_command_error_says_how_to_go_on() -> anyhow::Result<()> {
    let office = Office::open()?;
    let carl = office.customer("c-carl", "Carl Jones", "+12145550101")?;
    office.say("boss", &format!("Resolve {carl}"))?;
    for command in [
        "Open 99999",
        "Resolve 99999",
        "Spam 99999",
        "Note 99999 called back",
        "Why 99999",
        "Resolve +1 (214) 555-0000",
        "Resolve Zelda",
        "Spam Carl",
        "Frobnicate",
        "Open abc",
        "Note 3",
        "Resolve",
        "Why",
        // Said again (spelled differently: an identical body within two minutes is a retry).
        &format!("resolve #{carl}"),
    ] {
        let reply = office.say("boss", command)?;
        assert!(reply.contains("Send List") || reply.contains("Usage: "), "{command:?} got no way forward: {reply:?}");
    }
    Ok(())
}

/// Issue 24: Pat, added with `sentinel manager add` while the service ran, texted `Pin`; it
/// became customer issue #6 and breached to the other managers. Every manager the box knows
/// sends commands: by the contact id given, or by the phone given.
#[test]
fn a_manager_added_on_the_command_line_texts_commands_by_contact_or_phone() -> anyhow::Result<()> {
    let office = Office::open_with(&[("CONSOLE_URL", "http://sentinel.office.lan:8001")])?;
    let said = office.add_manager(&["Pat", "--contact-id", "pat", "--pin", "24681357"])?;
    assert!(said.starts_with("manager Pat added (contact pat)"), "{said}");
    office.add_manager(&["Lee", "--phone", "(214) 555-0142"])?;
    let link = office.say("pat", "Pin")?;
    assert!(
        link.starts_with("Sentinel console sign-in for Pat, once, within 15 minutes: http://sentinel.office.lan:8001/console/link?token="),
        "{link}"
    );
    // Lee texts from a GHL contact the box never heard of (a second contact for the same
    // person), but from Lee's phone, written another way.
    let list = office.say_from("lee-other", Some("+1 214-555-0142"), "List")?;
    assert_eq!(list, "No open issues.");
    assert!(office.say_from("lee-other", Some("2145550142"), "Pin")?.starts_with("Sentinel console sign-in for Lee"));
    assert_eq!(office.app.count("SELECT COUNT(*) FROM issues")?, 0, "no manager's text is a customer issue");
    // Past every due time, nothing breaches and no alert goes out.
    office.app.set_clock("2026-11-23T22:00:00Z")?;
    office.app.set_clock("2026-11-23T22:02:00Z")?;
    let alerts =
        office.ghl.sends().into_iter().filter(|s| s["message"].as_str().unwrap_or_default().contains("Breach"));
    assert_eq!(alerts.count(), 0);
    // A customer on another phone is still a customer.
    let body = json!({ "contact_id": "c1", "phone": "+12145550143", "message": { "body": "Pin" } });
    assert_eq!(office.app.webhook("inbound_sms", &body.to_string())?.json["issue_created_or_updated"], true);
    // And the managers are listed with what they are known by.
    let listed = command().args(["manager", "list"]).env_clear().env("DB_PATH", office.app.db_path()).output()?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("Lee  phone (214) 555-0142") && listed.contains("Pat  contact pat"), "{listed}");
    Ok(())
}

/// A manager known by phone is recognised by it only on a text: on a live chat, a form or a
/// message that names no channel, the phone is a contact field the customer may have typed, so
/// `Closed Mon` from there is a customer's message, not a change of hours (issue 23).
#[test]
fn a_chat_carrying_a_managers_phone_is_a_customer_not_a_command() -> anyhow::Result<()> {
    let office = Office::open_with(&[])?;
    office.add_manager(&["Lee", "--phone", "(214) 555-0142"])?;
    for (n, message) in [
        json!({ "type": "Live_Chat", "body": "Closed Mon" }),
        json!({ "type": "FB", "body": "Closed Mon" }),
        json!({ "body": "Closed Mon" }),
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({ "contact_id": format!("mallory-{n}"), "phone": "+12145550142", "message": message });
        let answer = office.app.webhook("inbound_sms", &body.to_string())?;
        assert_ne!(answer.json["command"], true, "a chat ran a command: {answer:?}");
    }
    assert_eq!(office.app.count("SELECT COUNT(*) FROM special_days")?, 0, "the hours changed");
    // A text from Lee's phone is still Lee's command.
    assert_eq!(office.say_from("lee-other", Some("+1 214-555-0142"), "List")?, "No open issues.");
    Ok(())
}

/// Issue 24 item 9d: `manager list` showed `added 2026-11-23T15:00:00Z`.
#[test]
fn manager_list_dates_each_manager_in_the_offices_time() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("sentinel.db");
    let run = |args: &[&str], zone: &str| {
        command()
            .args(["manager"])
            .args(args)
            .env_clear()
            .env("DB_PATH", &db)
            .env("TIMEZONE", zone)
            .env("SENTINEL_TEST_NOW", "2026-11-23T15:00:00Z")
            .output()
    };
    let added = run(&["add", "Pat", "--contact-id", "pat", "--pin", "24681357"], "America/Chicago")?;
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let listed = String::from_utf8_lossy(&run(&["list"], "America/Chicago")?.stdout).into_owned();
    assert!(listed.contains("Pat  contact pat  added Mon Nov 23 2026, 9:00am CST"), "{listed}");
    let listed = String::from_utf8_lossy(&run(&["list"], "America/Phoenix")?.stdout).into_owned();
    assert!(listed.contains("added Mon Nov 23 2026, 8:00am MST"), "{listed}");
    Ok(())
}

/// Two managers on one phone or one contact id: texts would be matched to the first only, and
/// removing that one would leave the other answering for them. The second add is refused.
#[test]
fn a_second_manager_with_the_same_phone_or_contact_id_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("sentinel.db");
    let add = |args: &[&str]| command().args(["manager", "add"]).args(args).env_clear().env("DB_PATH", &db).output();
    assert!(add(&["Pat", "--contact-id", "pat", "--phone", "+1 214 555 0142"])?.status.success());
    for (args, said) in [
        (&["Dup", "--phone", "(214) 555-0142"][..], "Pat already has that phone"),
        (&["Dup", "--contact-id", "pat"][..], "Pat already has that contact id"),
    ] {
        let output = add(args)?;
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && text.contains(said), "{args:?}: {text}");
    }
    assert!(add(&["Lee", "--contact-id", "lee", "--phone", "+1 214 555 0143"])?.status.success());
    Ok(())
}

#[test]
fn manager_add_needs_a_contact_id_or_a_phone() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("sentinel.db");
    for (args, expected) in [
        (&["Pat"][..], "--contact-id (the manager's GHL contact id) or --phone"),
        (&["Pat", "--phone", "55"][..], "--phone \"55\": expected the manager's phone number"),
    ] {
        let output = command().args(["manager", "add"]).args(args).env_clear().env("DB_PATH", &db).output()?;
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && said.contains(expected), "{args:?}: {said}");
    }
    Ok(())
}
