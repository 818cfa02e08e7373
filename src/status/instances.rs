//! `sentinel instances`: one line per location on this host (issue 29).
//!
//! Each `*.env` in `/etc/sentinel` (`SENTINEL_ETC` in tests) is a service: `sentinel.env` the
//! main `sentinel.service`, `NAME.env` the instance `sentinel@NAME.service`. The line gives the
//! GHL location, both listeners' addresses as its env file sets them, and what `/health` on the
//! webhook listener's port says, asked on 127.0.0.1 with a short timeout, so a host with a
//! stopped instance still prints at once.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::config::{Config, Source, instance};

/// How long one instance gets to answer `/health`.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(1500);

/// The screen: a heading, then one line per env file in `etc`.
pub fn list(etc: &Path) -> anyhow::Result<String> {
    let found = instance::list_in(etc)?;
    let units: Vec<String> = found.iter().map(|(name, _)| instance::unit(name)).collect();
    let width = units.iter().map(String::len).max().unwrap_or(0).max("SERVICE".len());
    let mut screen = String::new();
    let _ = writeln!(screen, "{} in {}", crate::domain::format::count(found.len(), "service"), etc.display());
    let _ = writeln!(screen, "{:<width$} {:<24} {:<22} {:<22} /health", "SERVICE", "LOCATION", "WEBHOOK", "ADMIN");
    for ((name, file), unit) in found.iter().zip(&units) {
        let _ = writeln!(screen, "{unit:<width$} {}", line(name, file));
    }
    if found.is_empty() {
        let _ = writeln!(screen, "(none: add NAME.env there and `systemctl enable --now sentinel@NAME`)");
    }
    Ok(screen)
}

/// One service's line after its name; a file that does not load says why, on the same line.
fn line(name: &str, file: &Path) -> String {
    let config = Source::from_file(Some(file)).and_then(|mut source| {
        source.instance = (name != instance::MAIN).then(|| name.to_string());
        Config::from_source(&source)
    });
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            let why = format!("{err:#}");
            return format!("configuration error: {}", why.split('\n').map(str::trim).collect::<Vec<_>>().join(" "));
        }
    };
    // A location learned from the webhooks (none configured) is marked with a question mark.
    let location = match &config.ghl.location_id {
        Some(location) => location.clone(),
        None => crate::db::learned_location(&config.db_path).map_or_else(|| "-".to_string(), |id| format!("{id}?")),
    };
    format!(
        "{location:<24} {:<22} {:<22} {}",
        config.listen_addr.to_string(),
        config.admin_listen_addr.to_string(),
        health(config.listen_addr.port())
    )
}

/// What `/health` on `127.0.0.1:port` says: its state and version, or why there is no answer.
fn health(port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/health");
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(HEALTH_TIMEOUT)).http_status_as_error(false).build().into();
    let mut answer = match agent.get(&url).call() {
        Ok(answer) => answer,
        Err(_) => return "no answer".to_string(),
    };
    let status = answer.status().as_u16();
    match answer.body_mut().read_json::<serde_json::Value>() {
        Ok(body) => format!(
            "answers: {} (sentinel {})",
            body["state"].as_str().unwrap_or("?"),
            body["version"].as_str().unwrap_or("?")
        ),
        Err(_) => format!("answers {status}, not Sentinel's /health"),
    }
}
