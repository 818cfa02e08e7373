//! Marketplace webhook signatures (SPEC §3.3) with real keys generated in the test: Ed25519
//! by ring, RSA by the openssl command line.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use crate::harness::{SECRET, Sentinel, payload, request};

/// The location of the fixtures' `inbound_sms_1.json`: a signed event without the secret must
/// name the box's location (issue 23).
const LOCATION: &str = "l1C08ntBrFjLS0elLIYU";

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
    let body = payload("inbound_sms_1.json");
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
    // A bad signature is refused even with the secret: the body claims GHL sent it.
    assert_eq!(post(&app, &[("X-NTPP-Secret", crate::harness::SECRET), ("X-GHL-Signature", "AAAA")], &body)?, 401);
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
    let body = payload("inbound_sms_1.json");
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
    let mine = payload("inbound_sms_1.json");
    assert_eq!(post(&app, &[("X-GHL-Signature", &sign(&mine))], &mine)?, 200);
    // With the secret, another location's event is stored and ignored, as SPEC §3.2 says.
    assert_eq!(post(&app, &[("X-NTPP-Secret", SECRET)], &theirs)?, 200);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 2, "the workflow's and the signed one's");
    Ok(())
}
