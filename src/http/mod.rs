//! The two HTTP listeners (SPEC §2): request checks, routing, and the original's JSON shapes.
//!
//! tiny_http accepts connections; a fixed pool of worker threads per listener takes requests,
//! checks method, auth, size and syntax, and hands webhooks to the intake actor, waiting for
//! the store's answer (which comes after the durable commit). The webhook listener serves
//! only what GHL needs; the admin listener adds jobs, the API and the test hooks.

use std::collections::HashMap;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use serde_json::{Map, Value, json};
use tiny_http::{Header, Method, Request, Response, Server};
use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::actors::clock::ClockMsg;
use crate::actors::intake::IntakeMsg;
use crate::actors::resolver::ResolverMsg;
use crate::actors::store::StoreMsg;
use crate::actors::summary::SummaryMsg;
use crate::actors::{CALL_TIMEOUT, Ctx, call, names};
use crate::config::Secret;
use crate::domain::event::{IssueKind, Status};
use crate::domain::phone::Phone;
use crate::ghl::payload::Route;
use crate::ghl::signature::{SignatureCheck, Verifier};
use crate::guard::{AuthGuard, Held, Verdict};
use crate::status;
use crate::store::apply::Outcome;
use crate::store::summary::Delivery;
use crate::supervisor::{Child, probe_all};

/// Which listener a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Exposed through the tunnel: webhooks and `/health`.
    Webhook,
    /// Local only: everything.
    Admin,
}

/// What the workers need.
#[derive(Clone)]
pub struct HttpContext {
    /// Shared configuration and clock.
    pub ctx: Ctx,
    /// The runtime the actors run on.
    pub runtime: Handle,
    /// The webhook secret.
    pub secret: Secret,
    /// GHL's webhook signature keys.
    pub verifier: Verifier,
    /// Failed attempts per client, shared by both listeners.
    pub guard: Arc<AuthGuard>,
}

/// Who is asking: the peer, or behind a local tunnel the address it reports in the
/// configured client-address header (see [`AuthGuard::source`]).
fn client_of(request: &Request, guard: &AuthGuard) -> std::net::IpAddr {
    let peer = request.remote_addr().map(|a| a.ip()).unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let reported = guard.client_header().and_then(|name| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    });
    guard.source(peer, reported)
}

/// How long a worker waits for the store's commit before answering 503 (GHL retries).
const INGEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `/health` waits for each actor.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// How often [`bind`]'s keeper asks the listener, as a fraction of the timeout.
const KEEPER_DIVISOR: u32 = 3;
/// How long an extra worker waits for work before it ends.
const EXTRA_WORKER_IDLE: Duration = Duration::from_secs(30);
/// The threads that answer refused requests need almost no stack.
const DRAIN_STACK: usize = 64 * 1024;
/// Extra workers run on small stacks: a handler needs little (serde_json limits nesting).
const EXTRA_WORKER_STACK: usize = 256 * 1024;

/// Binds `addr` for tiny_http so that no connection can stall for longer than `timeout`, and
/// keeps watch that it still accepts; `failed` is told when it does not.
///
/// tiny_http sets no socket timeouts, so a client that stops sending mid-request would hold
/// its connection, and a worker, for ever. Read and write timeouts set on the listening socket
/// are inherited by every accepted socket (Linux), which closes that hole and also closes idle
/// keep-alive connections. But Linux applies the read timeout to `accept` as well, and
/// tiny_http ends its accept thread on the first accept error (and panics in it when it cannot
/// duplicate a socket, e.g. out of file descriptors). So a keeper thread asks the listener for
/// [`KEEPER_PATH`] every third of the timeout: an idle listener never waits long enough to time
/// out, and a listener that stopped accepting is noticed after two unanswered asks. The service
/// then stops with an error and systemd starts it again.
pub fn bind(addr: SocketAddr, timeout: Duration, watch: ListenerWatch) -> anyhow::Result<Server> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    let socket = socket2::SockRef::from(&listener);
    socket.set_read_timeout(Some(timeout)).with_context(|| format!("setting timeouts on {addr}"))?;
    socket.set_write_timeout(Some(timeout)).with_context(|| format!("setting timeouts on {addr}"))?;
    let mut local = listener.local_addr().with_context(|| format!("binding {addr}"))?;
    if local.ip().is_unspecified() {
        local.set_ip(if local.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() });
    }
    let server = Server::from_listener(listener, None).map_err(|err| anyhow::format_err!("binding {addr}: {err}"))?;
    std::thread::Builder::new()
        .name("http-keeper".into())
        .stack_size(64 * 1024)
        .spawn(move || keep(local, timeout, &watch))
        .with_context(|| format!("starting the keeper of {addr}"))?;
    Ok(server)
}

/// Where the keeper asks; answered by every listener without a secret.
const KEEPER_PATH: &str = "/ping";

/// What a listener's keeper and its workers share.
#[derive(Clone, Default)]
pub struct ListenerWatch {
    /// Told when the listener stopped accepting; shared by all listeners.
    pub failed: Arc<Notify>,
    /// Requests this listener's workers have taken.
    served: Arc<AtomicU64>,
}

impl ListenerWatch {
    /// A watch for another listener, telling the same `failed`.
    pub fn sibling(&self) -> ListenerWatch {
        ListenerWatch { failed: self.failed.clone(), served: Arc::default() }
    }
}

