//! Webhook intake over HTTP (SPEC §2, §3): the original's answers, rows in the database,
//! bad input refused with nothing changed, duplicates stored once.

use crate::harness::{SECRET, Sentinel, payload, raw_request, request};

#[test]
fn a_workflow_text_opens_one_pending_issue() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let answer = app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["received"], true);
    assert_eq!(answer.json["issue_created_or_updated"], true);
    let (kind, status, phone, name, text): (String, String, String, String, String) =
        app.db()?.query_row("SELECT kind, status, phone, contact_name, last_text FROM issues", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
    assert_eq!(
        (kind.as_str(), status.as_str(), phone.as_str(), name.as_str(), text.as_str()),
        ("SMS", "PENDING", "+12145550104", "Carl Jones", "The pool looks pretty cloudy")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM timeline WHERE event = 'created'")?, 1);
    Ok(())
}

#[test]
fn a_repeat_text_counts_but_keeps_the_due_time() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let first = app.webhook("inbound_sms", r#"{"contact_id":"c1","message":{"body":"hello"}}"#)?;
    let due: String = app.db()?.query_row("SELECT due_at FROM issues", [], |r| r.get(0))?;
    std::thread::sleep(std::time::Duration::from_millis(5));
    let second = app.webhook("inbound_sms", r#"{"contact_id":"c1","message":{"body":"are you there?"}}"#)?;
    assert_eq!(first.json["issue_id"], second.json["issue_id"]);
    let (count, due_after, text): (i64, String, String) =
        app.db()?.query_row("SELECT inbound_count, due_at, last_text FROM issues", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    assert_eq!((count, due_after.as_str(), text.as_str()), (2, due.as_str(), "are you there?"));
    Ok(())
}

#[test]
fn documented_marketplace_payloads() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let cases = [
        ("inbound_sms_1.json", "issue_created_or_updated", "true"),
        ("inbound_voicemail_1.json", "issue_created", "true"),
        ("inbound_call_1.json", "ignored", "\"answered call\""),
        ("inbound_email_1.json", "ignored", "\"inbound email\""),
        ("outbound_internal_comment_1.json", "ignored", "\"outbound\""),
        ("opportunity_create_logs_dashboard_1.json", "ignored", "\"event OpportunityCreate\""),
        ("workflow_webhook_contact_tag_1.json", "ignored", "\"no event type\""),
    ];
    for (name, key, expected) in cases {
        let answer = app.webhook("", &payload(name))?;
        assert_eq!(answer.status, 200, "{name}: {answer:?}");
        assert_eq!(answer.json[key].to_string(), expected, "{name}: {answer:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, cases.len() as i64);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues WHERE kind = 'SMS'")?, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues WHERE kind = 'CALL'")?, 1);
    Ok(())
}

#[test]
fn a_staff_reply_webhook_resolves_the_text() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let inbound = payload("inbound_sms_2_legacy_doc.json");
    assert_eq!(app.webhook("", &inbound)?.json["issue_created_or_updated"], true);
    // The documented reply carries a 2021 date, so send one dated after our inbound.
    let reply = r#"{"type":"OutboundMessage","conversationId":"fcanlLgpbQgQhderivVs","contactId":"cI08i1Bls3iTB9bKgFJh",
        "messageType":"SMS","direction":"outbound","source":"app","userId":"staff1","messageId":"reply1","dateAdded":"2099-01-01T00:00:00Z"}"#;
    let answer = app.webhook("", reply)?;
    assert_eq!(answer.json["ignored"], "outbound", "{answer:?}");
    assert_eq!(answer.json["resolved"].as_array().map(Vec::len), Some(1), "{answer:?}");
    let (status, by): (String, String) =
        app.db()?.query_row("SELECT status, resolved_by FROM issues", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    assert_eq!((status.as_str(), by.as_str()), ("RESOLVED", "staff_reply:webhook"));
    let detail: String =
        app.db()?.query_row("SELECT detail FROM timeline WHERE event = 'resolved'", [], |r| r.get(0))?;
    assert!(detail.contains("reply1"), "{detail}");
    // An automated text (e.g. the missed-call text-back) resolves nothing.
    app.webhook("", &payload("inbound_sms_1.json").replace("fcanlLgpbQgQhderivVs", "conv2"))?;
    let automated = r#"{"type":"OutboundMessage","conversationId":"conv2","messageType":"SMS","source":"workflow",
        "userId":"staff1","messageId":"auto1","dateAdded":"2099-01-01T00:00:00Z"}"#;
    assert_eq!(app.webhook("", automated)?.json["resolved"], serde_json::json!([]));
    assert_eq!(app.count("SELECT COUNT(*) FROM issues WHERE status = 'PENDING'")?, 1);
    Ok(())
}

#[test]
fn missed_calls_need_the_marker_and_the_voicemail_route() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let answer = app.webhook("unanswered_call", &payload("workflow_unanswered_call.json"))?;
    assert_eq!(answer.json["issue_created"], true, "{answer:?}");
    let no_marker = app.webhook("unanswered_call", r#"{"contact_id":"c2","voicemail_route":"tech_sentinel"}"#)?;
    assert_eq!(no_marker.json["ignored"], "no missed-call marker");
    let repeat = app.webhook("unanswered_call", &payload("workflow_unanswered_call.json"))?;
    assert_eq!(repeat.json["duplicate"], true, "an identical body within 2 minutes is a retry");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 1);
    Ok(())
}

