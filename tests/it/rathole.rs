//! Webhooks through the self-hosted tunnel the image ships (APPLIANCE §1.3, issue 16): a real
//! rathole 0.5.0 server and client on loopback, Noise transport, in front of the real binary.
//!
//! The client's configuration is the shipped `systemd/rathole-client.toml` with only its
//! addresses, the server's public key and the token filled in, so these tests prove that file
//! works. The server's configuration follows the sketch in that file's header. Both run
//! in-process as rathole's library, each on a tokio runtime of its own: dropping the server's
//! runtime closes every socket it holds, as a SIGKILL of the server process would. The client is
//! started once per tunnel and never restarted: reconnecting is its own job.
//!
//! Nothing here is optional, so under CI there is nothing to skip.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};

use crate::harness::{SECRET, Sentinel};
use crate::tunnel::Webhooks;

/// The test server's Noise key pair (X25519, base64, as `rathole --genkey` prints them). Made
/// for these tests with `openssl genpkey -algorithm X25519`; it guards nothing else.
const SERVER_PRIVATE_KEY: &str = "2I3/GLgXd7ufbjk0trAuhaNJhcBMzLz1VFWPjlR2tEM=";
const SERVER_PUBLIC_KEY: &str = "c05P/ZEW5XbYyQEBpM0rz0DmQqrIZQrzTS1sA4soLRA=";
/// How long a tunnel may take to come up, or to come back after its server restarts.
const TUNNEL_LIMIT: Duration = Duration::from_secs(10);
/// Webhooks sent across the server's death and restart, by [`SENDERS`] concurrent senders.
const WEBHOOKS: usize = 60;
const SENDERS: usize = 4;
/// How long the server stays dead.
const OUTAGE: Duration = Duration::from_millis(300);

#[test]
fn webhooks_cross_rathole_and_the_client_reconnects_after_its_server_is_killed() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("RUST_LOG", "warn")])?;
    let mut tunnel = Tunnel::start(&app, "the-token")?;
    tunnel.wait_until_up(&app)?;

    let (acked_tx, acked) = mpsc::channel::<(usize, Instant)>();
    let next = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(20);
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (public, next, retries, acked) =
                (tunnel.public_addr.clone(), next.clone(), retries.clone(), acked_tx.clone());
            std::thread::spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= WEBHOOKS || !WEBHOOKS_SENT.deliver(&public, n, deadline, &retries) {
                        return;
                    }
                    let _ = acked.send((n, Instant::now()));
                }
            })
        })
        .collect();
    drop(acked_tx);

    let mut delivered = Vec::new();
    let wait = |acked: &mpsc::Receiver<(usize, Instant)>| {
        acked
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .with_context(|| format!("not every webhook was acknowledged through rathole in time; log:\n{}", app.log()))
    };
    while delivered.len() < WEBHOOKS / 4 {
        delivered.push(wait(&acked)?);
    }
    // The server dies with deliveries under way, and comes back on the same addresses.
    tunnel.kill_server();
    std::thread::sleep(OUTAGE);
    tunnel.start_server()?;
    let restarted = Instant::now();
    while delivered.len() < WEBHOOKS {
        delivered.push(wait(&acked)?);
    }
    for sender in senders {
        let _ = sender.join();
    }

    let after: Vec<Instant> = delivered.iter().map(|(_, at)| *at).filter(|at| *at > restarted).collect();
    ensure!(after.len() >= WEBHOOKS / 4, "webhooks flow again after the restart ({} did)", after.len());
    ensure!(!tunnel.client.task.is_finished(), "the very client started at first is still running");
    let stored: HashMap<String, i64> = app
        .db()?
        .prepare("SELECT idem_key, COUNT(*) FROM raw_events GROUP BY idem_key")?
        .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?
        .collect::<Result<_, _>>()?;
    for (n, _) in &delivered {
        let key = format!("webhook:{}", WEBHOOKS_SENT.id(*n));
        assert_eq!(stored.get(&key), Some(&1), "{key} was acknowledged through rathole, so it is stored once");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, WEBHOOKS as i64, "nothing stored twice or extra");
    let back = after.iter().min().map(|at| at.duration_since(restarted)).unwrap_or_default();
    println!(
        "rathole: {WEBHOOKS} webhooks acknowledged, {} failed attempts retried, first one through {back:?} after the \
         server came back",
        retries.load(Ordering::Relaxed)
    );
    Ok(())
}