fn keep(addr: SocketAddr, timeout: Duration, watch: &ListenerWatch) {
    let mut unanswered = 0;
    let mut served = watch.served.load(Ordering::Relaxed);
    loop {
        std::thread::sleep(timeout / KEEPER_DIVISOR);
        let answer = ask(addr, timeout);
        let served_before = std::mem::replace(&mut served, watch.served.load(Ordering::Relaxed));
        match answer {
            Ok(()) => unanswered = 0,
            // Requests still arrive (on open connections), so the listener is doing its job: the
            // ask itself can wait behind busy connections in tiny_http's thread pool.
            Err(err) if served != served_before => {
                tracing::debug!(%addr, "the keeper got no answer while requests flow: {err}");
                unanswered = 0;
            }
            Err(err) => {
                unanswered += 1;
                tracing::warn!(%addr, "the listener did not answer its keeper: {err}");
                if unanswered >= 2 {
                    tracing::error!(%addr, "the listener stopped accepting connections; restarting the service");
                    watch.failed.notify_one();
                    return;
                }
            }
        }
    }
}

fn ask(addr: SocketAddr, timeout: Duration) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("GET {KEEPER_PATH} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut status = [0u8; 12];
    stream.read_exact(&mut status)?;
    if status.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("answered {:?}", String::from_utf8_lossy(&status))))
    }
}

/// The worker threads of one listener. `base` of them always wait for requests; when all are
/// busy (a burst, or clients trickling their bodies), one more starts per request taken, up to
/// `max`, and an extra one ends after [`EXTRA_WORKER_IDLE`] without work. With the socket
/// timeouts and the body deadline ([`bind`]), slow clients hold a worker for a bounded time and cannot
/// starve the others.
pub struct Workers {
    pool: Arc<Pool>,
}

struct Pool {
    server: Arc<Server>,
    listener: Listener,
    http: HttpContext,
    max: usize,
    /// Workers waiting in `recv`.
    idle: AtomicUsize,
    /// Workers alive.
    total: AtomicUsize,
    stopping: AtomicBool,
    handles: Mutex<Vec<JoinHandle<()>>>,
    /// Told when the listener stopped accepting (tiny_http ends its accept thread on the first
    /// accept error, e.g. out of file descriptors): the service must restart to listen again.
    watch: ListenerWatch,
}

impl Workers {
    /// Starts `base` workers serving `server`, growing to `max` under load.
    pub fn start(
        server: Arc<Server>,
        listener: Listener,
        http: HttpContext,
        (base, max): (usize, usize),
        watch: ListenerWatch,
    ) -> std::io::Result<Workers> {
        let pool = Arc::new(Pool {
            server,
            listener,
            http,
            max: max.max(base),
            idle: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            handles: Mutex::default(),
            watch,
        });
        for _ in 0..base {
            pool.total.fetch_add(1, Ordering::SeqCst);
            pool.spawn(false)?;
        }
        Ok(Workers { pool })
    }

    /// Workers alive now (for `/metrics`-style reporting and tests).
    pub fn alive(&self) -> usize {
        self.pool.total.load(Ordering::SeqCst)
    }

