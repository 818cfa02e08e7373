//! The Set-up page (issue 27): `sentinel doctor`'s checks against the service's own
//! configuration, one row per check with ✓, ⚠ or ✗, what was found and what to do. Nothing is
//! sent (no test SMS, no bucket probe, no notification ping); GHL is read, as the doctor reads
//! it. Secrets are shown as the doctor shows them: masked.

use maud::html;

use super::layout::{self, Nav};
use super::{Console, Response};
use crate::db::console::Session;
use crate::doctor::{Level, Options};

/// `GET /console/setup`.
pub(super) fn page(console: &Console<'_>, session: &Session) -> Response {
    let ctx = console.ctx.clone();
    let options = Options { quiet: true, ..Options::default() };
    let report = match console
        .runtime
        .block_on(console.runtime.spawn_blocking(move || crate::doctor::run_with(&ctx.config, options)))
    {
        Ok(report) => report,
        Err(err) => return Response::refused(500, &format!("The checks did not run ({err}). Try again in a moment.")),
    };
    let count = |level: Level| report.checks.iter().filter(|check| check.level == level).count();
    let failed = report.failed();
    let body = html! {
        h1 { "Set-up" }
        p.badge.(if failed { "bad" } else { "ok" }) {
            (count(Level::Ok)) " passed, " (count(Level::Warn)) " to look at, " (count(Level::Fail)) " failed"
        }
        p.muted {
            "The checks of sentinel doctor, run now against this box's configuration. Nothing is sent from "
            "here: the off-box bucket, the notification URLs and a test SMS are checked by running "
            code { "sentinel doctor" } " on the box."
        }
        table.checks {
            tbody {
                @for check in &report.checks {
                    tr.(level_class(check.level)) {
                        th scope="row" {
                            span.chip.(level_class(check.level)) aria-label=(level_word(check.level)) { (check.level.mark()) }
                            " " (check.name)
                        }
                        td {
                            (check.detail)
                            @if let Some(advice) = &check.advice {
                                br;
                                span.advice { "→ " (advice) }
                            }
                        }
                    }
                }
            }
        }
    };
    Response::page(200, layout::page("Set-up", session, console.now, Nav::Setup, body))
}

fn level_class(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Warn => "warn",
        Level::Fail => "bad",
    }
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Ok => "passed",
        Level::Warn => "to look at",
        Level::Fail => "failed",
    }
}
