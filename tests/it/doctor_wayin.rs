//! `sentinel doctor`'s way in (issue 27) through the real rathole tunnel of `rathole.rs`: the
//! real binary posts a probe to `PUBLIC_URL`, the tunnel's public port, and asks the running
//! service's admin listener whether it arrived. ✓ when the tunnel carries it; ✗ with its own
//! reason when the tunnel server is down, when the ingress forwards to the wrong port, and when
//! the secret differs. No GHL token is given, so the GHL check fails the exit code; these tests
//! read the way in's lines by name in `--json`.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::Value;

use crate::harness::{SECRET, Sentinel, command};
use crate::rathole::{Tunnel, free_port};

/// Runs `sentinel doctor --json` beside `app` (its database and admin listener) with `env` on
/// top; the report.
fn doctor(app: &Sentinel, env: &[(&str, &str)]) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let output = command()
        .args(["doctor", "--json"])
        .env_clear()
        .env("DB_PATH", app.db_path())
        .env("ADMIN_LISTEN_ADDR", &app.admin_addr)
        .env("WEBHOOK_SECRET", SECRET)
        .env("LED_PATH", dir.path().join("no-led"))
        .env("SENTINEL_KEYS_DIR", dir.path().join("keys"))
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    ensure!(!stdout.contains(SECRET), "the secret is never shown whole:\n{stdout}");
    serde_json::from_str(&stdout).with_context(|| {
        format!("doctor --json printed {stdout:?}; stderr {}", String::from_utf8_lossy(&output.stderr))
    })
}

/// The way-in check named `name`: its level, detail and advice (empty for a pass).
fn line(report: &Value, name: &str) -> anyhow::Result<(String, String, String)> {
    let check = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|check| check["name"] == name))
        .with_context(|| format!("no check named {name:?} in {report:#}"))?;
    ensure!(check["area"] == "way in", "{name} is not a way-in check: {check}");
    let text = |field: &str| check[field].as_str().unwrap_or("").to_string();
    Ok((text("level"), text("detail"), text("advice")))
}

fn public_url(tunnel: &Tunnel) -> String {
    format!("http://{}", tunnel.public_addr)
}

/// Waits until something takes connections on `addr` (the tunnel server binds its public port
/// once the client's control channel is up).
fn wait_for_listener(addr: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listened on {addr} within 10 s")
}

#[test]
fn the_probe_crosses_rathole_and_a_dead_tunnel_server_is_named() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("RUST_LOG", "warn")])?;
    let mut tunnel = Tunnel::start(&app, "the-token")?;
    tunnel.wait_until_up(&app)?;
    let url = public_url(&tunnel);

    let report = doctor(&app, &[("PUBLIC_URL", &url)])?;
    let (level, detail, _) = line(&report, "way in")?;
    assert_eq!(level, "ok", "{detail}");
    assert!(detail.contains("the tunnel, its ingress and the secret work"), "{detail}");
    // What GHL's workflows must be given, ready to paste; the secret by its last four only.
    assert_eq!(line(&report, "URL inbound SMS")?.1, format!("{url}/webhook/ghl/inbound_sms"));
    assert_eq!(line(&report, "URL unanswered call")?.1, format!("{url}/webhook/ghl/unanswered_call"));
    assert_eq!(line(&report, "URL events")?.1, format!("{url}/webhook/ghl"));
    let (level, detail, _) = line(&report, "webhook secret")?;
    assert!(level == "ok" && detail.contains("****6789"), "{detail}");
    // The probe is no event, and no real webhook came yet.
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 0, "the probe is not stored");
    let (level, detail, advice) = line(&report, "last webhook")?;
    assert!(level == "warn" && detail.contains("no webhook has arrived yet") && !advice.is_empty(), "{detail}");

    // A real webhook through the tunnel: the last business day has one.
    let body = crate::rathole::WEBHOOKS_SENT.body(0);
    let answer = crate::harness::request(
        &tunnel.public_addr,
        "POST",
        "/webhook/ghl",
        &[("X-NTPP-Secret", SECRET), ("Content-Type", "application/json")],
        body.as_bytes(),
    )?;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let report = doctor(&app, &[("PUBLIC_URL", &url)])?;
    assert_eq!(line(&report, "last webhook")?.0, "ok", "{report:#}");

    // The tunnel server dies: nothing takes the public port.
    tunnel.kill_server();
    let report = doctor(&app, &[("PUBLIC_URL", &url)])?;
    let (level, detail, advice) = line(&report, "way in")?;
    assert_eq!(level, "fail", "{detail}");
    assert!(detail.contains("did not answer") && detail.contains("the tunnel server is down"), "{detail}");
    assert!(advice.contains("tunnel server"), "{advice}");
    Ok(())
}

