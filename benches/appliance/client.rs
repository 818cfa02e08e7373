//! The benchmark's HTTP side: a keep-alive connection that posts webhooks, the webhooks it
//! posts, and [`deliver`], which runs deliveries on many connections at once and times each.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::SECRET;

/// A keep-alive HTTP/1.1 connection, as GHL's senders and a tunnel keep them.
pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    /// Connects to `addr` (`host:port`).
    pub fn open(addr: &str) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Connection { reader: BufReader::new(stream) })
    }

    /// Gives up reading an answer after `timeout`: `post` then fails.
    pub fn with_read_timeout(self, timeout: Duration) -> anyhow::Result<Connection> {
        self.reader.get_ref().set_read_timeout(Some(timeout))?;
        Ok(self)
    }

    /// POSTs `body` with the right secret; the answer's status, once the whole answer is read.
    pub fn post(&mut self, path: &str, body: &str) -> anyhow::Result<u16> {
        self.post_with(path, body, SECRET)
    }

    /// POSTs `body` with `secret` as `X-NTPP-Secret`; the answer's status.
    pub fn post_with(&mut self, path: &str, body: &str, secret: &str) -> anyhow::Result<u16> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nX-NTPP-Secret: {secret}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.send(&request)
    }

    /// POSTs a console form (`name=…&pin=…`), as a browser on the office LAN would; the
    /// answer's status.
    pub fn post_form(&mut self, path: &str, form: &str) -> anyhow::Result<u16> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        );
        self.send(&request)
    }

    fn send(&mut self, request: &str) -> anyhow::Result<u16> {
        self.reader.get_mut().write_all(request.as_bytes())?;
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line)?;
        let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body)?;
        Ok(status)
    }
}

/// The `n`th event of `worker`: unique message ids (every event is new and durable) over 500
/// parties, so texts both open issues and repeat on live ones.
pub fn bench_event(base: u64, worker: usize, n: usize, per_worker: usize) -> String {
    let id = base + (worker * per_worker + n) as u64;
    json!({ "type": "InboundMessage", "messageId": format!("bench-{id}"),
        "contactId": format!("party-{}", id % 500), "conversationId": format!("conv-{}", id % 500),
        "messageType": "SMS", "direction": "inbound", "body": "The pool is green again" })
    .to_string()
}

/// Delivers webhooks on keep-alive connections, one thread each: on connection `worker`, the
/// events `first..per_worker` of that worker ([`bench_event`]). Returns each delivery's time
/// from sending to its whole answer. Every answer must be 200; all threads are joined before
/// it returns, also when one fails.
pub fn deliver(
    connections: Vec<Connection>,
    base: u64,
    first: usize,
    per_worker: usize,
) -> anyhow::Result<Vec<Duration>> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = connections
            .into_iter()
            .enumerate()
            .map(|(worker, mut connection)| {
                scope.spawn(move || -> anyhow::Result<Vec<Duration>> {
                    let mut latencies = Vec::with_capacity(per_worker);
                    for n in first..per_worker {
                        let body = bench_event(base, worker, n, per_worker);
                        let sent = Instant::now();
                        let status = connection.post("/webhook/ghl", &body)?;
                        latencies.push(sent.elapsed());
                        anyhow::ensure!(status == 200, "a delivery got {status}");
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut failed = None;
        for worker in workers {
            match worker.join().unwrap_or_else(|_| Err(anyhow::format_err!("worker panicked"))) {
                Ok(latencies) => all.extend(latencies),
                Err(err) => failed = Some(err),
            }
        }
        failed.map_or(Ok(all), Err)
    })
}
