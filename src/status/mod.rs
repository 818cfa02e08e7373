//! What staff see (SPEC §11): one snapshot of the appliance, shown as JSON (`/api/status`),
//! as a plain HTML page readable on a phone (`/status`), and as one screen by
//! `sentinel status`, which reads the admin listener.
//!
//! This file takes the snapshot and fetches it for `sentinel status`; `page` renders the HTML,
//! `text` the one-line descriptions and the terminal screen, and `metrics` the Prometheus text.
//! `instances` is `sentinel instances`, every location on the host (issue 29).

pub mod instances;
mod metrics;
mod page;
mod text;

pub use metrics::metrics;
pub use page::html;
pub use text::{ai_gate_line, catchup_line, countdown, offbox_line, screen, uptime};

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::actors::Ctx;
use crate::actors::store::StoreHandle;
use crate::actors::summary::next_digest;
use crate::clients::ai::AiGateStatus;
use crate::domain::event::Status;
use crate::domain::issue::Issue;
use crate::supervisor::{ActorHealth, probe_all};

/// The snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// Version of the binary.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: i64,
    /// Every actor's answer.
    pub actors: Vec<ActorState>,
    /// GHL: `ok`, `degraded`, `not configured`.
    pub ghl: String,
    /// The last GHL failure, if GHL is degraded.
    pub ghl_error: Option<String>,
    /// Last successful GHL request.
    pub last_ghl_success_at: Option<Timestamp>,
    /// Last webhook received.
    pub last_webhook_at: Option<Timestamp>,
    /// Outbox rows waiting.
    pub outbox_backlog: i64,
    /// Manager SMS that were never sent.
    #[serde(default)]
    pub outbox_not_sent: i64,
    /// Notification webhook deliveries waiting (issue 18).
    #[serde(default)]
    pub webhook_backlog: i64,
    /// Notification webhook deliveries given up.
    #[serde(default)]
    pub webhook_not_sent: i64,
    /// The notification webhooks (`NOTIFY_WEBHOOK_URLS`), each URL cut to its scheme and host
    /// with its kinds: `https://hooks.slack.com/… (breach, digest)`.
    #[serde(default)]
    pub notify_targets: Vec<String>,
    /// The newest webhooks and what came of them, newest first.
    #[serde(default)]
    pub recent_events: Vec<crate::db::events::Recent>,
    /// How the resolver's last regular pass over OPEN issues ran.
    #[serde(default)]
    pub resolver_pass: Option<crate::signals::PassInfo>,
    /// Whether webhooks are expected (`WEBHOOKS`), or the office runs on catch-up alone.
    #[serde(default = "webhooks_on")]
    pub webhooks: bool,
    /// How the last catch-up pass ran and what it found (SPEC §12).
    #[serde(default)]
    pub catchup: Option<crate::signals::CatchUpInfo>,
    /// Whether the wall clock is believed, and its last step (issue 15).
    #[serde(default)]
    pub clock: crate::signals::ClockTrust,
    /// The network in use, or why there is none (issue 28); `None` before the first look.
    #[serde(default)]
    pub network: Option<crate::domain::network::NetworkState>,
    /// The data partition is full.
    #[serde(default)]
    pub disk_full: bool,
    /// Bytes the database, its nightly backups and the update slots (with the pre-update
    /// backup) take, and the budget for all of them (`DATA_MAX_MB`).
    #[serde(default)]
    pub data_bytes: (u64, u64),
    /// The data partition's size and the bytes free on it (`None` when it cannot be read).
    #[serde(default)]
    pub partition_bytes: Option<(u64, u64)>,
    /// The GHL location: `GHL_LOCATION_ID`, else the one learnt from the webhooks.
    #[serde(default)]
    pub location: Option<String>,
    /// Whether the calendar in force is open now.
    #[serde(default)]
    pub business_hours_open: bool,
    /// A business day's last digest went by with no webhook, and none has come since.
    #[serde(default)]
    pub quiet_day: bool,
    /// Issues that went OPEN since the start of today's local date.
    #[serde(default)]
    pub breaches_today: i64,
    /// Business seconds to the first staff reply of each issue resolved in the last 24
    /// hours, shortest first.
    #[serde(default)]
    pub first_replies: Vec<f64>,
    /// Why the newest of them was not sent (e.g. "not sent: no GHL_TOKEN").
    #[serde(default)]
    pub outbox_not_sent_reason: Option<String>,
    /// OPEN issues.
    pub open: usize,
    /// PENDING issues.
    pub pending: usize,
    /// The next digest: slot name and time.
    pub next_digest: Option<(String, Timestamp)>,
    /// Special days set by managers from today on (issue 18), e.g. `Fri 3/6 closed, set by Dana`.
    #[serde(default)]
    pub special_days: Vec<String>,
    /// Requests whose secret or signature was wrong, since start.
    #[serde(default)]
    pub auth_failures: u64,
    /// Of those, the ones slowed down (429) because a guessing budget was used up.
    #[serde(default)]
    pub auth_slowed: u64,
    /// Console PINs really checked since start (issue 23: a few a minute at most).
    #[serde(default)]
    pub pins_checked: u64,
    /// Console sign-ins by PIN answered unchecked, a budget being used up.
    #[serde(default)]
    pub pins_unchecked: u64,
    /// The optional AI check (SPEC §10): on or off, and what it did since start.
    #[serde(default)]
    pub ai_gate: AiGateStatus,
    /// The off-box copy of the nightly backup (issue 15); `None` when `OFFBOX_URL` is unset.
    #[serde(default)]
    pub offbox: Option<crate::offbox::Record>,
    /// The active slot, a version on trial, and how the last update ended (issue 16).
    #[serde(default)]
    pub update: crate::update::UpdateStatus,
}

