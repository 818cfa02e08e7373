//! Webhooks through a real tunnel (APPLIANCE §1.3): bore's relay and client on loopback in front
//! of the real binary, the relay killed mid-way (with deliveries under way, one of them
//! certainly cut off halfway through its body) and started again.
//!
//! The relay stands for the public server, the client for the tunnel unit on the Pi. bore's
//! client exits when its relay goes away and never reconnects, so the test plays systemd's
//! `Restart=always` for it. Senders retry every failure, as GHL does, and each webhook carries a
//! `webhookId` that stays the same across retries. Every webhook acknowledged with a 2xx through
//! the tunnel must be stored exactly once, and the ones sent after the restart must arrive.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::harness::{SECRET, Sentinel, request};

/// Webhooks sent in all: the first half from the start (the relay dies once a quarter is
/// acknowledged), a quarter released at the kill and a quarter once the tunnel is back.
const WEBHOOKS: usize = 60;
/// Concurrent senders.
const SENDERS: usize = 4;
/// Everything must be delivered within this, well inside the 20 s budget of the test.
const DELIVERY_LIMIT: Duration = Duration::from_secs(15);
/// What the stand-in for systemd waits before restarting the client (`RestartSec=`).
const RESTART_SEC: Duration = Duration::from_millis(100);
/// Where everything listens: the relay, its public port and Sentinel.
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[test]
fn webhooks_through_a_killed_and_restarted_tunnel_are_stored_exactly_once() -> anyhow::Result<()> {
    let _port_lock = control_port_lock()?;
    let app = Sentinel::start(&[("RUST_LOG", "warn")])?;
    let origin_port: u16 = app.webhook_addr.rsplit_once(':').map(|(_, port)| port).unwrap_or_default().parse()?;
    let public_port = free_port()?;
    let public_addr = format!("127.0.0.1:{public_port}");
    let secret = relay_secret();

    let mut relay = Relay::start(public_port, &secret)?;
    let client = ClientService::start(origin_port, public_port, &secret);
    client.wait_until_connected(&mut relay, 1)?;

    let phase = Gate::default();
    let (acked_tx, acked) = mpsc::channel();
    let retries = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + DELIVERY_LIMIT;
    let senders: Vec<JoinHandle<()>> = (0..SENDERS)
        .map(|_| {
            let sender = Sender {
                public_addr: public_addr.clone(),
                next: next.clone(),
                phase: phase.clone(),
                retries: retries.clone(),
                acked: acked_tx.clone(),
                deadline,
            };
            std::thread::spawn(move || sender.run())
        })
        .collect();
    drop(acked_tx);

    let mut delivered = Vec::new();
    // Kill the relay once a quarter is through, while the rest of the first half is under way
    // and one more delivery has sent its head and half its body into the tunnel.
    while delivered.len() < WEBHOOKS / 4 {
        delivered.push(next_ack(&acked, deadline, &app)?);
    }
    let cut = CutDelivery::start(&public_addr, CUT)?;
    relay.kill();
    assert!(!cut.finish(), "a delivery the relay's death cut off was not acknowledged");
    phase.open(1);
    let mut relay = Relay::start(public_port, &secret)?;
    client.wait_until_connected(&mut relay, 2)?;
    phase.open(2);
    // GHL delivers the cut webhook again, through the tunnel that is back.
    assert!(WEBHOOKS_SENT.deliver(&public_addr, CUT, deadline, &retries), "the cut webhook arrived on its retry");
    delivered.push(CUT);
    while delivered.len() < WEBHOOKS + 1 {
        delivered.push(next_ack(&acked, deadline, &app)?);
    }
    for sender in senders {
        let _ = sender.join();
    }
    client.stop(relay);

    let stored: HashMap<String, i64> = app
        .db()?
        .prepare("SELECT idem_key, COUNT(*) FROM raw_events GROUP BY idem_key")?
        .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?
        .collect::<Result<_, _>>()?;
    for id in &delivered {
        let key = format!("webhook:{}", WEBHOOKS_SENT.id(*id));
        assert_eq!(stored.get(&key), Some(&1), "{key} was acknowledged through the tunnel, so it is stored once");
    }
    let after_restart: Vec<usize> = (0..WEBHOOKS).filter(|n| phase_of(*n) == 2).collect();
    assert!(after_restart.iter().all(|n| delivered.contains(n)), "every webhook sent after the restart arrived");
    let total = WEBHOOKS as i64 + 1;
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, total, "nothing stored twice or extra");
    assert_eq!(app.count("SELECT SUM(inbound_count) FROM issues")?, total, "every stored text counted once");
    println!(
        "tunnel: {total} webhooks acknowledged through bore, {} failed attempts retried across the relay restart",
        retries.load(Ordering::Relaxed)
    );
    Ok(())
}

/// The webhook whose delivery the kill cuts off halfway, sent apart from the senders'.
const CUT: usize = WEBHOOKS;