    /// Lets every worker finish the request it holds, then joins them all.
    pub fn stop(self) {
        let pool = self.pool;
        pool.stopping.store(true, Ordering::SeqCst);
        while pool.total.load(Ordering::SeqCst) > 0 {
            for _ in 0..pool.total.load(Ordering::SeqCst) {
                pool.server.unblock();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let handles = std::mem::take(&mut *pool.handles.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

impl Pool {
    /// Starts one worker; `total` already counts it.
    fn spawn(self: &Arc<Pool>, extra: bool) -> std::io::Result<()> {
        let pool = self.clone();
        let mut builder = std::thread::Builder::new().name(format!("http-{:?}", self.listener).to_lowercase());
        if extra {
            builder = builder.stack_size(EXTRA_WORKER_STACK);
        }
        match builder.spawn(move || pool.work(extra)) {
            Ok(handle) => {
                let mut handles = self.handles.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                handles.retain(|handle| !handle.is_finished());
                handles.push(handle);
                Ok(())
            }
            Err(err) => {
                self.total.fetch_sub(1, Ordering::SeqCst);
                Err(err)
            }
        }
    }

    fn work(self: &Arc<Pool>, extra: bool) {
        loop {
            self.idle.fetch_add(1, Ordering::SeqCst);
            let next = if extra { self.server.recv_timeout(EXTRA_WORKER_IDLE) } else { self.server.recv().map(Some) };
            let idle_left = self.idle.fetch_sub(1, Ordering::SeqCst) - 1;
            match next {
                Ok(Some(request)) => {
                    self.watch.served.fetch_add(1, Ordering::Relaxed);
                    if idle_left == 0 {
                        self.grow();
                    }
                    handle(request, self.listener, &self.http);
                }
                // An extra worker without work, or any worker told to stop.
                Ok(None) if extra => break,
                Ok(None) => {}
                Err(_) if self.stopping.load(Ordering::SeqCst) => break,
                Err(err) => {
                    tracing::error!(
                        listener = ?self.listener,
                        "the listener stopped accepting connections ({err}); restarting the service"
                    );
                    self.watch.failed.notify_one();
                    break;
                }
            }
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
        }
        self.total.fetch_sub(1, Ordering::SeqCst);
    }

    /// Every worker is busy: start one more, unless at the limit.
    fn grow(self: &Arc<Pool>) {
        let below_max = |total: usize| (total < self.max).then_some(total + 1);
        if self.stopping.load(Ordering::SeqCst)
            || self.total.fetch_update(Ordering::SeqCst, Ordering::SeqCst, below_max).is_err()
        {
            return;
        }
        if let Err(err) = self.spawn(true) {
            tracing::warn!(listener = ?self.listener, "could not start another worker: {err}");
        }
    }
}

/// A JSON answer (or, for the status page, HTML).
struct Reply {
    status: u16,
    body: Value,
    allow: Option<&'static str>,
    html: Option<(String, &'static str)>,
    /// A failed authentication over the guessing budget (see [`crate::guard`]).
    slow: Option<Box<SlowDown>>,
    /// The request's body was read whole: a refusal can be answered on the worker.
    body_read: bool,
}

/// How an over-budget failure is answered: 429 with `Retry-After`, held back off the worker.
struct SlowDown {
    retry_after: u64,
    hold: Option<(Duration, Held)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply { status, body, allow: None, html: None, slow: None, body_read: false }
    }

    fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    fn html(page: String) -> Reply {
        Reply { html: Some((page, "text/html; charset=utf-8")), ..Reply::json(200, Value::Null) }
    }

    fn text(text: String) -> Reply {
        Reply { html: Some((text, "text/plain; version=0.0.4")), ..Reply::json(200, Value::Null) }
    }

    fn error(status: u16, detail: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "detail": detail.into() }))
    }

    fn method_not_allowed(allow: &'static str) -> Reply {
        Reply { allow: Some(allow), ..Reply::error(405, "Method Not Allowed") }
    }
}

fn handle(mut request: Request, listener: Listener, http: &HttpContext) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let query: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let reply = route(&mut request, listener, http, path, &query);
    let (body, content_type) = match reply.html {
        Some((text, content_type)) => (text, content_type),
        None => (reply.body.to_string(), "application/json"),
    };
    let mut response =
        Response::from_string(body).with_status_code(reply.status).with_header(header("Content-Type", content_type));
    if let Some(allow) = reply.allow {
        response = response.with_header(header("Allow", allow));
    }
    let hold = reply.slow.and_then(|slow| {
        response.add_header(header("Retry-After", &slow.retry_after.to_string()));
        slow.hold
    });
    let unread = !reply.body_read && request.body_length().is_none_or(|length| length > 0);
    if let Some((delay, held)) = hold.filter(|_| !unread) {
        // Held back on the one tarpit thread, not on a worker and not on a thread each.
        tarpit().hold(Instant::now() + delay, request, response, held);
        return;
    }
    if reply.status >= 400 && unread {
        // A refused request may leave its body unread, and tiny_http reads the rest of it when
        // the request is dropped (to find the next one on the connection). A client trickling
        // a long body would hold this worker that long, so the answer goes out, and the rest
        // is read, on a thread of its own.
        let spawned = std::thread::Builder::new()
            .name("http-drain".into())
            .stack_size(DRAIN_STACK)
            .spawn(move || answer(request, response));
        if let Err(err) = spawned {
            // The request went with the closure; dropping it answers 500 here.
            tracing::warn!("no thread to answer a refused request: {err}");
        }
    } else {
        answer(request, response);
    }
}

/// Answers held back for slowing guessers down (see [`crate::guard`]): one thread answers
/// each when its time comes, in the order they were held (all wait the same time).
struct Tarpit {
    queue: std::sync::mpsc::Sender<HeldAnswer>,
}

type HeldAnswer = (Instant, Request, Response<std::io::Cursor<Vec<u8>>>, Held);

impl Tarpit {
    fn start() -> Tarpit {
        let (queue, held) = std::sync::mpsc::channel::<HeldAnswer>();
        let spawned = std::thread::Builder::new().name("http-tarpit".into()).stack_size(DRAIN_STACK).spawn(move || {
            for (due, request, response, _held) in held {
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                answer(request, response);
            }
        });
        if let Err(err) = spawned {
            // Without the thread every held answer is answered at once, when the send fails.
            tracing::warn!("no tarpit thread; failed attempts are answered at once: {err}");
        }
        Tarpit { queue }
    }

    fn hold(&self, due: Instant, request: Request, response: Response<std::io::Cursor<Vec<u8>>>, held: Held) {
        if let Err(std::sync::mpsc::SendError((_, request, response, _))) =
            self.queue.send((due, request, response, held))
        {
            answer(request, response);
        }
    }
}

fn tarpit() -> &'static Tarpit {
    static TARPIT: std::sync::OnceLock<Tarpit> = std::sync::OnceLock::new();
    TARPIT.get_or_init(Tarpit::start)
}

fn answer(request: Request, response: Response<std::io::Cursor<Vec<u8>>>) {
    if let Err(err) = request.respond(response) {
        tracing::debug!("client went away before the answer: {err}");
    }
}

fn header(name: &str, value: &str) -> Header {
    // Both are ASCII constants, which tiny_http always accepts.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap_or_else(|()| unreachable!("ASCII header"))
}

fn route(
    request: &mut Request,
    listener: Listener,
    http: &HttpContext,
    path: &str,
    query: &HashMap<String, String>,
) -> Reply {
    let method = request.method().clone();
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    if path == "/health" {
        return match method {
            Method::Get | Method::Head => health(http),
            _ => Reply::method_not_allowed("GET"),
        };
    }
    if path == KEEPER_PATH {
        // Answered without touching the actors: it only shows that the listener still accepts.
        return Reply::ok(json!({ "ok": true }));
    }
    let reply = route_checked(request, listener, http, path, query, method);
    if reply.status != 401 {
        return reply;
    }
    // Only a failed authentication meets the guard: the right secret is always served.
    match http.guard.failed(client_of(request, &http.guard)) {
        Verdict::Unauthorized => reply,
        Verdict::SlowDown { retry_after, delay } => Reply {
            slow: Some(Box::new(SlowDown { retry_after, hold: http.guard.hold().map(|held| (delay, held)) })),
            body_read: reply.body_read,
            ..Reply::error(429, "too many failed attempts; slow down")
        },
    }
}