#[test]
fn form_encoded_bodies_are_read_like_json() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let body = "contact_id=form1&full_name=Eve+Adams&phone=%28214%29+555-0111&message%5Bbody%5D=Pump+is+loud";
    let answer = request(
        &app.webhook_addr,
        "POST",
        "/webhook/ghl/inbound_sms",
        &[("X-NTPP-Secret", SECRET), ("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )?;
    assert_eq!(answer.json["issue_created_or_updated"], true, "{answer:?}");
    let (phone, text): (String, String) =
        app.db()?.query_row("SELECT phone, last_text FROM issues", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    assert_eq!((phone.as_str(), text.as_str()), ("+12145550111", "Pump is loud"));
    Ok(())
}

#[test]
fn the_secret_may_come_in_the_query() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let answer = request(
        &app.webhook_addr,
        "POST",
        &format!("/webhook/ghl/inbound_sms?secret={SECRET}"),
        &[("Content-Type", "application/json")],
        br#"{"contact_id":"q1","message":{"body":"hi"}}"#,
    )?;
    assert_eq!(answer.status, 200, "{answer:?}");
    Ok(())
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("MAX_BODY_BYTES", "4096")])?;
    let sms = "/webhook/ghl/inbound_sms";
    let json = ("Content-Type", "application/json");
    let good = br#"{"contact_id":"bad1","message":{"body":"hi"}}"#.to_vec();
    let huge = format!(r#"{{"contact_id":"big","message":{{"body":"{}"}}}}"#, "x".repeat(5000));
    let deep = format!("{}{}", "[".repeat(2_000), "]".repeat(2_000));
    // (what, method, path, headers, body, expected status, words in the detail)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("wrong secret", "POST", sms, vec![("X-NTPP-Secret", "nope"), json], good.clone(), 401, "Unauthorized"),
        ("missing secret", "POST", sms, vec![json], good.clone(), 401, "Unauthorized"),
        ("empty body", "POST", sms, vec![("X-NTPP-Secret", SECRET), json], Vec::new(), 400, "empty body"),
        (
            "malformed JSON",
            "POST",
            sms,
            vec![("X-NTPP-Secret", SECRET), json],
            b"{\"contact_id\":".to_vec(),
            400,
            "malformed JSON",
        ),
        (
            "JSON array",
            "POST",
            sms,
            vec![("X-NTPP-Secret", SECRET), json],
            b"[{\"contact_id\":\"a\"}]".to_vec(),
            400,
            "JSON object",
        ),
        ("JSON string", "POST", sms, vec![("X-NTPP-Secret", SECRET), json], b"\"hello\"".to_vec(), 400, "JSON object"),
        ("deep nesting", "POST", sms, vec![("X-NTPP-Secret", SECRET), json], deep.into_bytes(), 400, "malformed JSON"),
        ("oversized body", "POST", sms, vec![("X-NTPP-Secret", SECRET), json], huge.into_bytes(), 413, "limit"),
        (
            "invalid UTF-8",
            "POST",
            sms,
            vec![("X-NTPP-Secret", SECRET), json],
            vec![b'{', 0xff, 0xfe, b'}'],
            400,
            "UTF-8",
        ),
        (
            "XML",
            "POST",
            sms,
            vec![("X-NTPP-Secret", SECRET), ("Content-Type", "application/xml")],
            b"<a/>".to_vec(),
            415,
            "content type",
        ),
        ("wrong method", "GET", sms, vec![("X-NTPP-Secret", SECRET)], Vec::new(), 405, "Method Not Allowed"),
        (
            "unknown route",
            "POST",
            "/webhook/ghl/other",
            vec![("X-NTPP-Secret", SECRET), json],
            good.clone(),
            404,
            "Not Found",
        ),
        (
            "admin route on the webhook listener",
            "GET",
            "/api/issues",
            vec![("X-NTPP-Secret", SECRET)],
            Vec::new(),
            404,
            "Not Found",
        ),
        (
            "job on the webhook listener",
            "POST",
            "/jobs/verify_pending",
            vec![("X-NTPP-Secret", SECRET)],
            Vec::new(),
            404,
            "Not Found",
        ),
    ];
    for (what, method, path, headers, body, status, detail) in cases {
        let answer = request(&app.webhook_addr, method, path, &headers, &body)?;
        assert_eq!(answer.status, status, "{what}: {answer:?}");
        let text = answer.json["detail"].as_str().unwrap_or_default();
        assert!(text.contains(detail), "{what}: {answer:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 0);
    // A body over the limit announced by its Content-Length is refused before it is read.
    let head = format!(
        "POST {sms} HTTP/1.1\r\nHost: x\r\nX-NTPP-Secret: {SECRET}\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_request(&app.webhook_addr, head.as_bytes(), b"{")?.status, 413);
    // The service still works afterwards.
    assert_eq!(app.webhook("inbound_sms", std::str::from_utf8(&good)?)?.status, 200);
    Ok(())
}

#[test]
fn duplicate_deliveries_are_answered_and_stored_once() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let voicemail = payload("inbound_voicemail_1.json");
    for attempt in 0..3 {
        let answer = app.webhook("", &voicemail)?;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json["duplicate"] == true, attempt > 0, "{answer:?}");
    }
    let with_webhook_id = payload("opportunity_create_logs_dashboard_1.json");
    app.webhook("", &with_webhook_id)?;
    // GHL's retry carries the same webhookId even if the body text differs.
    let retried = with_webhook_id.replace("\"Test 2\"", "\"Test 2 (retry)\"");
    assert_eq!(app.webhook("", &retried)?.json["duplicate"], true);
    let workflow = payload("workflow_inbound_sms.json");
    app.webhook("inbound_sms", &workflow)?;
    assert_eq!(app.webhook("inbound_sms", &workflow)?.json["duplicate"], true);
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 2);
    assert_eq!(app.count("SELECT inbound_count FROM issues WHERE kind = 'SMS'")?, 1);
    Ok(())
}

#[test]
fn the_same_message_under_a_new_webhook_id_is_a_duplicate() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let mut event: serde_json::Value = serde_json::from_str(&payload("inbound_sms_1.json"))?;
    event["messageId"] = "msg-123".into();
    event["webhookId"] = "wh-first".into();
    let first = app.webhook("", &event.to_string())?;
    assert_eq!(first.json["issue_created_or_updated"], true, "{first:?}");
    // The same message again, through a second installed app or a redelivery: a new webhookId.
    event["webhookId"] = "wh-second".into();
    event["timestamp"] = "2021-04-21T11:35:00.000Z".into();
    let again = app.webhook("", &event.to_string())?;
    assert_eq!(again.status, 200);
    assert_eq!(again.json, serde_json::json!({ "received": true, "duplicate": true }), "{again:?}");
    // And the same message without any webhookId.
    event.as_object_mut().map(|o| o.remove("webhookId"));
    assert_eq!(app.webhook("", &event.to_string())?.json["duplicate"], true);
    assert_eq!(app.count("SELECT inbound_count FROM issues")?, 1, "counted once");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    // A different message from the same customer still counts.
    event["messageId"] = "msg-124".into();
    assert_eq!(app.webhook("", &event.to_string())?.json["issue_created_or_updated"], true);
    assert_eq!(app.count("SELECT inbound_count FROM issues")?, 2);
    Ok(())
}

