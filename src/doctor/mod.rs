//! `sentinel doctor` (SPEC §13): checks every outside dependency for real, one line per check
//! with ✓, ⚠ or ✗ and, for each ⚠ and ✗, one sentence of what to do.
//!
//! It runs beside the service and changes nothing (unless asked to send test SMS). Each area
//! is a file: `setup` (the configuration itself), `ghl` (the token, its location and scopes,
//! the managers and internal contacts), `host` (the clock, the disk, the watchdog, the LED,
//! backups, the update key), `reach` (the off-box bucket, notification URLs) and `wayin` (a probe
//! through the public URL and the tunnel, the webhook URLs and secret, the last webhook). A check that cannot run
//! because an earlier one failed says so rather than failing twice.

pub mod ghl;
pub mod host;
pub mod reach;
pub mod setup;
mod sms;
pub mod watch;
pub mod wayin;

use serde::Serialize;

use crate::config::{Config, Source};
use crate::time::TimeSource;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// It works.
    Ok,
    /// It works, but something should be looked at.
    Warn,
    /// It does not work: Sentinel will miss or mishandle something.
    Fail,
}

impl Level {
    /// ✓, ⚠ or ✗.
    pub fn mark(self) -> &'static str {
        match self {
            Level::Ok => "✓",
            Level::Warn => "⚠",
            Level::Fail => "✗",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The area: `configuration`, `GHL`, `managers`, `box`, ...
    pub area: &'static str,
    /// What was checked, in a few words (`GHL token`, `manager mgr1`).
    pub name: String,
    /// How it came out.
    pub level: Level,
    /// What was found, in one line (secrets never in full).
    pub detail: String,
    /// For a ⚠ or ✗: one sentence of what to do.
    pub advice: Option<String>,
}

impl Check {
    /// A check that passed.
    pub fn ok(area: &'static str, name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { area, name: name.into(), level: Level::Ok, detail: detail.into(), advice: None }
    }

    /// A check that passed with a warning, and what to do.
    pub fn warn(
        area: &'static str,
        name: impl Into<String>,
        detail: impl Into<String>,
        advice: impl Into<String>,
    ) -> Check {
        Check { area, name: name.into(), level: Level::Warn, detail: detail.into(), advice: Some(advice.into()) }
    }

    /// A check that failed, and what to do.
    pub fn fail(
        area: &'static str,
        name: impl Into<String>,
        detail: impl Into<String>,
        advice: impl Into<String>,
    ) -> Check {
        Check { area, name: name.into(), level: Level::Fail, detail: detail.into(), advice: Some(advice.into()) }
    }
}

/// What the command line asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `--send-test-sms`: one text to each manager.
    pub send_test_sms: bool,
    /// `--wait-for-ok SECONDS`: how long, after the test texts went out, to wait for each
    /// manager's "OK" (zero: do not wait; replies already in are still shown).
    pub wait_for_ok: std::time::Duration,
    /// Send nothing at all (the console's Set-up page): no test SMS, no probe written to the
    /// off-box bucket, no ping to a notification URL. GHL is still read.
    pub quiet: bool,
}

/// Every check's result, in order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether any check failed: the command then exits non-zero.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|check| check.level == Level::Fail)
    }

    /// One screen: a line per check, and under each ⚠ and ✗ what to do.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let width = self.checks.iter().map(|check| check.name.chars().count()).max().unwrap_or(0);
        for check in &self.checks {
            let pad = width.saturating_sub(check.name.chars().count());
            out.push_str(&format!("{} {}{}  {}\n", check.level.mark(), check.name, " ".repeat(pad), check.detail));
            if let Some(advice) = &check.advice {
                out.push_str(&format!("  {}→ {advice}\n", " ".repeat(width)));
            }
        }
        let count = |level: Level| self.checks.iter().filter(|check| check.level == level).count();
        out.push_str(&format!(
            "\n{} passed, {} to look at, {} failed\n",
            count(Level::Ok),
            count(Level::Warn),
            count(Level::Fail)
        ));
        out
    }
}

/// Runs every check against the configuration `source` gives. A configuration that does not
/// load is the one failure reported: nothing else can be checked without it.
pub fn run(source: &Source, options: Options) -> Report {
    let mut report = Report::default();
    let config = match Config::from_source(source) {
        Ok(config) => config,
        Err(err) => {
            report.checks.push(setup::refused(&err));
            return report;
        }
    };
    let _ = source;
    run_with(&config, options)
}

/// Runs every check against a configuration already loaded (the service's own, for the
/// console's Set-up page). With `options.quiet` nothing is sent: no test SMS, no bucket probe,
/// no notification ping.
pub fn run_with(config: &Config, options: Options) -> Report {
    let options = Options { send_test_sms: options.send_test_sms && !options.quiet, ..options };
    let mut report = Report::default();
    report.checks.extend(setup::checks(config));
    report.checks.extend(ghl::checks(config, options));
    if options.quiet {
        report.checks.extend(host::local(config, &host::time_source()));
    } else {
        report.checks.extend(host::checks(config));
        report.checks.extend(wayin::checks(config, host::time_source().now()));
    }
    report
}

/// The checks that cost nothing, which the service runs at start and nightly (`watch`): the
/// configuration's, and the box's that ask nothing outside (the clock, the disk, the card,
/// the watchdog, the LED, backups, the update key). No GHL, no bucket, no ping.
pub fn free(config: &Config, time: &TimeSource) -> Report {
    let mut report = Report::default();
    report.checks.extend(setup::checks(config));
    report.checks.extend(host::local(config, time));
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_fails_the_report_and_every_warning_says_what_to_do() {
        let report = Report {
            checks: vec![
                Check::ok("GHL", "GHL token", "valid for location loc1"),
                Check::warn("box", "disk", "81% used", "Free space on the data partition."),
                Check::fail("managers", "manager m1", "not a contact of loc1", "Fix MANAGER_CONTACT_IDS."),
            ],
        };
        assert!(report.failed());
        let text = report.text();
        assert!(text.starts_with("✓ GHL token   valid for location loc1\n⚠ disk"), "{text}");
        assert!(text.contains("→ Fix MANAGER_CONTACT_IDS."), "{text}");
        assert!(text.ends_with("1 passed, 1 to look at, 1 failed\n"), "{text}");
        assert!(!Report { checks: vec![report.checks[1].clone()] }.failed(), "a warning alone passes");
    }
}
