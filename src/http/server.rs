//! The listeners' machinery: binding with socket timeouts, the keeper that watches a listener
//! still accepts, the worker pool, the tarpit for slowed-down guessers, and sending answers.
//!
//! Each request a worker takes goes to [`super::route`]; what comes back is written here.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tiny_http::{Header, Request, Response, Server};
use tokio::sync::Notify;

use super::{HttpContext, Listener, route};
use crate::guard::Held;

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
    let listener = listen(addr).with_context(|| format!("binding {addr}"))?;
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

/// Connections the kernel holds for the listener before it accepts them. std's 128 made a
/// burst of new connections overflow it and retry a second later; the kernel caps this at
/// `net.core.somaxconn` (4096 on current kernels).
const BACKLOG: i32 = 1024;

/// A listening socket as `TcpListener::bind` makes one (address reuse on Unix), with a deeper
/// backlog.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Where the keeper asks; answered by every listener without a secret.
pub(super) const KEEPER_PATH: &str = "/ping";

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
    for (name, value) in reply.headers.iter().flat_map(|headers| headers.iter()) {
        match Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            Ok(extra) => response.add_header(extra),
            Err(()) => tracing::warn!(header = name, "a header value that HTTP cannot carry was left out"),
        }
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