/// Numbered webhooks, as GHL delivers them: the tunnel tests here and the rathole
/// tests share it, each with its own tag (so their `webhookId`s never meet) and party count.
pub(crate) struct Webhooks {
    /// The `webhookId` prefix.
    pub tag: &'static str,
    /// How many parties the texts come from, in turn.
    pub parties: usize,
    /// Posts one body to `/webhook/ghl` at an address with the shared secret; its status.
    pub post: fn(&str, &str) -> anyhow::Result<u16>,
}

impl Webhooks {
    /// The `webhookId` of webhook `n`; GHL keeps it across retries, so it is the idempotency key.
    pub fn id(&self, n: usize) -> String {
        format!("{}-{n}", self.tag)
    }

    /// Webhook `n`: an inbound text from one of the parties.
    pub fn body(&self, n: usize) -> String {
        json!({ "type": "InboundMessage", "webhookId": self.id(n), "messageId": format!("m-{n}"),
            "contactId": format!("party-{}", n % self.parties), "messageType": "SMS", "body": format!("text {n}") })
        .to_string()
    }

    /// Sends webhook `n` to `addr` until it gets a 2xx, backing off between failures as GHL
    /// does; false when the deadline passed first.
    pub fn deliver(&self, addr: &str, n: usize, deadline: Instant, retries: &AtomicUsize) -> bool {
        let body = self.body(n);
        let mut backoff = Duration::from_millis(20);
        loop {
            match (self.post)(addr, &body) {
                Ok(status) if (200..300).contains(&status) => return true,
                // Refused, reset, cut off or not 2xx: GHL tries again later.
                _ => {
                    retries.fetch_add(1, Ordering::Relaxed);
                    if Instant::now() + backoff > deadline {
                        return false;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(400));
                }
            }
        }
    }
}

/// This file's webhooks: from seven parties.
const WEBHOOKS_SENT: Webhooks = Webhooks { tag: "tunnel", parties: 7, post: post_webhook };

/// One delivery through the harness's client.
fn post_webhook(addr: &str, body: &str) -> anyhow::Result<u16> {
    Ok(request(addr, "POST", "/webhook/ghl", &HEADERS, body.as_bytes())?.status)
}

/// How every delivery proves itself: the shared secret (SPEC §2).
const HEADERS: [(&str, &str); 2] = [("X-NTPP-Secret", SECRET), ("Content-Type", "application/json")];

/// Which phase a webhook belongs to: 0 before the kill, 1 from the kill on, 2 after the restart.
fn phase_of(n: usize) -> u8 {
    match n {
        n if n < WEBHOOKS / 2 => 0,
        n if n < WEBHOOKS * 3 / 4 => 1,
        _ => 2,
    }
}

fn next_ack(acked: &mpsc::Receiver<usize>, deadline: Instant, app: &Sentinel) -> anyhow::Result<usize> {
    acked
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .with_context(|| format!("not every webhook was acknowledged within {DELIVERY_LIMIT:?}; log:\n{}", app.log()))
}

// === the senders ===

/// One GHL delivery worker: takes the next webhook, waits for its phase, and sends it to the
/// relay's public port until it gets a 2xx, backing off between failures.
struct Sender {
    public_addr: String,
    next: Arc<AtomicUsize>,
    phase: Gate,
    retries: Arc<AtomicUsize>,
    acked: mpsc::Sender<usize>,
    deadline: Instant,
}

impl Sender {
    fn run(self) {
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            if n >= WEBHOOKS || !self.phase.wait_for(phase_of(n), self.deadline) {
                return;
            }
            if !WEBHOOKS_SENT.deliver(&self.public_addr, n, self.deadline, &self.retries) {
                return;
            }
            let _ = self.acked.send(n);
        }
    }
}

/// A delivery in flight when the relay dies: connected through the tunnel, with the head and
/// half the body sent.
struct CutDelivery {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl CutDelivery {
    fn start(addr: &str, n: usize) -> anyhow::Result<CutDelivery> {
        let body = WEBHOOKS_SENT.body(n).into_bytes();
        let mut head = format!("POST /webhook/ghl HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in HEADERS {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let (first, rest) = body.split_at(body.len() / 2);
        let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(head.as_bytes())?;
        stream.write_all(first)?;
        Ok(CutDelivery { stream, rest: rest.to_vec() })
    }

    /// Sends the rest and reads what comes back; true only for a 2xx answer.
    fn finish(mut self) -> bool {
        // The relay is gone: writing may fail, and the answer is a reset or nothing at all.
        let _ = self.stream.write_all(&self.rest);
        let mut answer = Vec::new();
        let _ = self.stream.read_to_end(&mut answer);
        answer.starts_with(b"HTTP/1.1 2") || answer.starts_with(b"HTTP/1.0 2")
    }
}

/// The phase the senders may be in; webhooks of later phases wait for it.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<u8>, Condvar)>);

impl Gate {
    fn open(&self, phase: u8) {
        let (lock, changed) = &*self.0;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = phase;
        changed.notify_all();
    }