#[test]
fn an_ingress_to_the_wrong_port_is_named() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("RUST_LOG", "warn")])?;
    // The admin listener's port instead of the webhook listener's (8001 for 8000): it answers
    // /health, but never takes the probe.
    let tunnel = Tunnel::start_to(&app.admin_addr, "the-token")?;
    tunnel.wait_until_up(&app)?;
    let report = doctor(&app, &[("PUBLIC_URL", &public_url(&tunnel))])?;
    let (level, detail, advice) = line(&report, "way in")?;
    assert_eq!(level, "fail", "{detail}");
    assert!(detail.contains("answered 404") && detail.contains("the ingress forwards to the wrong port"), "{detail}");
    assert!(advice.contains("LISTEN_ADDR"), "{advice}");
    drop(tunnel);

    // A port where nothing listens: the tunnel takes the connection and closes it unanswered.
    let nowhere = format!("127.0.0.1:{}", free_port()?);
    let tunnel = Tunnel::start_to(&nowhere, "the-token")?;
    wait_for_listener(&tunnel.public_addr)?;
    let report = doctor(&app, &[("PUBLIC_URL", &public_url(&tunnel))])?;
    let (level, detail, advice) = line(&report, "way in")?;
    assert_eq!(level, "fail", "{detail}");
    assert!(detail.contains("nothing answered behind it") && detail.contains("wrong port"), "{detail}");
    assert!(advice.contains("local_addr is LISTEN_ADDR"), "{advice}");
    Ok(())
}

#[test]
fn a_secret_that_differs_is_named_and_refused_as_any_wrong_secret() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("RUST_LOG", "warn")])?;
    let tunnel = Tunnel::start(&app, "the-token")?;
    tunnel.wait_until_up(&app)?;
    let url = public_url(&tunnel);
    let other = "another-secret-9876543210";
    let report = doctor(&app, &[("PUBLIC_URL", &url), ("WEBHOOK_SECRET", other)])?;
    let (level, detail, advice) = line(&report, "way in")?;
    assert_eq!(level, "fail", "{detail}");
    assert!(detail.contains("refused the probe's secret (401)") && detail.contains("the secret differs"), "{detail}");
    assert!(advice.contains("WEBHOOK_SECRET"), "{advice}");
    assert!(line(&report, "webhook secret")?.1.contains("****3210"));
    let log = app.log();
    assert!(log.contains("a way-in probe with a wrong or missing secret"), "the refusal is logged:\n{log}");

    // The probe route takes only the webhook secret, only by POST, and only on the webhook
    // listener; the admin route answers only with the secret.
    let probe = |addr: &str, secret: &str| {
        crate::harness::request(
            addr,
            "POST",
            "/webhook/ghl/probe",
            &[("X-NTPP-Secret", secret), ("Content-Type", "application/json")],
            br#"{"nonce":"0123456789abcdef"}"#,
        )
    };
    assert_eq!(probe(&app.webhook_addr, other)?.status, 401);
    assert_eq!(app.admin("GET", "/api/probe/0123456789abcdef")?.json["arrived"], false);
    assert_eq!(probe(&app.admin_addr, SECRET)?.status, 404, "not on the admin listener");
    assert_eq!(probe(&app.webhook_addr, SECRET)?.status, 200);
    assert_eq!(app.admin("GET", "/api/probe/0123456789abcdef")?.json["arrived"], true);
    let unauthenticated = crate::harness::request(&app.admin_addr, "GET", "/api/probe/0123456789abcdef", &[], b"")?;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 0, "probes are not stored");

    // Without PUBLIC_URL the way in is a warning that says what to set.
    let report = doctor(&app, &[])?;
    let (level, detail, _) = line(&report, "way in")?;
    assert!(level == "warn" && detail.contains("set PUBLIC_URL"), "{detail}");
    Ok(())
}
