//! Running the service: logging, the runtime, the supervisor, both listeners, systemd
//! notifications, and a graceful stop on SIGTERM.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ractor::Actor;
use sd_notify::NotifyState;
use tiny_http::Server;

use crate::actors::catchup::CatchUpHandle;
use crate::actors::store::StoreHandle;
use crate::actors::{Ctx, Shared};
use crate::config::Config;
use crate::ghl::client::GhlClient;
use crate::ghl::signature::Verifier;
use crate::guard::AuthGuard;
use crate::http::{self, HttpContext, Listener, ListenerWatch, Workers};
use crate::led::{Led, LedState};
use crate::secret::{SecretOrigin, ensure_webhook_secret, secret_path};
use crate::signals::TunnelState;
use crate::supervisor::{Supervisor, probe_all};
use crate::time::TimeSource;

/// Worker threads on the webhook listener, always and at most: requests wait here for the group
/// commit, so more workers mean larger commit batches under load; the extra ones serve bursts
/// and slow clients.
const WEBHOOK_WORKERS: (usize, usize) = (64, 1024);
/// Worker threads on the admin listener.
const ADMIN_WORKERS: (usize, usize) = (4, 64);

/// Sets up tracing: journald under systemd, readable stderr otherwise (SPEC §11). An instance
/// logs as `sentinel-NAME`, the `SyslogIdentifier=` of `sentinel@.service` (issue 29), so
/// `journalctl -t sentinel-dallas` shows one location's lines.
pub fn init_logging(instance: Option<&str>) {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let journald =
        std::env::var_os("JOURNAL_STREAM").is_some().then(|| tracing_journald::layer().ok()).flatten().map(|layer| {
            match instance {
                Some(name) => layer.with_syslog_identifier(format!("sentinel-{name}")),
                None => layer,
            }
        });
    let stderr = journald.is_none().then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
    });
    let _ = tracing_subscriber::registry().with(filter).with(journald).with(stderr).try_init();
}

/// The clock: the system's, or a manual one when `SENTINEL_TEST_NOW` is set (tests only).
fn time_source() -> anyhow::Result<TimeSource> {
    match std::env::var("SENTINEL_TEST_NOW") {
        Ok(text) if !text.is_empty() => {
            let at =
                text.parse().with_context(|| format!("SENTINEL_TEST_NOW={text:?}: expected an RFC 3339 instant"))?;
            tracing::warn!("running on a manual test clock starting at {at}");
            Ok(TimeSource::manual(at))
        }
        _ => Ok(TimeSource::System),
    }
}

/// Why the service stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM or SIGINT.
    Signal,
    /// An update asked for a restart: exit with `update::RESTART_EXIT`, which systemd restarts.
    Restart,
}