fn route_checked(
    request: &mut Request,
    listener: Listener,
    http: &HttpContext,
    path: &str,
    query: &HashMap<String, String>,
    method: Method,
) -> Reply {
    let admin_only = path.starts_with("/jobs/")
        || path.starts_with("/api/")
        || path.starts_with("/debug/")
        || path == "/status"
        || path == "/metrics";
    let known = Route::from_path(path).is_some() || admin_only;
    if !known || (admin_only && listener == Listener::Webhook) {
        return Reply::error(404, "Not Found");
    }
    if let Some(route) = Route::from_path(path) {
        // Marketplace events may prove themselves by signature instead of the secret, so
        // webhooks read the body before deciding (SPEC §2, §3.3).
        return webhook(request, route, http, query);
    }
    if !authorised(request, &http.secret, query) {
        tracing::warn!(path, "request with a wrong or missing secret");
        return Reply::error(401, "Unauthorized");
    }
    let id = path.strip_prefix("/api/issues/");
    let manual = http.ctx.time.is_manual();
    // Every admin route and its one method: a known route asked with another method gets 405
    // with `Allow`, as the webhook routes do (SPEC §2); an unknown one 404.
    let allow = match path {
        "/api/issues" | "/api/status" | "/status" | "/metrics" => "GET",
        _ if id.is_some() => "GET",
        "/api/spam"
        | "/jobs/verify_pending"
        | "/jobs/poll_resolver"
        | "/jobs/send_summary"
        | "/jobs/escalations"
        | "/jobs/cleanup_raw_events" => "POST",
        "/debug/fail" | "/debug/clock" | "/debug/wedge" if manual => "POST",
        _ => return Reply::error(404, "Not Found"),
    };
    let allowed = match allow {
        "GET" => matches!(method, Method::Get | Method::Head),
        _ => method == Method::Post,
    };
    if !allowed {
        return Reply::method_not_allowed(allow);
    }
    match path {
        "/api/issues" => list_issues(http, query),
        "/api/status" => status_json(http),
        "/status" => status_page(http),
        "/metrics" => metrics(http),
        "/api/spam" => mark_spam(http, query),
        "/jobs/verify_pending" => verify_pending(http, query),
        "/jobs/poll_resolver" => poll_resolver(http, query),
        "/jobs/send_summary" => send_summary(http, query),
        "/jobs/escalations" => escalations(http, query),
        "/jobs/cleanup_raw_events" => cleanup_raw_events(http, query),
        "/debug/fail" => inject_failure(query),
        "/debug/clock" => set_clock(http, query),
        "/debug/wedge" => wedge(query),
        _ => get_issue(http, id.unwrap_or_default()),
    }
}

/// SPEC §2: header `X-NTPP-Secret`, else `?secret=`; compared in constant time.
fn authorised(request: &Request, secret: &Secret, query: &HashMap<String, String>) -> bool {
    let given = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("X-NTPP-Secret"))
        .map(|h| h.value.as_str().to_string())
        .or_else(|| query.get("secret").cloned());
    given.is_some_and(|given| constant_time_eq(given.as_bytes(), secret.expose().as_bytes()))
}

/// Compares without an early exit, so the time taken does not reveal how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for (index, byte) in b.iter().enumerate() {
        diff |= a.get(index).copied().unwrap_or(0) ^ byte;
    }
    diff == 0
}

/// Reads the body, refusing more than the limit without reading it all, and a body that does
/// not arrive within `deadline` (a stall also ends at the socket timeout, see [`bind`]).
fn read_body(request: &mut Request, limit: usize, deadline: Duration) -> Result<Vec<u8>, Reply> {
    let too_large = || Reply::error(413, format!("body over the limit of {limit} bytes"));
    let too_slow = || Reply::error(408, format!("the body did not arrive within {} s", deadline.as_secs()));
    if request.body_length().is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let started = Instant::now();
    let mut body = Vec::with_capacity(request.body_length().unwrap_or(0));
    let mut reader = request.as_reader().take(limit as u64 + 1);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => body.extend_from_slice(&chunk[..read]),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(too_slow()),
            Err(err) => return Err(Reply::error(400, format!("could not read the body: {err}"))),
        }
        if started.elapsed() > deadline {
            return Err(too_slow());
        }
    }
    if body.len() > limit {
        return Err(too_large());
    }
    Ok(body)
}

fn content_type(request: &Request) -> String {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Content-Type"))
        .map(|h| h.value.as_str().split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Decodes a webhook body into a JSON object and the text to store.
fn decode(content_type: &str, body: &[u8]) -> Result<(Map<String, Value>, String), Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reply::error(400, "empty body"));
    }
    let text = std::str::from_utf8(body).map_err(|_| Reply::error(400, "the body is not valid UTF-8"))?;
    // Some senders label JSON as a form (curl's default); a body that opens like JSON is JSON.
    let looks_like_json = text.trim_start().starts_with(['{', '[']);
    match content_type {
        "application/x-www-form-urlencoded" if looks_like_json => decode("application/json", body),
        "application/x-www-form-urlencoded" => {
            let object = form_to_object(text);
            let stored = Value::Object(object.clone()).to_string();
            Ok((object, stored))
        }
        "" | "application/json" | "text/json" | "text/plain" => {
            let value: Value =
                serde_json::from_str(text).map_err(|err| Reply::error(400, format!("malformed JSON: {err}")))?;
            match value {
                Value::Object(object) => Ok((object, text.to_string())),
                _ => Err(Reply::error(400, "expected a JSON object")),
            }
        }
        other if other.ends_with("+json") => decode("application/json", body),
        other => Err(Reply::error(
            415,
            format!("unsupported content type {other}; send application/json or application/x-www-form-urlencoded"),
        )),
    }
}