#[test]
fn a_rathole_client_with_a_wrong_token_gets_no_webhook_through() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("RUST_LOG", "warn")])?;
    let mut tunnel = Tunnel::start(&app, "the-token")?;
    tunnel.client.stop();
    tunnel.client =
        Client::start(&tunnel.dir, &client_config(&app.webhook_addr, tunnel.control_port, "not-the-token")?)?;
    // Long enough for the client to be refused, and to try again, several times.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let status = post(&tunnel.public_addr, "/webhook/ghl", &WEBHOOKS_SENT.body(0)).unwrap_or(0);
        ensure!(!(200..300).contains(&status), "a webhook got through a client with the wrong token ({status})");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 0, "no webhook reached Sentinel");

    // The same client with the right token: the refusal was the token's doing.
    tunnel.client.stop();
    tunnel.client = Client::start(&tunnel.dir, &client_config(&app.webhook_addr, tunnel.control_port, "the-token")?)?;
    tunnel.wait_until_up(&app)?;
    assert!(WEBHOOKS_SENT.deliver(&tunnel.public_addr, 1, Instant::now() + TUNNEL_LIMIT, &AtomicUsize::new(0)));
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1, "the right token lets the webhook through");
    Ok(())
}

#[test]
fn only_the_webhook_listener_is_reachable_through_rathole() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("RUST_LOG", "warn")])?;
    let tunnel = Tunnel::start(&app, "the-token")?;
    tunnel.wait_until_up(&app)?;
    for path in ["/status", "/metrics", "/api/issues", "/api/status", "/console"] {
        let direct = get(&app.admin_addr, path)?;
        ensure!(direct != 404, "{path} is served on the admin listener ({direct})");
        let through = get(&tunnel.public_addr, path)?;
        assert_eq!(through, 404, "{path} must not be reachable through the tunnel");
    }
    assert_eq!(post(&tunnel.public_addr, "/webhook/ghl", &WEBHOOKS_SENT.body(0))?, 200, "the webhook route is");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    Ok(())
}

// === the tunnel ===

/// A rathole server and client joined by one service, `ghl`, that publishes Sentinel's webhook
/// listener on `public_addr`.
pub(crate) struct Tunnel {
    dir: tempfile::TempDir,
    control_port: u16,
    /// Where the public server takes connections for the service, `127.0.0.1:port`.
    pub(crate) public_addr: String,
    server: Option<Instance>,
    client: Client,
}

type Client = Instance;

impl Tunnel {
    pub(crate) fn start(app: &Sentinel, token: &str) -> anyhow::Result<Tunnel> {
        Tunnel::start_to(&app.webhook_addr, token)
    }

    /// A tunnel whose client forwards to `local` (`LISTEN_ADDR` as shipped; anything else is
    /// an ingress to the wrong port).
    pub(crate) fn start_to(local: &str, token: &str) -> anyhow::Result<Tunnel> {
        let dir = tempfile::tempdir()?;
        let control_port = free_port()?;
        let public_addr = format!("127.0.0.1:{}", free_port()?);
        let server = format!(
            "[server]\nbind_addr = \"127.0.0.1:{control_port}\"\n\n[server.transport]\ntype = \"noise\"\n\n\
             [server.transport.noise]\nlocal_private_key = \"{SERVER_PRIVATE_KEY}\"\n\n[server.services.ghl]\n\
             token = \"{token}\"\nbind_addr = \"{public_addr}\"\n"
        );
        std::fs::write(dir.path().join("server.toml"), server)?;
        let client = Client::start(&dir, &client_config(local, control_port, token)?)?;
        let mut tunnel = Tunnel { dir, control_port, public_addr, server: None, client };
        tunnel.start_server()?;
        Ok(tunnel)
    }

    pub(crate) fn start_server(&mut self) -> anyhow::Result<()> {
        let path = self.dir.path().join("server.toml");
        self.server =
            Some(Instance::run(rathole::Cli { config_path: Some(path), server: true, ..Default::default() })?);
        Ok(())
    }

    pub(crate) fn kill_server(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }

