//! Starts the real `sentinel` binary on free loopback ports with a temporary data directory,
//! and talks to it over real HTTP and its real SQLite file.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::fake_ghl::FakeGhl;

/// The secret every test instance uses unless a test says otherwise.
pub const SECRET: &str = "test-secret-0123456789";

/// A running Sentinel.
pub struct Sentinel {
    child: Child,
    dir: tempfile::TempDir,
    /// `127.0.0.1:port` of the webhook listener.
    pub webhook_addr: String,
    /// `127.0.0.1:port` of the admin listener.
    pub admin_addr: String,
    /// What it printed at start.
    pub banner: String,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body parsed as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// Raw body.
    pub text: String,
    /// Status line and headers, as sent.
    pub head: String,
}

impl Answer {
    /// A header's value (case-insensitive name), if the answer had it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// The path of a payload in `tests/fixtures/payloads`.
pub fn payload(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/payloads").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Environment for a test instance: loopback ports chosen by the OS, the test secret.
pub fn base_env() -> Vec<(String, String)> {
    [
        ("LISTEN_ADDR", "127.0.0.1:0"),
        ("ADMIN_LISTEN_ADDR", "127.0.0.1:0"),
        ("WEBHOOK_SECRET", SECRET),
        ("LED_PATH", "/nonexistent/led"),
        ("RUST_LOG", "info"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The environment that points a test instance at a fake GHL, as an installed appliance is
/// pointed at GHL: its URL, a token and the location `loc1` (GHL requires a location on every
/// search, issue 13 part 2). Add to it, then start:
/// `with_ghl(&ghl).and(&[("SENTINEL_TEST_NOW", now)]).start()`.
pub fn with_ghl(ghl: &FakeGhl) -> Env<'_> {
    Env(vec![("GHL_BASE_URL", ghl.url.as_str()), ("GHL_TOKEN", "test-token"), ("GHL_LOCATION_ID", "loc1")])
}

/// Settings for a test instance on top of [`base_env`]; a later value of a name replaces an
/// earlier one.
#[derive(Debug, Clone)]
pub struct Env<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Env<'a> {
    /// These settings too, replacing any of the same name.
    pub fn and(mut self, extra: &[(&'a str, &'a str)]) -> Env<'a> {
        for (name, value) in extra {
            self.0.retain(|(n, _)| n != name);
            self.0.push((name, value));
        }
        self
    }

    /// Without `name`, e.g. `GHL_LOCATION_ID` for an install that has not learned its location.
    pub fn without(mut self, name: &str) -> Env<'a> {
        self.0.retain(|(n, _)| *n != name);
        self
    }

    /// Starts Sentinel with these settings and a new data directory.
    pub fn start(&self) -> anyhow::Result<Sentinel> {
        Sentinel::start(&self.0)
    }

    /// Starts Sentinel with these settings on the data in `dir` (a restart).
    pub fn start_in(&self, dir: tempfile::TempDir) -> anyhow::Result<Sentinel> {
        Sentinel::start_in(dir, &self.0)
    }
}

impl Sentinel {
    /// Starts with the base environment plus `extra`.
    pub fn start(extra: &[(&str, &str)]) -> anyhow::Result<Sentinel> {
        Sentinel::start_in(tempfile::tempdir()?, extra)
    }

    /// Starts with the database in `dir` (to restart on the same data).
    pub fn start_in(dir: tempfile::TempDir, extra: &[(&str, &str)]) -> anyhow::Result<Sentinel> {
        Sentinel::start_with_args(dir, &[], extra)
    }

    /// Starts `sentinel ARGS...` (e.g. `run --config FILE`) with the database in `dir`.
    pub fn start_with_args(dir: tempfile::TempDir, args: &[&str], extra: &[(&str, &str)]) -> anyhow::Result<Sentinel> {
        Sentinel::start_command(command(), dir, args, extra)
    }

