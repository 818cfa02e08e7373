//! Marketplace webhook signatures (SPEC §3.3) with real keys generated in the test: Ed25519
//! by ring, RSA by the openssl command line.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::harness::{Answer, SECRET, Sentinel, payload, request};

/// The location of the fixtures' `inbound_sms_1.json`: a signed event without the secret must
/// name the box's location (issue 23).
const LOCATION: &str = "l1C08ntBrFjLS0elLIYU";

/// A documented event body as GHL delivers it: with the envelope's `webhookId` and the
/// `timestamp` the signature covers (`ghl/CONTRACT.md` §1.1; the per-event pages leave the
/// envelope out). An event proven by the signature alone needs a recent one (issue 23).
fn enveloped(body: &str, webhook_id: &str, at: Timestamp) -> String {
    let envelope = json!({ "webhookId": webhook_id, "timestamp": at.to_string() }).to_string();
    format!("{},{}", envelope.trim_end_matches('}'), body.trim_start().trim_start_matches('{'))
}

struct Keys {
    ed25519: Ed25519KeyPair,
    ed25519_pem: String,
    rsa_key_path: std::path::PathBuf,
    rsa_pem: String,
    _dir: tempfile::TempDir,
}

fn keys() -> anyhow::Result<Keys> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|e| anyhow::format_err!("{e}"))?;
    let ed25519 = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| anyhow::format_err!("{e}"))?;
    let mut spki = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    spki.extend_from_slice(ed25519.public_key().as_ref());
    let ed25519_pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", STANDARD.encode(spki));
    let dir = tempfile::tempdir()?;
    let rsa_key_path = dir.path().join("rsa.pem");
    let generated = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&rsa_key_path)
        .output()?;
    anyhow::ensure!(generated.status.success(), "openssl genpkey: {}", String::from_utf8_lossy(&generated.stderr));
    let public = Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&rsa_key_path).output()?;
    anyhow::ensure!(public.status.success(), "openssl pkey: {}", String::from_utf8_lossy(&public.stderr));
    Ok(Keys { ed25519, ed25519_pem, rsa_key_path, rsa_pem: String::from_utf8(public.stdout)?, _dir: dir })
}

fn rsa_sign(keys: &Keys, body: &[u8]) -> anyhow::Result<String> {
    let body_path = keys._dir.path().join("body");
    std::fs::write(&body_path, body)?;
    let signed =
        Command::new("openssl").args(["dgst", "-sha256", "-sign"]).arg(&keys.rsa_key_path).arg(&body_path).output()?;
    anyhow::ensure!(signed.status.success(), "openssl dgst: {}", String::from_utf8_lossy(&signed.stderr));
    Ok(STANDARD.encode(signed.stdout))
}

/// POSTs `body` to the events route signed with the test's Ed25519 key, with the secret too
/// when `with_secret`; the whole answer.
fn post_signed(app: &Sentinel, keys: &Keys, body: &str, with_secret: bool) -> anyhow::Result<Answer> {
    let signature = STANDARD.encode(keys.ed25519.sign(body.as_bytes()));
    let mut headers = vec![("Content-Type", "application/json"), ("X-GHL-Signature", signature.as_str())];
    if with_secret {
        headers.push(("X-NTPP-Secret", SECRET));
    }
    request(&app.webhook_addr, "POST", "/webhook/ghl", &headers, body.as_bytes())
}

fn post(app: &Sentinel, headers: &[(&str, &str)], body: &str) -> anyhow::Result<u16> {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    Ok(request(&app.webhook_addr, "POST", "/webhook/ghl", &all, body.as_bytes())?.status)
}

