//! Automatic updates (`UPDATE_URL`, off by default): a static manifest checked once a night.
//!
//! `UPDATE_URL` names a JSON file that `cross/release.sh --base-url` writes beside the
//! bundles, e.g. as a GitHub release's asset:
//!
//! ```json
//! { "version": "0.2.0", "bundles": { "aarch64": "https://host/sentinel-0.2.0-aarch64-unknown-linux-musl.bundle" } }
//! ```
//!
//! A bundle's address may also be relative to the manifest's. Outside business hours, with a
//! clock that can be believed and no update on trial, the service reads it once per closed
//! stretch (a night, or a whole weekend: the stretch is named by its next opening, so it is
//! "one night" however often the service restarts in it). A newer version for this
//! architecture is installed exactly as `sentinel update` installs it, except one that was
//! already rolled back; then the service exits for its restart and the trial begins. The
//! night is recorded before the attempt, so nothing is tried twice in one night.

use std::io::Read as _;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::install::{self, Request};
use super::slots::{self, Slots, State};
use crate::actors::Ctx;

/// How often the service looks whether a check is due (a look costs nothing).
const LOOK_EVERY: Duration = Duration::from_secs(60);
/// The same on the manual test clock, which tests move by hand.
const LOOK_EVERY_MANUAL: Duration = Duration::from_secs(1);

/// The published manifest.
#[derive(Debug, Deserialize)]
struct Published {
    version: String,
    bundles: std::collections::BTreeMap<String, String>,
}

/// Runs while the service does, when `UPDATE_URL` is set.
pub async fn watch(ctx: Ctx, url: String) {
    let every = if ctx.time.is_manual() { LOOK_EVERY_MANUAL } else { LOOK_EVERY };
    let mut interval = tokio::time::interval(every);
    let slots = Slots::in_data_dir(&ctx.config.data_dir());
    let record_path = slots.dir.join("auto-update");
    // Said at start as well as each night: with no key trusted, every check ends refused.
    let keys_dir = super::keys::keys_dir();
    if super::keys::trusted(&keys_dir).is_ok_and(|keys| keys.is_empty()) {
        tracing::warn!("automatic update: {}", super::keys::no_key_sentence(&keys_dir));
    }
    loop {
        interval.tick().await;
        let now = ctx.time.now();
        let calendar = ctx.calendar();
        if !ctx.signals.clock_trusted() || calendar.is_open(now) || slots.trial().is_some() {
            continue;
        }
        let night = calendar.next_open(now).map_or_else(|| "never open".to_string(), |open| open.to_string());
        if slots::read_state(&record_path).is_some_and(|record| record.get("night") == Some(&night)) {
            continue;
        }
        let mut record: State = [("night", night), ("checked_at", now.to_string())]
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect();
        if let Err(err) = std::fs::create_dir_all(&slots.dir)
            .map_err(anyhow::Error::from)
            .and_then(|()| slots::write_state(&record_path, &record))
        {
            tracing::warn!("automatic update: recording the check failed, so none is made: {err:#}");
            continue;
        }
        let (config, url) = (ctx.config.clone(), url.clone());
        let (slots_for_check, keys_dir) = (slots.clone(), keys_dir.clone());
        let outcome = tokio::task::spawn_blocking(move || check(&config, &slots_for_check, &url, &keys_dir, now)).await;
        let (result, restart) = match outcome {
            Ok(Ok(Some(installed))) => (format!("installed {} into slot {}", installed.version, installed.slot), true),
            Ok(Ok(None)) => ("up to date".to_string(), false),
            Ok(Err(err)) => (format!("failed: {err:#}"), false),
            Err(err) => (format!("failed: {err}"), false),
        };
        tracing::info!("automatic update: {result}");
        record.insert("result".into(), result);
        if let Err(err) = slots::write_state(&record_path, &record) {
            tracing::warn!("automatic update: recording the result failed: {err:#}");
        }
        if restart {
            super::request_restart("an automatic update was installed");
            return;
        }
    }
}

/// Reads the manifest and installs a newer version for this architecture, if there is one.
fn check(
    config: &crate::config::Config,
    slots: &Slots,
    url: &str,
    keys_dir: &std::path::Path,
    now: jiff::Timestamp,
) -> anyhow::Result<Option<install::Installed>> {
    super::keys::trusted_or_explain(keys_dir)?;
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(60))).build().into();
    let mut answer = agent.get(url).call().with_context(|| format!("reading {url}"))?;
    let mut text = String::new();
    answer.body_mut().with_config().limit(64 * 1024).reader().read_to_string(&mut text)?;
    let published: Published = serde_json::from_str(&text).with_context(|| format!("reading {url}"))?;
    let current = install::current_version(slots);
    match super::version_cmp(&published.version, &current) {
        Some(std::cmp::Ordering::Greater) => {}
        Some(_) => return Ok(None),
        None => bail!("{url} names version {:?}, not MAJOR.MINOR.PATCH", published.version),
    }
    let rolled_back = slots.last_update().is_some_and(|last| {
        last.get("result").is_some_and(|r| r == "rolled-back") && last.get("version") == Some(&published.version)
    });
    if rolled_back {
        tracing::warn!("automatic update: {} was rolled back here before; waiting for a newer one", published.version);
        return Ok(None);
    }
    let arch = crate::version::arch();
    let bundle = published.bundles.get(arch).with_context(|| format!("{url} has no bundle for {arch}"))?;
    let source = if bundle.starts_with("http://") || bundle.starts_with("https://") {
        bundle.clone()
    } else {
        format!("{}/{bundle}", url.rsplit_once('/').map_or(url, |(base, _)| base))
    };
    // The feed's version is only a hint: the signed manifest's is checked again after the
    // signature, so a feed naming another version cannot bring a rolled-back build back.
    let request =
        Request { source, allow_downgrade: false, keys_dir: keys_dir.to_path_buf(), refuse_rolled_back: true };
    install::update(config, &request, now).map(Some)
}