/// Reads a form body like a JSON object; `a[b]=c` becomes `{"a":{"b":"c"}}`.
fn form_to_object(text: &str) -> Map<String, Value> {
    let mut object = Map::new();
    for (key, value) in form_urlencoded::parse(text.as_bytes()) {
        let value = Value::String(value.into_owned());
        match key.split_once('[').filter(|(_, rest)| rest.ends_with(']')) {
            Some((outer, inner)) => {
                let inner = inner.trim_end_matches(']').to_string();
                let slot = object.entry(outer.to_string()).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(nested) = slot {
                    nested.insert(inner, value);
                }
            }
            None => {
                object.insert(key.into_owned(), value);
            }
        }
    }
    object
}

fn header_value<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

/// Secret or signature, as SPEC §2 and §3.3 allow: workflow routes need the secret; the
/// events route also takes a valid GHL signature, and with `GHL_REQUIRE_SIGNATURE=1` needs one.
fn webhook_auth(
    request: &Request,
    route: Route,
    http: &HttpContext,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<(), Reply> {
    let secret_ok = authorised(request, &http.secret, query);
    if route != Route::Events {
        return if secret_ok { Ok(()) } else { Err(Reply::error(401, "Unauthorized")) };
    }
    let check =
        http.verifier.check(header_value(request, "X-GHL-Signature"), header_value(request, "X-WH-Signature"), body);
    match check {
        SignatureCheck::Invalid(why) => Err(Reply::error(401, format!("invalid signature: {why}"))),
        SignatureCheck::Valid => Ok(()),
        SignatureCheck::Missing if http.ctx.config.ghl.require_signature => {
            Err(Reply::error(401, "signature required: GHL_REQUIRE_SIGNATURE=1"))
        }
        SignatureCheck::Missing if secret_ok => Ok(()),
        SignatureCheck::Missing => Err(Reply::error(401, "Unauthorized")),
    }
}

fn webhook(request: &mut Request, route: Route, http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    if *request.method() != Method::Post {
        // Answer 401 before 405 to a caller without the secret, so routes are not probed.
        if !authorised(request, &http.secret, query) {
            return Reply::error(401, "Unauthorized");
        }
        return Reply::method_not_allowed("POST");
    }
    let body = match read_body(request, http.ctx.config.max_body_bytes, http.ctx.config.http_timeout) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if let Err(reply) = webhook_auth(request, route, http, query, &body) {
        tracing::debug!(route = route.as_str(), "webhook refused: {}", reply.body["detail"]);
        return Reply { body_read: true, ..reply };
    }
    let (object, text) = match decode(&content_type(request), &body) {
        Ok(decoded) => decoded,
        Err(reply) => return reply,
    };
    let answer = http.runtime.block_on(call(
        names::INTAKE,
        |reply| IntakeMsg::Webhook { route, body: object, text, reply },
        INGEST_TIMEOUT,
    ));
    match answer {
        Ok(Ok(outcome)) => Reply::ok(webhook_answer(route, &outcome)),
        Ok(Err(err)) => {
            tracing::error!("webhook not stored: {err}");
            Reply::error(503, "the event could not be stored; retry")
        }
        Err(err) => {
            tracing::error!("webhook not stored: {err:#}");
            Reply::error(503, "the event could not be stored; retry")
        }
    }
}

/// The original's response shapes, so existing workflows and scripts keep working (SPEC §2).
fn webhook_answer(route: Route, outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Duplicate => json!({ "received": true, "duplicate": true }),
        Outcome::Deferred => json!({ "received": true, "deferred": "waiting for the time" }),
        Outcome::Ignored(reason) => json!({ "received": true, "ignored": reason }),
        Outcome::Command { .. } => json!({ "received": true, "command": true }),
        Outcome::Outbound { resolved } => {
            json!({ "received": true, "ignored": "outbound", "resolved": resolved })
        }
        Outcome::Created { issue_id, kind, .. } | Outcome::Repeat { issue_id, kind, .. } => {
            let created = matches!(outcome, Outcome::Created { .. });
            if route == Route::UnansweredCall || (route == Route::Events && *kind == IssueKind::Call) {
                json!({ "received": true, "issue_created": created, "issue_id": issue_id })
            } else {
                json!({ "received": true, "issue_created_or_updated": true, "issue_id": issue_id })
            }
        }
    }
}