fn webhooks_on() -> bool {
    true
}

/// One actor's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActorState {
    /// Name.
    pub name: String,
    /// Whether it answered.
    pub ok: bool,
}

impl From<ActorHealth> for ActorState {
    fn from(health: ActorHealth) -> ActorState {
        ActorState { name: health.name.to_string(), ok: health.ok }
    }
}

/// Takes the snapshot and the live issues (by due time).
pub async fn gather(ctx: &Ctx) -> anyhow::Result<(Snapshot, Vec<Issue>)> {
    let actors = probe_all(Duration::from_secs(3)).await;
    let store = StoreHandle::default();
    let stats = store.stats().await?;
    let live = store.list_issues(vec![Status::Open, Status::Pending]).await?;
    let now = ctx.time.now();
    let ghl = ctx.ghl.status();
    let snapshot = Snapshot {
        version: crate::version::running().to_string(),
        uptime_seconds: ctx.uptime().as_secs() as i64,
        actors: actors.into_iter().map(ActorState::from).collect(),
        ghl: ghl.state.to_string(),
        ghl_error: ghl.last_error,
        last_ghl_success_at: ghl.last_success_at,
        last_webhook_at: stats.last_webhook_at,
        outbox_backlog: stats.outbox_backlog,
        outbox_not_sent: stats.outbox_not_sent.0,
        webhook_backlog: stats.hooks.0,
        webhook_not_sent: stats.hooks.1,
        notify_targets: ctx.config.notify.targets.iter().map(|target| target.shown()).collect(),
        recent_events: stats.recent_events,
        resolver_pass: ctx.signals.resolver_pass(),
        webhooks: ctx.config.catchup.webhooks,
        catchup: ctx.signals.catchup(),
        clock: ctx.signals.clock(),
        network: ctx.signals.network(),
        disk_full: ctx.signals.disk_full(),
        data_bytes: (data_used(&ctx.config, stats.data_bytes), ctx.config.data_budget()),
        partition_bytes: crate::backup::filesystem_space(&ctx.config.data_dir()),
        location: ctx.ghl.location_id(),
        business_hours_open: ctx.calendar().is_open(now),
        quiet_day: ctx.signals.quiet_day(),
        breaches_today: stats.day.breaches_today,
        first_replies: stats.day.first_replies,
        outbox_not_sent_reason: stats.outbox_not_sent.1,
        open: live.iter().filter(|i| i.status == Status::Open).count(),
        pending: live.iter().filter(|i| i.status == Status::Pending).count(),
        next_digest: next_digest(&ctx.config, &ctx.calendar(), now).map(|(at, slot)| (slot, at)),
        special_days: special_days(ctx, now),
        auth_failures: 0,
        auth_slowed: 0,
        pins_checked: 0,
        pins_unchecked: 0,
        ai_gate: ctx.ai.status(),
        offbox: ctx.offbox.status(),
        update: crate::update::status(&ctx.config.data_dir()),
    };
    Ok((snapshot, live))
}

/// What counts toward `DATA_MAX_MB`: the database's live pages (`database`), the nightly
/// backups, and the update slots with the pre-update backup (real bytes on the card).
fn data_used(config: &crate::config::Config, database: u64) -> u64 {
    let dir = config.data_dir();
    database
        + crate::backup::nightly_bytes(&dir.join("backups"))
        + crate::release::slots::Slots::in_data_dir(&dir).bytes()
}