    /// Starts `program ARGS...` (e.g. the update launcher, which execs a sentinel) as
    /// [`Sentinel::start_with_args`] starts the binary under test.
    pub fn start_command(
        program: Command,
        dir: tempfile::TempDir,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Sentinel> {
        let mut env = base_env();
        env.push(("DB_PATH".into(), dir.path().join("sentinel.db").display().to_string()));
        for (name, value) in extra {
            env.retain(|(n, _)| n != name);
            env.push((name.to_string(), value.to_string()));
        }
        Sentinel::spawn(program, dir, args, env)
    }

    /// Starts `sentinel ARGS...` as a systemd unit would (`sentinel@.service`, issue 29): with
    /// only `env` and what every test gets (no LED, its own network tree), and nothing of
    /// [`base_env`]: no listeners, secret or `DB_PATH`, which come from the env file the
    /// arguments name, or the defaults.
    pub fn start_as_unit(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Sentinel> {
        let mut all =
            vec![("LED_PATH".to_string(), "/nonexistent/led".to_string()), ("RUST_LOG".into(), "info".into())];
        all.extend(env.iter().map(|(name, value)| (name.to_string(), value.to_string())));
        Sentinel::spawn(command(), dir, args, all)
    }

    fn spawn(
        mut program: Command,
        dir: tempfile::TempDir,
        args: &[&str],
        mut env: Vec<(String, String)>,
    ) -> anyhow::Result<Sentinel> {
        // The network the box sees (issue 28): a cabled one of its own, so no test depends on
        // this machine's interfaces; tests of the network give their own tree.
        let net = dir.path().join("net");
        crate::net_tree::Net::at(&net)
            .link("lo", "unknown", true, false)?
            .ethernet("eth0", true)?
            .routes(&[("eth0", 100)])?;
        if !env.iter().any(|(name, _)| name == "SENTINEL_NET_ROOT") {
            env.push(("SENTINEL_NET_ROOT".into(), net.display().to_string()));
        }
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(dir.path().join("stderr.log"))?;
        let mut child = program
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting sentinel")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let (mut webhook_addr, mut admin_addr) = (None, None);
        while webhook_addr.is_none() || admin_addr.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if line.contains("webhook listener:") {
                        webhook_addr = address_in(&line);
                    }
                    if line.contains("admin listener:") {
                        admin_addr = address_in(&line);
                    }
                    banner.push_str(&line);
                    banner.push('\n');
                }
                Err(_) => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
                    bail!("sentinel did not start:\n{banner}\n{log}");
                }
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || while lines_rx.recv().is_ok() {});
        Ok(Sentinel {
            child,
            dir,
            webhook_addr: webhook_addr.unwrap_or_default(),
            admin_addr: admin_addr.unwrap_or_default(),
            banner,
        })
    }