    /// Waits until `phase` is open; false when the deadline passed first.
    fn wait_for(&self, phase: u8, deadline: Instant) -> bool {
        let (lock, changed) = &*self.0;
        let mut open = lock.lock().unwrap_or_else(|p| p.into_inner());
        while *open < phase {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            open = changed.wait_timeout(open, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }
}

// === the tunnel ===

/// bore's relay server, on a runtime of its own: dropping the runtime drops every task and
/// closes every socket the relay holds, as a SIGKILL of the relay process would.
struct Relay {
    runtime: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Relay {
    /// Listens for clients on 127.0.0.1:7835 (bore's fixed control port) and lets a client
    /// publish only `public_port`, on 127.0.0.1.
    fn start(public_port: u16, secret: &str) -> anyhow::Result<Relay> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let mut server = bore_cli::server::Server::new(public_port..=public_port, Some(secret));
        server.set_bind_addr(LOOPBACK);
        server.set_bind_tunnels(LOOPBACK);
        let task = runtime.spawn(server.listen());
        Ok(Relay { runtime, task })
    }

    /// Fails with the relay's own error once it has stopped, e.g. when it could not bind its
    /// control port.
    fn check(&mut self) -> anyhow::Result<()> {
        if !self.task.is_finished() {
            return Ok(());
        }
        let stopped = match self.runtime.block_on(&mut self.task) {
            Ok(Ok(())) => anyhow::anyhow!("it returned"),
            Ok(Err(err)) => err,
            Err(err) => err.into(),
        };
        Err(stopped.context(format!("the bore relay stopped (is something else on 127.0.0.1:{CONTROL_PORT}?)")))
    }

    fn kill(self) {
        drop(self.runtime);
    }
}

/// The tunnel client as systemd runs it with `Restart=always`: bore's client publishing the
/// webhook listener on the relay, started again [`RESTART_SEC`] after every exit.
struct ClientService {
    stopping: Arc<AtomicBool>,
    connected: mpsc::Receiver<usize>,
    thread: Option<JoinHandle<()>>,
}

impl ClientService {
    fn start(origin_port: u16, public_port: u16, secret: &str) -> ClientService {
        let stopping = Arc::new(AtomicBool::new(false));
        let (connected_tx, connected) = mpsc::channel();
        let (stop, secret) = (stopping.clone(), secret.to_string());
        let thread = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                let mut starts = 0;
                while !stop.load(Ordering::Relaxed) {
                    let client = bore_cli::client::Client::new(
                        "127.0.0.1",
                        origin_port,
                        "127.0.0.1",
                        public_port,
                        Some(&secret),
                    )
                    .await;
                    if let Ok(client) = client {
                        // bore's own readiness signal (its "listening at" line): the relay
                        // answered with the public port it now accepts connections on.
                        if client.remote_port() == public_port {
                            starts += 1;
                            let _ = connected_tx.send(starts);
                        }
                        // Returns (with status 0, as the binary exits) when the relay goes away.
                        let _ = client.listen().await;
                    }
                    tokio::time::sleep(RESTART_SEC).await;
                }
            });
        });
        ClientService { stopping, connected, thread: Some(thread) }
    }

    /// Waits until the client has connected for the `start`-th time, or the relay failed.
    fn wait_until_connected(&self, relay: &mut Relay, start: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            relay.check()?;
            match self.connected.recv_timeout(Duration::from_millis(20)) {
                Ok(started) if started >= start => return Ok(()),
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Ok(_) | Err(_) => bail!("the bore client did not connect to the relay (start {start})"),
            }
        }
    }

    /// Stops restarting the client, kills the relay so the running client exits, and waits.
    fn stop(mut self, relay: Relay) {
        self.stopping.store(true, Ordering::Relaxed);
        relay.kill();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ClientService {
    fn drop(&mut self) {
        // On a failed assertion: the client exits once the relay is dropped too.
        self.stopping.store(true, Ordering::Relaxed);
    }
}

/// bore's control port, fixed in bore (`bore_cli::shared::CONTROL_PORT`).
const CONTROL_PORT: u16 = bore_cli::shared::CONTROL_PORT;

/// Only one relay can hold the control port, so tunnel tests take turns across test binaries
/// and worktrees on this machine: an exclusive lock on a file in the temporary directory.
fn control_port_lock() -> anyhow::Result<File> {
    let path = std::env::temp_dir().join(format!("sentinel-it-bore-{CONTROL_PORT}.lock"));
    let file = File::options().create(true).truncate(false).write(true).open(&path)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => bail!("locking {}: {err}", path.display()),
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago; the relay publishes the webhook listener
/// there, before and after its restart, as a public server keeps its address.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind((LOOPBACK, 0))?.local_addr()?.port())
}

/// A secret of this run, so the client can only ever join this run's relay.
fn relay_secret() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("sentinel-it-{}-{nanos}", std::process::id())
}