/// The special days from today's local date on, one line each.
fn special_days(ctx: &Ctx, now: Timestamp) -> Vec<String> {
    use crate::domain::hours::{date_words, hours_words};
    let calendar = ctx.calendar();
    let today = now.to_zoned(calendar.zone().clone()).date();
    calendar
        .special_days_from(today)
        .map(|day| format!("{} {}, set by {}", date_words(day.date), hours_words(&day.open), day.by))
        .collect()
}

/// The secret the running service's admin listener takes: `WEBHOOK_SECRET`, else the one the
/// service generated at its first start.
pub fn admin_secret(config: &crate::config::Config) -> anyhow::Result<String> {
    use anyhow::Context as _;
    Ok(match &config.webhook_secret {
        Some(secret) => secret.expose().to_string(),
        None => std::fs::read_to_string(crate::secret::secret_path(&config.data_dir()))
            .context("reading the webhook secret (is WEBHOOK_SECRET set, or has the service run once?)")?
            .trim()
            .to_string(),
    })
}

/// `sentinel health`: the running service's `/health` from its admin listener, as one line
/// (the state, and the reason when there is one). An error unless it answers 200, so a
/// container's health check needs no curl (issue 29).
pub fn health(config: &crate::config::Config) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let url = format!("http://{}/health", config.admin_listen_addr);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent.get(&url).call().with_context(|| format!("asking the service at {url} (is it running?)"))?;
    let status = answer.status().as_u16();
    let body: serde_json::Value = answer.body_mut().read_json().context("reading the service's /health")?;
    let word = |name: &str| body.get(name).and_then(serde_json::Value::as_str).map(str::to_string);
    let mut line = format!("{}: {}", url, word("state").unwrap_or_else(|| format!("HTTP {status}")));
    if let Some(reason) = word("reason").or_else(|| word("degraded_reason")) {
        line.push_str(&format!(" ({reason})"));
    }
    anyhow::ensure!(status == 200, "{line}");
    Ok(line)
}

/// An HTTP agent for the running service's admin listener, answering within `timeout`.
pub fn admin_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(timeout)).build().into()
}

/// `GET path` on the running service's admin listener, with the admin secret; its JSON.
pub fn admin_get<T: serde::de::DeserializeOwned>(
    agent: &ureq::Agent,
    config: &crate::config::Config,
    path: &str,
) -> anyhow::Result<T> {
    use anyhow::Context as _;
    let secret = admin_secret(config)?;
    let url = format!("http://{}{path}", config.admin_listen_addr);
    agent
        .get(&url)
        .header("X-NTPP-Secret", &secret)
        .call()
        .with_context(|| format!("asking the service at {url} (is it running?)"))?
        .body_mut()
        .read_json()
        .context("reading the service's answer")
}

/// `sentinel status`: asks the running service's admin listener and prints one screen.
pub fn print(config: &crate::config::Config) -> anyhow::Result<String> {
    let snapshot: Snapshot = admin_get(&admin_agent(Duration::from_secs(10)), config, "/api/status")?;
    let zone = config.calendar.zone();
    Ok(screen(&snapshot, Timestamp::now(), zone))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A snapshot of an idle box, for the renderers' tests to change what they check.
    pub(crate) fn sample() -> Snapshot {
        Snapshot {
            version: "0".into(),
            uptime_seconds: 1,
            actors: vec![],
            ghl: "ok".into(),
            ghl_error: None,
            last_ghl_success_at: None,
            last_webhook_at: None,
            outbox_backlog: 0,
            outbox_not_sent: 0,
            webhook_backlog: 0,
            webhook_not_sent: 0,
            notify_targets: Vec::new(),
            recent_events: Vec::new(),
            resolver_pass: None,
            webhooks: true,
            catchup: None,
            clock: Default::default(),
            network: None,
            disk_full: false,
            data_bytes: (0, 0),
            partition_bytes: None,
            location: None,
            business_hours_open: false,
            quiet_day: false,
            breaches_today: 0,
            first_replies: Vec::new(),
            outbox_not_sent_reason: None,
            open: 0,
            pending: 0,
            next_digest: None,
            special_days: Vec::new(),
            auth_failures: 0,
            auth_slowed: 0,
            pins_checked: 0,
            pins_unchecked: 0,
            ai_gate: AiGateStatus::default(),
            offbox: None,
            update: Default::default(),
        }
    }
}