#[test]
fn signed_events_are_accepted_without_the_secret_and_bad_ones_refused() -> anyhow::Result<()> {
    let keys = keys()?;
    let app = Sentinel::start(&[
        ("GHL_WEBHOOK_ED25519_KEY", keys.ed25519_pem.as_str()),
        ("GHL_WEBHOOK_RSA_KEY", keys.rsa_pem.as_str()),
        ("GHL_REQUIRE_SIGNATURE", "1"),
        ("GHL_LOCATION_ID", LOCATION),
    ])?;
    let body = enveloped(&payload("inbound_sms_1.json"), "w-ed25519", Timestamp::now());
    let ed = STANDARD.encode(keys.ed25519.sign(body.as_bytes()));
    assert_eq!(post(&app, &[("X-GHL-Signature", &ed)], &body)?, 200, "valid Ed25519");
    let tampered = body.replace("This is a test message", "This is a tampered message");
    assert_eq!(post(&app, &[("X-GHL-Signature", &ed)], &tampered)?, 401, "tampered body");
    let other = Ed25519KeyPair::from_pkcs8(
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|e| anyhow::format_err!("{e}"))?.as_ref(),
    )
    .map_err(|e| anyhow::format_err!("{e}"))?;
    let wrong = STANDARD.encode(other.sign(body.as_bytes()));
    assert_eq!(post(&app, &[("X-GHL-Signature", &wrong)], &body)?, 401, "wrong key");
    assert_eq!(
        post(&app, &[("X-NTPP-Secret", crate::harness::SECRET)], &body)?,
        401,
        "missing signature when required"
    );
    let voicemail = payload("inbound_voicemail_1.json").replace("0dalah57827q67DAuXUxbpy", LOCATION);
    let voicemail = enveloped(&voicemail, "w-rsa", Timestamp::now());
    let rsa = rsa_sign(&keys, voicemail.as_bytes())?;
    assert_eq!(post(&app, &[("X-WH-Signature", &rsa)], &voicemail)?, 200, "valid legacy RSA");
    let rsa_tampered = voicemail.replace("voicemail\"", "completed\"");
    assert_eq!(post(&app, &[("X-WH-Signature", &rsa)], &rsa_tampered)?, 401, "tampered RSA body");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 2, "only the two valid events are stored");
    Ok(())
}

#[test]
fn without_the_requirement_unsigned_events_need_the_secret() -> anyhow::Result<()> {
    let keys = keys()?;
    let app = Sentinel::start(&[("GHL_WEBHOOK_ED25519_KEY", keys.ed25519_pem.as_str())])?;
    let body = payload("inbound_sms_1.json");
    assert_eq!(post(&app, &[], &body)?, 401);
    assert_eq!(post(&app, &[("X-NTPP-Secret", crate::harness::SECRET)], &body)?, 200);
    // The right secret is always served (SPEC §2), even beside a signature that does not verify
    // (GHL rotated its key, say): only GHL_REQUIRE_SIGNATURE=1 makes the signature decide.
    assert_eq!(post(&app, &[("X-NTPP-Secret", crate::harness::SECRET), ("X-GHL-Signature", "AAAA")], &body)?, 200);
    assert!(app.log().contains("signature did not verify"), "{}", app.log());
    let strict =
        Sentinel::start(&[("GHL_WEBHOOK_ED25519_KEY", keys.ed25519_pem.as_str()), ("GHL_REQUIRE_SIGNATURE", "1")])?;
    assert_eq!(post(&strict, &[("X-NTPP-Secret", crate::harness::SECRET), ("X-GHL-Signature", "AAAA")], &body)?, 401);
    Ok(())
}

#[test]
fn a_validly_signed_event_is_served_during_a_flood_of_forged_ones() -> anyhow::Result<()> {
    let keys = keys()?;
    let app = Sentinel::start(&[
        ("GHL_WEBHOOK_ED25519_KEY", keys.ed25519_pem.as_str()),
        ("GHL_REQUIRE_SIGNATURE", "1"),
        ("GHL_LOCATION_ID", LOCATION),
    ])?;
    let body = enveloped(&payload("inbound_sms_1.json"), "w-flood", Timestamp::now());
    let forged = STANDARD.encode([7u8; 64]);
    // Forgeries from the same address as GHL (the tunnel), all at once: past the budget they
    // are slowed down (429), each on its own connection.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let posts: Vec<_> =
            (0..25).map(|_| scope.spawn(|| post(&app, &[("X-GHL-Signature", &forged)], &body).unwrap_or(0))).collect();
        posts.into_iter().map(|p| p.join().unwrap_or(0)).collect()
    });
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15, "{statuses:?}");
    let signed = STANDARD.encode(keys.ed25519.sign(body.as_bytes()));
    assert_eq!(post(&app, &[("X-GHL-Signature", &signed)], &body)?, 200, "the real event is served");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    Ok(())
}