fn health(http: &HttpContext) -> Reply {
    let actors = http.runtime.block_on(probe_all(HEALTH_TIMEOUT));
    let disk_full = http.ctx.signals.disk_full();
    let ok = actors.iter().all(|actor| actor.ok) && !disk_full;
    let ghl = http.ctx.ghl.status();
    let uptime = http.ctx.uptime().as_secs();
    let mut body = json!({
        "ok": ok,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": uptime,
        "actors": actors,
        "ghl": ghl.state,
        "ghl_detail": ghl,
        "tunnel": http.ctx.signals.tunnel().as_str(),
        "quiet_day": http.ctx.signals.quiet_day.load(std::sync::atomic::Ordering::Relaxed),
        "clock": clock_json(&http.ctx.signals.clock()),
    });
    let degraded = http.ctx.signals.degraded(ghl.state);
    body["state"] = json!(if !ok {
        "failing"
    } else if degraded {
        "degraded"
    } else {
        "healthy"
    });
    if let Some(reason) = http.ctx.signals.clock().untrusted {
        body["degraded_reason"] = json!(reason);
    }
    if disk_full {
        body["reason"] = json!(crate::actors::DISK_FULL);
    } else if !ok {
        let failing: Vec<&str> = actors.iter().filter(|a| !a.ok).map(|a| a.name).collect();
        body["reason"] = json!(format!("not answering: {}", failing.join(", ")));
    }
    Reply::json(if ok { 200 } else { 503 }, body)
}

/// The wall clock's standing for `/health` (issue 15).
fn clock_json(trust: &crate::actors::clockwatch::ClockTrust) -> Value {
    json!({
        "trusted": trust.untrusted.is_none(),
        "reason": trust.untrusted,
        "last_step_seconds": trust.last_step.map(|(_, seconds)| seconds),
        "replayed": trust.replayed,
    })
}

/// The status snapshot, with what only the listeners know (the guard's counters).
fn gather(http: &HttpContext) -> anyhow::Result<(status::Snapshot, Vec<crate::store::issues::Issue>)> {
    let (mut snapshot, live) = http.runtime.block_on(status::gather(&http.ctx))?;
    let guard = http.guard.stats();
    snapshot.auth_failures = guard.failures;
    snapshot.auth_slowed = guard.slowed;
    Ok((snapshot, live))
}

fn status_json(http: &HttpContext) -> Reply {
    match gather(http) {
        Ok((snapshot, _)) => Reply::ok(json!(snapshot)),
        Err(err) => Reply::error(503, format!("{err:#}")),
    }
}

fn metrics(http: &HttpContext) -> Reply {
    match gather(http) {
        Ok((snapshot, _)) => Reply::text(status::metrics(&snapshot, &http.ctx.ghl.status(), &http.ctx.ai.status())),
        Err(err) => Reply::error(503, format!("{err:#}")),
    }
}

fn status_page(http: &HttpContext) -> Reply {
    match gather(http) {
        Ok((snapshot, live)) => {
            let now = http.ctx.time.now();
            Reply::html(status::html(&snapshot, &live, now, http.ctx.config.calendar.zone()))
        }
        Err(err) => Reply::error(503, format!("{err:#}")),
    }
}

fn list_issues(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let mut statuses = Vec::new();
    for name in query.get("status").map(String::as_str).unwrap_or_default().split(',') {
        if name.trim().is_empty() {
            continue;
        }
        match Status::parse(name) {
            Some(status) => statuses.push(status),
            None => {
                return Reply::error(400, format!("unknown status {name:?}; expected PENDING, OPEN, RESOLVED or SPAM"));
            }
        }
    }
    let answer =
        http.runtime.block_on(call(names::STORE, |reply| StoreMsg::ListIssues { statuses, reply }, CALL_TIMEOUT));
    match flatten(answer) {
        Ok(issues) => Reply::ok(json!({ "issues": issues.iter().map(issue_json).collect::<Vec<_>>() })),
        Err(err) => Reply::error(503, err),
    }
}

/// An issue as the API shows it: its stored fields, with a CALL's repeat count under the
/// name SPEC §5.1 gives it, `attempts`.
fn issue_json(issue: &crate::store::issues::Issue) -> Value {
    let mut value = json!(issue);
    if issue.kind == IssueKind::Call {
        value["attempts"] = json!(issue.inbound_count);
    }
    value
}

fn get_issue(http: &HttpContext, id: &str) -> Reply {
    let Ok(id) = id.trim_start_matches('#').parse::<i64>() else {
        return Reply::error(400, format!("{id:?} is not an issue number"));
    };
    let answer = http.runtime.block_on(call(names::STORE, |reply| StoreMsg::GetIssue { id, reply }, CALL_TIMEOUT));
    match flatten(answer) {
        Ok(Some((issue, timeline))) => {
            let mut body = json!({ "issue": issue_json(&issue), "timeline": timeline });
            body["issue"]["timeline"] = body["timeline"].clone();
            Reply::ok(body)
        }
        Ok(None) => Reply::error(404, format!("no issue #{id}")),
        Err(err) => Reply::error(503, err),
    }
}

fn mark_spam(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let given = query.get("phone").map(String::as_str).unwrap_or_default();
    let Some(phone) = Phone::parse(given) else {
        return Reply::error(400, format!("phone={given:?}: expected a phone number, e.g. +12145550199"));
    };
    let by = "admin".to_string();
    let shown = phone.masked();
    let answer =
        http.runtime.block_on(call(names::STORE, |reply| StoreMsg::MarkSpam { phone, by, reply }, CALL_TIMEOUT));
    match flatten(answer) {
        Ok(marked) => Reply::ok(json!({ "spam": shown, "marked_spam": marked })),
        Err(err) => Reply::error(503, err),
    }
}

fn limit_param(query: &HashMap<String, String>, default: usize) -> Result<usize, Reply> {
    match query.get("limit") {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| Reply::error(400, format!("limit={text:?}: expected a whole number from 1 to 10000"))),
    }
}

fn flag_param(query: &HashMap<String, String>, name: &str, default: bool) -> Result<bool, Reply> {
    match query.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(Reply::error(400, format!("{name}={v:?}: expected 1 or 0"))),
    }
}