    /// Waits until Sentinel's `/health` answers through the tunnel: the server accepts on the
    /// public address and the client's control channel is up.
    pub(crate) fn wait_until_up(&self, app: &Sentinel) -> anyhow::Result<()> {
        let deadline = Instant::now() + TUNNEL_LIMIT;
        while Instant::now() < deadline {
            if get(&self.public_addr, "/health").ok() == Some(200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("rathole did not come up within {TUNNEL_LIMIT:?}; log:\n{}", app.log())
    }
}

/// The shipped client configuration, with the server's address and public key, the token and
/// the local address (Sentinel's webhook listener) filled in; every other line as shipped.
fn client_config(local: &str, control_port: u16, token: &str) -> anyhow::Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/rathole-client.toml");
    let shipped = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let remote = format!("127.0.0.1:{control_port}");
    let filled = [
        ("remote_addr = \"REPLACE_ME.example.com:2333\"", format!("remote_addr = \"{remote}\"")),
        ("remote_public_key = \"REPLACE_ME\"", format!("remote_public_key = \"{SERVER_PUBLIC_KEY}\"")),
        ("token = \"REPLACE_ME\"", format!("token = \"{token}\"")),
        // LISTEN_ADDR's default: the webhook listener, never ADMIN_LISTEN_ADDR (127.0.0.1:8001).
        ("local_addr = \"127.0.0.1:8000\"", format!("local_addr = \"{local}\"")),
    ];
    let mut config = shipped.clone();
    for (line, with) in filled {
        let found = shipped.lines().filter(|l| l.trim() == line).count();
        ensure!(found == 1, "the shipped rathole-client.toml has `{line}` {found} times, not once");
        config = config.replace(line, &with);
    }
    let unfilled = config.lines().any(|l| !l.trim_start().starts_with('#') && l.contains("REPLACE_ME"));
    ensure!(!unfilled, "every REPLACE_ME of the shipped file is filled");
    let services = shipped.lines().filter(|l| l.trim_start().starts_with("[client.services.")).count();
    ensure!(services == 1, "the shipped file forwards one service, the webhook listener ({services} found)");
    Ok(config)
}

/// One `rathole::run`, server or client, on a runtime of its own.
struct Instance {
    runtime: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Held: rathole stops when the sender goes away.
    _shutdown: tokio::sync::broadcast::Sender<bool>,
}

impl Instance {
    fn run(cli: rathole::Cli) -> anyhow::Result<Instance> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let (shutdown, shutdown_rx) = tokio::sync::broadcast::channel(1);
        let task = runtime.spawn(rathole::run(cli, shutdown_rx));
        Ok(Instance { runtime, task, _shutdown: shutdown })
    }

    /// A client running the given configuration, written to `client.toml` in `dir`.
    fn start(dir: &tempfile::TempDir, config: &str) -> anyhow::Result<Client> {
        let path: PathBuf = dir.path().join("client.toml");
        std::fs::write(&path, config)?;
        Instance::run(rathole::Cli { config_path: Some(path), client: true, ..Default::default() })
    }

    /// Drops the runtime and with it every task and socket: a kill, not a shutdown.
    fn stop(self) {
        drop(self.runtime);
    }
}

// === webhooks ===

/// This file's webhooks: from five parties, sent as `tunnel.rs` sends its own.
pub(crate) const WEBHOOKS_SENT: Webhooks = Webhooks { tag: "rathole", parties: 5, post: post_webhook };

/// One delivery, giving up on a silent tunnel after a few seconds (see `status_of`).
fn post_webhook(addr: &str, body: &str) -> anyhow::Result<u16> {
    post(addr, "/webhook/ghl", body)
}

fn post(addr: &str, path: &str, body: &str) -> anyhow::Result<u16> {
    status_of(addr, "POST", path, body)
}

fn get(addr: &str, path: &str) -> anyhow::Result<u16> {
    status_of(addr, "GET", path, "")
}

/// One request with the shared secret; the answer's status. A tunnel whose far end is gone may
/// hold a connection open, so reads give up after a few seconds (the harness waits a minute).
fn status_of(addr: &str, method: &str, path: &str, body: &str) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-NTPP-Secret: {SECRET}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let line = String::from_utf8_lossy(&answer);
    let status = line.split(' ').nth(1).and_then(|code| code.parse().ok());
    status.with_context(|| format!("no HTTP answer from {addr}{path}"))
}

/// A port on 127.0.0.1 that was free a moment ago; the server keeps it across its restart, as a
/// public server keeps its address.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