/// Runs the service until SIGTERM or SIGINT, or an update's restart.
pub fn run(config: Config) -> anyhow::Result<Stopped> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("sentinel-rt")
        .build()
        .context("starting the async runtime")?;
    let _held = crate::backup::hold_database(&config.db_path)?;
    let (secret, origin) = ensure_webhook_secret(config.webhook_secret.as_ref(), &config.data_dir())?;
    let time = time_source()?;
    let started_monotonic = time.monotonic();
    let ghl = GhlClient::new(&config.ghl, time.clone());
    let ai = crate::clients::ai::AiClient::new(&config.ai_gate);
    let offbox = crate::offbox::Uploads::new(config.offbox.bucket.is_some());
    let hours = crate::signals::LiveCalendar::new(config.calendar.clone());
    let signals = Default::default();
    let ctx: Ctx = Arc::new(Shared { config, time, started_monotonic, ghl, ai, signals, offbox, hours });
    // Judge the wall clock before anything uses it, then keep watching it.
    crate::clockwatch::look(&ctx);
    if let Some(reason) = ctx.signals.clock().untrusted {
        tracing::warn!("{reason}: webhooks are kept and judged once the time is known");
    }

    let (supervisor, supervisor_done) = runtime
        .block_on(Actor::spawn(Some("supervisor".to_string()), Supervisor, ctx.clone()))
        .map_err(|err| anyhow::format_err!("{err}"))
        .context("starting the actors")?;

    // Webhooks kept while the clock could not be believed, before a restart or a power cut,
    // are judged now if it can be (the watcher replays them when it becomes so otherwise).
    if ctx.signals.clock_trusted() {
        crate::actors::intake::IntakeHandle.replay();
    }

    let webhook_watch = ListenerWatch::default();
    let admin_watch = webhook_watch.sibling();
    let listener_failed = webhook_watch.failed.clone();
    let bind = |addr, watch| http::bind(addr, ctx.config.http_timeout, watch).map(Arc::new);
    let webhook_server = bind(ctx.config.listen_addr, webhook_watch.clone())?;
    let admin_server = bind(ctx.config.admin_listen_addr, admin_watch.clone())?;
    let verifier = Verifier::new(ctx.config.ghl.ed25519_key.as_deref(), ctx.config.ghl.rsa_key.as_deref())
        .map_err(anyhow::Error::msg)?;
    let http = HttpContext {
        ctx: ctx.clone(),
        runtime: runtime.handle().clone(),
        secret: secret.clone(),
        verifier,
        guard: Arc::new(AuthGuard::new(ctx.config.client_ip_header.clone())),
        pins: Arc::default(),
        probes: Arc::default(),
    };
    let webhook_workers =
        Workers::start(webhook_server.clone(), Listener::Webhook, http.clone(), WEBHOOK_WORKERS, webhook_watch)
            .context("starting the webhook workers")?;
    let admin_workers = Workers::start(admin_server.clone(), Listener::Admin, http, ADMIN_WORKERS, admin_watch)
        .context("starting the admin workers")?;

    announce(&ctx, &webhook_server, &admin_server, secret.expose(), origin);
    let _ = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status("running")]);
    let watchdog = sd_notify::watchdog_enabled().map(|period| runtime.spawn(feed_watchdog(ctx.clone(), period)));
    let health = runtime.spawn(watch_health(ctx.clone()));
    let clock_watch = runtime.spawn(crate::clockwatch::watch(ctx.clone()));
    let tunnel = ctx.config.tunnel_ready_url.clone().map(|url| runtime.spawn(watch_tunnel(ctx.clone(), url)));
    let gate = runtime.spawn(crate::update::gate::start(ctx.clone()));
    let doctor = runtime.spawn(crate::doctor::watch::watch(ctx.clone()));
    let network = runtime.spawn(crate::netwatch::watch(ctx.clone()));
    let auto_update =
        ctx.config.update_url.clone().map(|url| runtime.spawn(crate::update::auto::watch(ctx.clone(), url)));

    let (failed, stopped) = runtime.block_on(async {
        tokio::select! {
            () = shutdown_signal() => (false, Stopped::Signal),
            () = listener_failed.notified() => (true, Stopped::Signal),
            () = crate::update::restart_requested() => (false, Stopped::Restart),
        }
    });
    gate.abort();
    doctor.abort();
    network.abort();
    if let Some(auto_update) = auto_update {
        auto_update.abort();
    }
    tracing::info!("stopping: draining requests");
    let _ = sd_notify::notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    health.abort();
    clock_watch.abort();
    // Wait until the task is gone: its Led stops and joins any blink thread of ours, which
    // could otherwise light the LED again after it was turned off below.
    let _ = runtime.block_on(health);
    if let Some(tunnel) = tunnel {
        tunnel.abort();
    }
    if let Err(err) = Led::new(&ctx.config.led_path).show(LedState::Off) {
        tracing::warn!("turning the LED off: {err:#}");
    }
    // Unblock every worker; each finishes the request it holds, so in-flight webhooks still
    // get their commit and their answer.
    webhook_workers.stop();
    admin_workers.stop();
    supervisor.stop(Some("shutdown".to_string()));
    runtime.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(10), supervisor_done).await;
    });
    // A GHL request still in flight (up to its timeout and retries) must not hold the stop: its
    // outbox row is still pending, so it is sent after the restart.
    runtime.shutdown_timeout(Duration::from_secs(2));
    tracing::info!("stopped");
    // A non-zero exit makes systemd (Restart=on-failure) start a fresh process that listens again.
    anyhow::ensure!(!failed, "a listener stopped accepting connections");
    Ok(stopped)
}

/// Prints where to point GHL, once per start; the secret itself only when it was just made.
fn announce(ctx: &Ctx, webhook: &Server, admin: &Server, secret: &str, origin: SecretOrigin) {
    let webhook_addr = webhook.server_addr().to_ip().map(|a| a.to_string()).unwrap_or_default();
    let admin_addr = admin.server_addr().to_ip().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(webhook = %webhook_addr, admin = %admin_addr, db = %ctx.config.db_path.display(), "listening");
    let mut said = String::new();
    let _ = writeln!(said, "Sentinel {} is running.", crate::version::running());
    let _ = writeln!(said, "  database:         {}", ctx.config.db_path.display());
    match origin {
        SecretOrigin::Generated => {
            let _ = writeln!(said, "  webhook secret (generated now, shown once): {secret}");
            let _ = writeln!(
                said,
                "  GHL workflows post to: http://{webhook_addr}/webhook/ghl/inbound_sms?secret={secret}"
            );
        }
        SecretOrigin::Stored => {
            let _ = writeln!(said, "  webhook secret: in {}", secret_path(&ctx.config.data_dir()).display());
        }
        SecretOrigin::Configured => {
            let _ = writeln!(said, "  webhook secret: WEBHOOK_SECRET");
        }
    }
    let ai = &ctx.config.ai_gate;
    if ai.enabled {
        let _ = writeln!(said, "  AI check:         on, {} at {} (SPEC §10)", ai.model, ai.base_url);
    }
    // The listener lines come last: scripts and tests read up to them.
    let _ = writeln!(
        said,
        "  webhook listener: http://{webhook_addr}/webhook/ghl/inbound_sms (also /unanswered_call, /webhook/ghl)"
    );
    let _ = writeln!(said, "  admin listener:   http://{admin_addr}/health");
    // A closed stdout (`sentinel run | head`) loses the banner, not the service.
    crate::output::banner(&said);
}