#[test]
fn concurrent_deliveries_of_one_webhook_store_one_event() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let body = payload("inbound_voicemail_1.json");
    let answers: Vec<anyhow::Result<u16>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20).map(|_| scope.spawn(|| app.webhook("", &body).map(|a| a.status))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::format_err!("panicked")))).collect()
    });
    for answer in answers {
        assert_eq!(answer?, 200);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 1);
    Ok(())
}

#[test]
fn events_for_another_location_are_stored_and_ignored() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("GHL_LOCATION_ID", "ours")])?;
    let answer = app.webhook("", &payload("inbound_sms_1.json"))?;
    assert!(answer.json["ignored"].as_str().unwrap_or_default().contains("GHL_LOCATION_ID"), "{answer:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 0);
    Ok(())
}

#[test]
fn health_reports_every_actor_without_a_secret() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let answer = request(&app.webhook_addr, "GET", "/health", &[], b"")?;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["ok"], true);
    let names: Vec<&str> = answer.json["actors"]
        .as_array()
        .map(|actors| actors.iter().filter_map(|a| a["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["store", "intake", "clock", "resolver", "summary", "outbox", "catchup"]);
    assert_eq!(answer.json["ghl"], "not configured");
    assert!(!answer.text.contains(SECRET));
    Ok(())
}

#[test]
fn the_issue_api_lists_and_shows_with_the_timeline() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    let list = app.admin("GET", "/api/issues?status=OPEN,PENDING")?;
    assert_eq!(list.json["issues"].as_array().map(Vec::len), Some(1), "{list:?}");
    let issue = &list.json["issues"][0];
    for key in ["id", "kind", "status", "party", "due_at"] {
        assert!(!issue[key].is_null(), "{key} missing: {issue}");
    }
    assert_eq!(app.admin("GET", "/api/issues?status=RESOLVED")?.json["issues"], serde_json::json!([]));
    assert_eq!(app.admin("GET", "/api/issues?status=bogus")?.status, 400);
    let one = app.admin("GET", &format!("/api/issues/{}", issue["id"]))?;
    assert_eq!(one.json["timeline"][0]["event"], "created", "{one:?}");
    assert_eq!(app.admin("GET", "/api/issues/999")?.status, 404);
    assert_eq!(app.admin("GET", "/api/issues/abc")?.status, 400);
    assert_eq!(request(&app.admin_addr, "GET", "/api/issues", &[], b"")?.status, 401);
    Ok(())
}

#[test]
fn raw_events_past_retention_are_pruned_nightly_by_themselves() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")])?;
    app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    app.set_clock("2026-03-20T09:00:00Z")?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1, "18 days old: kept");
    app.set_clock("2026-04-15T09:00:00Z")?;
    app.eventually("pruned at the nightly run", || Ok(app.count("SELECT COUNT(*) FROM raw_events")? == 0))?;
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 1, "issues outlive raw events");
    Ok(())
}