    /// The process id (of the runner, when one is used); the benchmark reads /proc with it.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("sentinel.db")
    }

    /// A read connection to the real database file.
    pub fn db(&self) -> anyhow::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open_with_flags(self.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(conn)
    }

    /// One number from the database.
    pub fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(self.db()?.query_row(sql, [], |row| row.get(0))?)
    }

    /// POSTs a JSON webhook with the secret header.
    pub fn webhook(&self, route: &str, body: &str) -> anyhow::Result<Answer> {
        let path = if route.is_empty() { "/webhook/ghl".to_string() } else { format!("/webhook/ghl/{route}") };
        request(
            &self.webhook_addr,
            "POST",
            &path,
            &[("X-NTPP-Secret", SECRET), ("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    /// A request to the admin listener with the secret in the header.
    pub fn admin(&self, method: &str, path: &str) -> anyhow::Result<Answer> {
        request(&self.admin_addr, method, path, &[("X-NTPP-Secret", SECRET)], b"")
    }

    /// Sets the manual test clock (needs `SENTINEL_TEST_NOW`).
    pub fn set_clock(&self, at: &str) -> anyhow::Result<()> {
        let answer = self.admin("POST", &format!("/debug/clock?set={at}"))?;
        anyhow::ensure!(answer.status == 200, "setting the clock: {answer:?}");
        Ok(())
    }

    /// Polls `check` until it holds or 10 s pass (30 s when the binary runs under an emulator,
    /// `SENTINEL_BIN_RUNNER`): for effects an actor applies after answering (the SLA clock
    /// after the test moved time). Not a timing assertion.
    pub fn eventually(&self, what: &str, mut check: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
        let patience = if std::env::var_os("SENTINEL_BIN_RUNNER").is_some() { 30 } else { 10 };
        let deadline = Instant::now() + Duration::from_secs(patience);
        loop {
            if check()? {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{what} did not happen; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// What the service logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// The exit status if it has exited on its own.
    #[allow(dead_code)]
    pub fn try_exit(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Waits up to `limit` for an exit the service chose itself (a restart it asked for);
    /// returns the status and the data directory for the restart.
    #[allow(dead_code)]
    pub fn wait_exit(mut self, limit: Duration) -> anyhow::Result<(ExitStatus, tempfile::TempDir)> {
        let status = wait_with_timeout(&mut self.child, limit)?;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir()?);
        Ok((status, dir))
    }

    /// Sends SIGTERM and waits for the exit; returns the data directory for a restart.
    pub fn stop(mut self) -> anyhow::Result<(ExitStatus, tempfile::TempDir)> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let status = wait_with_timeout(&mut self.child, Duration::from_secs(20))?;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir()?);
        Ok((status, dir))
    }
}

impl Sentinel {
    /// SIGKILL, as a power cut would: no chance to drain or flush. Returns the data directory.
    pub fn kill(mut self) -> anyhow::Result<tempfile::TempDir> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(std::mem::replace(&mut self.dir, tempfile::tempdir()?))
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary under test: the one cargo built, or `SENTINEL_BIN` (e.g. the aarch64 build),
/// run through `SENTINEL_BIN_RUNNER` (e.g. `qemu-aarch64-static`) when set. The tests stay
/// native; only the program under test is emulated.
pub fn command() -> Command {
    let binary = std::env::var("SENTINEL_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sentinel").to_string());
    match std::env::var("SENTINEL_BIN_RUNNER") {
        Ok(runner) if !runner.is_empty() => {
            let mut command = Command::new(runner);
            command.arg(binary);
            command
        }
        _ => Command::new(binary),
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> anyhow::Result<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("sentinel did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn address_in(line: &str) -> Option<String> {
    let start = line.find("http://")? + "http://".len();
    let rest = &line[start..];
    let end = rest.find('/').unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// The value of one series in a `/metrics` scrape, named with its labels but without the
/// `location` label every series carries (issue 29): `sentinel_issues_pending` or
/// `sentinel_actor_up{actor="store"}`.
pub fn metric<'a>(scrape: &'a str, series: &str) -> Option<&'a str> {
    scrape.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (named, value) = line.rsplit_once(' ')?;
        let (name, labels) = named.split_once('{').unwrap_or((named, "}"));
        let kept: Vec<&str> = labels
            .trim_end_matches('}')
            .split(',')
            .filter(|label| !label.is_empty() && !label.starts_with("location="))
            .collect();
        let bare = if kept.is_empty() { name.to_string() } else { format!("{name}{{{}}}", kept.join(",")) };
        (bare == series).then_some(value)
    })
}

/// A minimal HTTP/1.1 client: one request per connection, so tests can also send what a
/// well-behaved client library would refuse to.
pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> anyhow::Result<Answer> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    raw_request(addr, head.as_bytes(), body)
}

/// Sends bytes as they are and parses the answer.
pub fn raw_request(addr: &str, head: &[u8], body: &[u8]) -> anyhow::Result<Answer> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(head)?;
    // The server may answer (413) and close before reading a large body; that is fine.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no status line in {text:?}"))?;
    let (head, body) =
        text.split_once("\r\n\r\n").map(|(head, body)| (head.to_string(), body.to_string())).unwrap_or_default();
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    Ok(Answer { status, json, text: body, head })
}

/// Writes `script` as an executable at `path`.
pub fn script(path: &Path, script: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, script)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Plants `body` (a shell script) as slot `a`'s binary under `data`, with the SHA-256 the
/// launcher checks and `slots/current` pointing at it, as an installed update leaves them.
pub fn planted_slot(data: &Path, body: &str) -> anyhow::Result<()> {
    let slot = data.join("slots/a");
    std::fs::create_dir_all(&slot)?;
    script(&slot.join("sentinel"), body)?;
    let hashed = Command::new("sha256sum").arg("sentinel").current_dir(&slot).output()?;
    anyhow::ensure!(hashed.status.success(), "sha256sum failed");
    std::fs::write(slot.join("sentinel.sha256"), &hashed.stdout)?;
    std::os::unix::fs::symlink("a", data.join("slots/current"))?;
    Ok(())
}