/// Feeds the systemd watchdog only after every actor answered through its mailbox and the
/// store committed a write; never from a free-running timer (APPLIANCE §2.2).
async fn feed_watchdog(ctx: Ctx, period: Duration) {
    let mut interval = tokio::time::interval(period / 3);
    loop {
        interval.tick().await;
        let health = probe_all(period / 4).await;
        if health.iter().all(|actor| actor.ok) {
            // A failing GHL is "degraded": say so, and keep feeding (a restart cannot fix it).
            let ghl = ctx.ghl.status();
            let status = match ghl.last_error {
                Some(error) if ghl.state == "degraded" => format!("degraded: {error}"),
                _ => format!("healthy; GHL {}", ghl.state),
            };
            let _ = sd_notify::notify(&[NotifyState::Watchdog, NotifyState::Status(&status)]);
        } else {
            let failing: Vec<&str> = health.iter().filter(|a| !a.ok).map(|a| a.name).collect();
            tracing::error!(?failing, "watchdog not fed: actors are not answering");
            let _ = sd_notify::notify(&[NotifyState::Status(&format!("failing: {}", failing.join(", ")))]);
        }
    }
}

/// How often the tunnel's readiness is asked.
const TUNNEL_EVERY: Duration = Duration::from_secs(5);

/// Asks the tunnel's readiness endpoint (cloudflared's `/ready`) and keeps the answer for
/// `/health` and the LED. A tunnel that is down makes the appliance degraded, not failing.
async fn watch_tunnel(ctx: Ctx, url: String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(3)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut interval = tokio::time::interval(TUNNEL_EVERY);
    loop {
        interval.tick().await;
        let (agent, url) = (agent.clone(), url.clone());
        let answer = tokio::task::spawn_blocking(move || agent.get(&url).call().map(|r| r.status().as_u16())).await;
        let state = match answer {
            Ok(Ok(200)) => TunnelState::Up,
            Ok(Ok(status)) => TunnelState::Down(format!("readiness answered {status}")),
            Ok(Err(err)) => TunnelState::Down(format!("readiness did not answer: {err}")),
            Err(err) => TunnelState::Down(err.to_string()),
        };
        let was_down = matches!(ctx.signals.tunnel(), TunnelState::Down(_));
        if ctx.signals.set_tunnel(state.clone()) {
            match &state {
                TunnelState::Down(why) => tracing::warn!("tunnel down: {why}"),
                _ => tracing::info!("tunnel up"),
            }
            // Webhooks sent while it was down may be lost: GHL is asked what came (SPEC §12).
            if was_down && state == TunnelState::Up {
                CatchUpHandle.after_gap("tunnel back");
            }
        }
    }
}

/// How often the LED is brought up to date.
const LED_EVERY: Duration = Duration::from_secs(2);

/// The appliance's health in a word: failing when an actor does not answer or the disk is
/// full, degraded when GHL is unreachable or refuses the token, healthy otherwise.
async fn health_state(ctx: &Ctx) -> LedState {
    let health = probe_all(Duration::from_secs(3)).await;
    let ghl = ctx.ghl.status();
    if !health.iter().all(|actor| actor.ok) || ctx.signals.disk_full() {
        LedState::Failing
    } else if ctx.signals.degraded(ghl.state) {
        LedState::Degraded
    } else {
        LedState::Healthy
    }
}

/// Looks at health every [`LED_EVERY`], once for both of its readers: the LED shows it
/// (SPEC §11), and a `health` webhook is queued (issue 18) whenever it changes. The first
/// reading after start is the baseline, not a change.
async fn watch_health(ctx: Ctx) {
    use crate::domain::notify::EventKind;
    let mut led = Some(Led::new(&ctx.config.led_path)).filter(Led::is_present);
    if led.is_none() {
        tracing::info!(path = %ctx.config.led_path.display(), "no status LED; it is not driven");
    }
    let hooks = ctx.config.notify.targets.iter().any(|target| target.takes(EventKind::Health));
    if led.is_none() && !hooks {
        return;
    }
    let mut interval = tokio::time::interval(LED_EVERY);
    let mut last: Option<LedState> = None;
    loop {
        interval.tick().await;
        let state = health_state(&ctx).await;
        if let Some(led) = led.as_mut()
            && let Err(err) = led.show(state)
        {
            tracing::warn!("status LED: {err:#}");
        }
        let before = last.replace(state);
        let Some(before) = before.filter(|before| *before != state && hooks) else {
            continue;
        };
        let now = ctx.time.now();
        let word = |state: LedState| format!("{state:?}").to_lowercase();
        let text = format!("{}: health changed from {} to {}", crate::domain::format::BRAND, word(before), word(state));
        // Unique per change, the same on a retry of the queueing.
        let purpose = format!("health:{now}:{}-{}", word(before), word(state));
        // Beside the loop: a store that does not answer must not hold up the LED.
        tokio::spawn(async move {
            if let Err(err) = StoreHandle::default().queue_hook(EventKind::Health, purpose, text, now).await {
                tracing::warn!("queueing the health webhook failed: {err}");
            }
        });
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