#[test]
fn raw_event_cleanup_is_a_dry_run_by_default() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")])?;
    app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    // 01:00 local: before the nightly run (02:00), which would prune it by itself.
    app.set_clock("2026-04-15T06:00:00Z")?;
    let dry = app.admin("POST", "/jobs/cleanup_raw_events")?;
    assert_eq!((dry.json["eligible"].as_i64(), dry.json["deleted"].as_i64()), (Some(1), Some(0)), "{dry:?}");
    assert_eq!(dry.json["retention_days"], 30);
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    let real = app.admin("POST", "/jobs/cleanup_raw_events?dry_run=0")?;
    assert_eq!(real.json["deleted"], 1, "{real:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 1, "issues outlive raw events");
    Ok(())
}

#[test]
fn admin_routes_answer_a_wrong_method_with_405_and_allow() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let auth = [("X-NTPP-Secret", SECRET)];
    let cases = [
        ("GET", "/jobs/poll_resolver", "POST"),
        ("DELETE", "/jobs/send_summary", "POST"),
        ("GET", "/jobs/verify_pending", "POST"),
        ("PUT", "/jobs/escalations", "POST"),
        ("GET", "/jobs/cleanup_raw_events", "POST"),
        ("GET", "/api/spam", "POST"),
        ("POST", "/api/issues", "GET"),
        ("DELETE", "/api/issues/1", "GET"),
        ("POST", "/api/status", "GET"),
        ("POST", "/status", "GET"),
        ("PUT", "/metrics", "GET"),
    ];
    for (method, path, allow) in cases {
        let answer = request(&app.admin_addr, method, path, &auth, b"")?;
        assert_eq!(answer.status, 405, "{method} {path}: {answer:?}");
        assert_eq!(answer.header("Allow"), Some(allow), "{method} {path}: {answer:?}");
        assert_eq!(answer.json["detail"], "Method Not Allowed", "{method} {path}");
    }
    // Without the secret the route is not confirmed: 401 first.
    assert_eq!(request(&app.admin_addr, "GET", "/jobs/poll_resolver", &[], b"")?.status, 401);
    // Unknown routes stay 404, and the right method still works.
    assert_eq!(request(&app.admin_addr, "GET", "/jobs/nothing_here", &auth, b"")?.status, 404);
    let polled = request(&app.admin_addr, "POST", "/jobs/poll_resolver", &auth, b"")?;
    assert_eq!(polled.status, 200, "{polled:?}");
    assert_eq!(polled.json["job"], "poll_resolver");
    Ok(())
}