fn verify_pending(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let limit = match limit_param(query, 200) {
        Ok(limit) => limit,
        Err(reply) => return reply,
    };
    // The optional AI check may take up to its run budget before the settlement is known.
    let ai = &http.ctx.config.ai_gate;
    let wait = if ai.enabled { CALL_TIMEOUT + ai.run_budget } else { CALL_TIMEOUT };
    let answer = http.runtime.block_on(call(names::CLOCK, |reply| ClockMsg::SettleNow { limit, reply }, wait));
    match flatten(answer) {
        Ok(report) => Reply::ok(json!({
            "job": "verify_pending",
            "checked": report.checked,
            "promoted_open": report.promoted_open.len(),
            "auto_resolved": report.auto_resolved.len(),
            "ai_resolved": report.ai_resolved.len(),
            "opened_ids": report.promoted_open,
            "resolved_ids": report.auto_resolved,
        })),
        Err(err) => Reply::ok(
            json!({ "job": "verify_pending", "checked": 0, "promoted_open": 0, "auto_resolved": 0, "errors": [err] }),
        ),
    }
}

/// How long `/jobs/poll_resolver` waits for a pass (GHL may be slow or rate-limiting).
const POLL_TIMEOUT: Duration = Duration::from_secs(600);

fn poll_resolver(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let limit = match limit_param(query, 500) {
        Ok(limit) => limit,
        Err(reply) => return reply,
    };
    let answer =
        http.runtime.block_on(call(names::RESOLVER, |reply| ResolverMsg::PollNow { limit, reply }, POLL_TIMEOUT));
    match answer {
        Ok(report) => Reply::ok(json!({
            "job": "poll_resolver",
            "checked": report.checked,
            "resolved": report.resolved.len(),
            "resolved_ids": report.resolved,
            "conversations_fetched": report.conversations_fetched,
            "errors": report.errors,
            "ghl": http.ctx.ghl.status().state,
        })),
        // A GHL outage never turns a job into a 500 (SPEC §2).
        Err(err) => {
            Reply::ok(json!({ "job": "poll_resolver", "checked": 0, "resolved": 0, "errors": [format!("{err:#}")] }))
        }
    }
}

fn delivery(query: &HashMap<String, String>) -> Result<Delivery, Reply> {
    Ok(if flag_param(query, "dry_run", false)? { Delivery::DryRun } else { Delivery::Queue })
}

fn send_summary(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let delivery = match delivery(query) {
        Ok(delivery) => delivery,
        Err(reply) => return reply,
    };
    let Some(slot) = query.get("slot").cloned() else {
        return Reply::error(400, "slot: expected one of the SUMMARY_SLOTS names, e.g. morning");
    };
    let answer = http.runtime.block_on(call(
        names::SUMMARY,
        |reply| SummaryMsg::SendDigest { slot: slot.clone(), delivery, reply },
        CALL_TIMEOUT,
    ));
    match flatten(answer) {
        Ok(report) => {
            let (sent, sent_to, mut errors) = sending(http, report.queued, report.sent_to, report.purpose);
            if report.already_sent {
                errors.push("this slot was already sent today".to_string());
            }
            Reply::ok(json!({
                "job": "send_summary",
                "slot": report.slot,
                "overdue_sms": report.overdue_sms,
                "overdue_calls": report.overdue_calls,
                "resolved_since": report.resolved_since,
                "dry_run": delivery == Delivery::DryRun,
                "body": report.body,
                "sent": sent,
                "sent_to": sent_to,
                "errors": errors,
            }))
        }
        Err(err) if err.starts_with("unknown slot") => Reply::error(400, err),
        Err(err) => Reply::ok(json!({ "job": "send_summary", "slot": slot, "sent": false, "errors": [err] })),
    }
}

/// How long a job waits for its SMS to go out before it answers with where they stand.
const SEND_WAIT: Duration = Duration::from_secs(10);