#[test]
fn an_event_signed_for_another_ghl_account_is_refused_and_teaches_nothing() -> anyhow::Result<()> {
    // GHL signs every account's events with one key: anyone with a GHL location and an app
    // receives validly signed events of their own, and could post them here (issue 23).
    let keys = keys()?;
    let app = Sentinel::start(&[("GHL_WEBHOOK_ED25519_KEY", keys.ed25519_pem.as_str())])?;
    let sign = |body: &str| STANDARD.encode(keys.ed25519.sign(body.as_bytes()));
    let theirs = payload("inbound_sms_1.json").replace(LOCATION, "attackers-location");
    // No location known yet: a signature alone cannot be told apart, so it is refused, and the
    // box does not learn the sender's location from it.
    let answer = request(
        &app.webhook_addr,
        "POST",
        "/webhook/ghl",
        &[("Content-Type", "application/json"), ("X-GHL-Signature", &sign(&theirs))],
        theirs.as_bytes(),
    )?;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(answer.json["detail"].as_str().is_some_and(|d| d.contains("GHL_LOCATION_ID")), "{answer:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM kv WHERE key = 'ghl_location_learned'")?, 0);
    // A workflow webhook with the secret teaches the box its own location.
    let ours = format!(r#"{{"contact_id":"c1","message":{{"body":"hi"}},"location":{{"id":"{LOCATION}"}}}}"#);
    assert_eq!(app.webhook("inbound_sms", &ours)?.status, 200);
    app.eventually("the location is learnt", || {
        Ok(app.count("SELECT COUNT(*) FROM kv WHERE key = 'ghl_location_learned'")? == 1)
    })?;
    // Then the other account's signed events are still refused, and this box's own are served.
    assert_eq!(post(&app, &[("X-GHL-Signature", &sign(&theirs))], &theirs)?, 403);
    let mine = enveloped(&payload("inbound_sms_1.json"), "w-mine", Timestamp::now());
    assert_eq!(post(&app, &[("X-GHL-Signature", &sign(&mine))], &mine)?, 200);
    // With the secret, another location's event is stored and ignored, as SPEC §3.2 says.
    assert_eq!(post(&app, &[("X-NTPP-Secret", SECRET)], &theirs)?, 200);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 2, "the workflow's and the signed one's");
    Ok(())
}

/// The manual clock's start in these tests: Monday 2 March 2026, 9:00 in Chicago.
const NOW: &str = "2026-03-02T15:00:00Z";