#[test]
fn missed_call_markers_read_as_a_person_would_write_them() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let form = |body: &str| {
        request(
            &app.webhook_addr,
            "POST",
            "/webhook/ghl/unanswered_call",
            &[("X-NTPP-Secret", SECRET), ("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    };
    // A form carries numbers as text: "2" is non-zero, so truthy (SPEC §3.2).
    let two = form("contact_id=f1&missed_call=2&voicemail_route=tech_sentinel")?;
    assert_eq!(two.json["issue_created"], true, "{two:?}");
    let zero = form("contact_id=f2&missed_call=0&voicemail_route=tech_sentinel")?;
    assert!(zero.json["ignored"].as_str().unwrap_or_default().contains("not missed"), "{zero:?}");
    let shouted =
        app.webhook("unanswered_call", r#"{"contact_id":"f3","MISSED_CALL":true,"voicemail_route":"tech_sentinel"}"#)?;
    assert_eq!(shouted.json["issue_created"], true, "{shouted:?}");
    // An e-mail that a workflow posts to the text route is stored and ignored.
    let email = app.webhook("inbound_sms", r#"{"contact_id":"f4","message":{"type":"Email","body":"Invoice"}}"#)?;
    assert_eq!(email.json["ignored"], "inbound email", "{email:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 4, "every accepted webhook is stored");
    drop(app);
    // Without the requirement a call with no marker counts, but an explicit "not missed" does not.
    let app = Sentinel::start(&[("CALL_REQUIRE_MISSED_MARKER", "0")])?;
    let plain = app.webhook("unanswered_call", r#"{"contact_id":"g1","voicemail_route":"tech_sentinel"}"#)?;
    assert_eq!(plain.json["issue_created"], true, "{plain:?}");
    let answered =
        app.webhook("unanswered_call", r#"{"contact_id":"g2","missed_call":false,"voicemail_route":"tech_sentinel"}"#)?;
    assert!(answered.json["ignored"].as_str().unwrap_or_default().contains("not missed"), "{answered:?}");
    Ok(())
}