/// What a job may truthfully say of its SMS (SPEC §2, §8): "sent" only for managers GHL
/// accepted it for. The outbox sends within moments of the queueing; the job waits up to
/// [`SEND_WAIT`] and then says what is still waiting and why (GHL down, no token), since the
/// outbox goes on retrying after the answer.
fn sending(
    http: &HttpContext,
    queued: bool,
    queued_for: Vec<String>,
    purpose: Option<String>,
) -> (bool, Vec<String>, Vec<String>) {
    let Some(purpose) = purpose.filter(|_| queued) else {
        return (false, Vec::new(), Vec::new());
    };
    if http.ctx.config.ghl.token.is_none() {
        return (
            false,
            Vec::new(),
            vec![format!("not sent: no GHL_TOKEN ({} manager(s) would have got it)", queued_for.len())],
        );
    }
    let started = Instant::now();
    let rows = loop {
        let purpose = purpose.clone();
        let rows = http.runtime.block_on(call(
            names::STORE,
            |reply| StoreMsg::OutboxProgress { purpose, reply },
            CALL_TIMEOUT,
        ));
        let rows = match flatten(rows) {
            Ok(rows) => rows,
            Err(err) => return (false, Vec::new(), vec![format!("queued, but its progress is unknown: {err}")]),
        };
        // Done when every row was sent, given up, or tried once and failed (it is retried later).
        let settled = rows.iter().all(|row| row.status != "pending" || row.last_error.is_some());
        if settled || started.elapsed() >= SEND_WAIT {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut sent_to: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for row in rows {
        let (contact, error) = (row.contact_id, row.last_error);
        match row.status.as_str() {
            "sent" => {
                if !sent_to.contains(&contact) {
                    sent_to.push(contact);
                }
            }
            "pending" => errors.push(format!(
                "not sent yet to {contact}: {}; queued, the outbox retries it",
                error.unwrap_or_else(|| "GHL has not answered yet".to_string())
            )),
            other => errors.push(format!("not sent to {contact} ({other}): {}", error.unwrap_or_default())),
        }
    }
    (!sent_to.is_empty(), sent_to, errors)
}

fn escalations(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let delivery = match delivery(query) {
        Ok(delivery) => delivery,
        Err(reply) => return reply,
    };
    let answer =
        http.runtime.block_on(call(names::SUMMARY, |reply| SummaryMsg::SendAlert { delivery, reply }, CALL_TIMEOUT));
    match flatten(answer) {
        Ok(report) => {
            let (sent, sent_to, errors) = sending(http, report.queued, report.sent_to, report.purpose);
            Reply::ok(json!({
                "job": "escalations",
                "new_breaches": report.new_breaches,
                "dry_run": delivery == Delivery::DryRun,
                "body": report.body,
                "sent": sent,
                "sent_to": sent_to,
                "errors": errors,
            }))
        }
        Err(err) => Reply::ok(json!({ "job": "escalations", "sent": false, "errors": [err] })),
    }
}

fn cleanup_raw_events(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let days = match query.get("days") {
        None => http.ctx.config.raw_events_retention_days,
        Some(text) => match text.parse::<u32>() {
            Ok(days) if days >= 1 => days,
            _ => {
                return Reply::error(400, format!("days={text:?}: expected a whole number of days, at least 1"));
            }
        },
    };
    let dry_run = match flag_param(query, "dry_run", true) {
        Ok(dry_run) => dry_run,
        Err(reply) => return reply,
    };
    let before = http.ctx.time.now() - jiff::SignedDuration::from_hours(24 * i64::from(days));
    let answer = http.runtime.block_on(call(
        names::STORE,
        |reply| StoreMsg::PruneRawEvents { before, dry_run, reply },
        CALL_TIMEOUT,
    ));
    match flatten(answer) {
        Ok(count) => Reply::ok(json!({
            "job": "cleanup_raw_events",
            "retention_days": days,
            "eligible": count,
            "deleted": if dry_run { 0 } else { count },
            "dry_run": dry_run,
        })),
        Err(err) => Reply::error(503, err),
    }
}

fn inject_failure(query: &HashMap<String, String>) -> Reply {
    match query.get("actor").and_then(|name| Child::from_name(name)) {
        Some(child) => {
            child.inject_failure();
            Reply::ok(json!({ "failed": child.name() }))
        }
        None => Reply::error(400, "actor: expected store, intake, clock, resolver or summary"),
    }
}

fn wedge(query: &HashMap<String, String>) -> Reply {
    let Some(seconds) = query.get("seconds").and_then(|s| s.parse::<u64>().ok()).filter(|s| *s <= 600) else {
        return Reply::error(400, "seconds: expected a whole number up to 600");
    };
    crate::actors::cast(names::STORE, StoreMsg::Wedge(Duration::from_secs(seconds)));
    Reply::ok(json!({ "wedged": "store", "seconds": seconds }))
}

fn set_clock(http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    let instant = |name: &str| query.get(name).map(|text| text.parse::<jiff::Timestamp>());
    let time = &http.ctx.time;
    match (instant("set"), instant("step")) {
        (Some(Ok(to)), _) => {
            time.set(to);
        }
        (_, Some(Ok(to))) => {
            time.step(to);
        }
        (Some(Err(_)), _) | (_, Some(Err(_))) => {
            return Reply::error(400, "set/step: expected an RFC 3339 instant, e.g. 2026-03-02T15:00:00Z");
        }
        (None, None) if query.contains_key("synchronized") => {}
        (None, None) => {
            return Reply::error(400, "set: expected an RFC 3339 instant, e.g. 2026-03-02T15:00:00Z");
        }
    }
    if let Some(flag) = query.get("synchronized") {
        match flag.as_str() {
            "1" | "true" => time.set_synchronized(true),
            "0" | "false" => time.set_synchronized(false),
            _ => return Reply::error(400, "synchronized: expected 1 or 0"),
        };
    }
    // The clock watcher looks at once, as it would within two seconds on a real clock.
    let change = crate::actors::clockwatch::look(&http.ctx);
    crate::actors::clockwatch::act(&http.ctx, change);
    // The clock and the summary sender sleep on real time; moving the test clock must wake them.
    crate::actors::cast(names::CLOCK, ClockMsg::Rescheduled);
    crate::actors::cast(names::SUMMARY, SummaryMsg::Wake);
    crate::actors::cast(names::RESOLVER, ResolverMsg::Tick);
    Reply::ok(json!({ "now": time.now(), "trusted": http.ctx.signals.clock_trusted() }))
}

fn flatten<T>(answer: anyhow::Result<Result<T, String>>) -> Result<T, String> {
    match answer {
        Ok(inner) => inner,
        Err(err) => Err(format!("{err:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison_is_still_a_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"secrets", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
    }

    #[test]
    fn form_bodies_read_like_json() {
        let object =
            form_to_object("contact_id=c1&message%5Bbody%5D=hi+there&customData[voicemail_route]=tech_sentinel");
        assert_eq!(object["contact_id"], "c1");
        assert_eq!(object["message"]["body"], "hi there");
        assert_eq!(object["customData"]["voicemail_route"], "tech_sentinel");
    }
}