/// A signed body can be posted again by anyone who saw it, and GHL's signature never expires:
/// an event proven by the signature alone is taken only within a day of its signed
/// `timestamp` (and not from the future); the secret is unaffected (issue 23).
#[test]
fn a_signed_event_is_refused_once_its_signed_timestamp_is_a_day_old() -> anyhow::Result<()> {
    let keys = keys()?;
    let app = Sentinel::start(&[
        ("GHL_WEBHOOK_ED25519_KEY", keys.ed25519_pem.as_str()),
        ("GHL_LOCATION_ID", LOCATION),
        ("SENTINEL_TEST_NOW", NOW),
    ])?;
    let now: Timestamp = NOW.parse()?;
    let signed = |body: &str, with_secret: bool| post_signed(&app, &keys, body, with_secret);
    let sms = payload("inbound_sms_1.json");
    let stale = enveloped(&sms, "w-stale", now - SignedDuration::from_hours(25));
    let ahead = enveloped(&sms, "w-ahead", now + SignedDuration::from_mins(56));
    for (body, expected) in
        [(&stale, "more than 24 hours ago: refused as a possible replay"), (&ahead, "ahead of this box's clock")]
    {
        let answer = signed(body, false)?;
        assert_eq!(answer.status, 403, "{answer:?}");
        let detail = answer.json["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(expected), "expected {expected:?} in {detail:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 0, "nothing stored");
    assert!(app.log().contains("a GHL-signed event without the secret was refused"), "{}", app.log());
    // Within the day, the signature alone is enough; with the secret, age does not matter.
    let fresh = enveloped(&sms, "w-fresh", now - SignedDuration::from_hours(23));
    assert_eq!(signed(&fresh, false)?.status, 200);
    assert_eq!(signed(&stale, true)?.status, 200, "the secret is unaffected");
    // GHL's documented InboundMessage samples carry no timestamp: such an event is taken, and a
    // second copy of it is a duplicate.
    assert_eq!(signed(&sms, false)?.status, 200, "an undated signed event is not lost");
    assert_eq!(signed(&sms, false)?.status, 200);
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 3);
    Ok(())
}

/// A replay within the day meets the event's duplicate keys, even after the nightly run has
/// pruned raw events to fit the data budget: a day's events keep their rows and keys and lose
/// only their bodies (issue 23).
#[test]
fn a_signed_event_replayed_within_its_day_is_a_duplicate_even_after_pruning_to_fit() -> anyhow::Result<()> {
    let keys = keys()?;
    let app = Sentinel::start(&[
        ("GHL_WEBHOOK_ED25519_KEY", keys.ed25519_pem.as_str()),
        ("GHL_LOCATION_ID", LOCATION),
        ("SENTINEL_TEST_NOW", NOW),
        ("DATA_MAX_MB", "1"),
        ("RAW_EVENTS_RETENTION_DAYS", "1"),
    ])?;
    let now: Timestamp = NOW.parse()?;
    let event = enveloped(&payload("inbound_sms_1.json"), "w-replayed", now - SignedDuration::from_mins(30));
    let first = post_signed(&app, &keys, &event, false)?;
    assert_eq!(first.status, 200, "{first:?}");
    assert!(first.json["duplicate"].is_null(), "{first:?}");
    // Then a day's worth of big workflow texts: more than the database's quarter of 1 MB.
    let text = "y".repeat(1500);
    for n in 0..600 {
        let body = json!({ "contact_id": "talker", "message": { "body": format!("{n} {text}") } }).to_string();
        assert_eq!(app.webhook("inbound_sms", &body)?.status, 200);
    }
    // The nightly run at 02:00 in Chicago, 18 hours after GHL signed the event.
    app.set_clock("2026-03-03T08:30:00Z")?;
    app.eventually("the nightly run done", || {
        Ok(app.count("SELECT COUNT(*) FROM kv WHERE key = 'last_backup_date' AND value = '2026-03-03'")? == 1)
    })?;
    assert!(app.count("SELECT COUNT(*) FROM raw_events WHERE body != ''")? < 601, "pruned to fit");
    let replayed = post_signed(&app, &keys, &event, false)?;
    assert_eq!(replayed.status, 200, "{replayed:?}");
    assert_eq!(replayed.json["duplicate"], true, "the replay is a duplicate: {replayed:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM event_keys WHERE key = 'webhook:w-replayed'")?, 1);
    assert_eq!(app.count("SELECT inbound_count FROM issues WHERE contact_id = 'cI08i1Bls3iTB9bKgFJh'")?, 1);
    Ok(())
}

/// An undated event proven by the signature alone and without an id of its own (the shape of
/// GHL's documented InboundMessage sample) is keyed by its body, so the same bytes posted again
/// hours later are a duplicate, not a new text (or a manager's command run again).
#[test]
fn an_undated_signed_event_posted_again_hours_later_is_a_duplicate() -> anyhow::Result<()> {
    let keys = keys()?;
    let app = Sentinel::start(&[
        ("GHL_WEBHOOK_ED25519_KEY", keys.ed25519_pem.as_str()),
        ("GHL_LOCATION_ID", LOCATION),
        ("SENTINEL_TEST_NOW", NOW),
    ])?;
    let body = payload("inbound_sms_1.json");
    let first = post_signed(&app, &keys, &body, false)?;
    assert_eq!((first.status, first.json["duplicate"].is_null()), (200, true), "{first:?}");
    let later: Timestamp = NOW.parse::<Timestamp>()? + SignedDuration::from_hours(6);
    app.set_clock(&later.to_string())?;
    let again = post_signed(&app, &keys, &body, false)?;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json["duplicate"], true, "posted again six hours later: {again:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    Ok(())
}
