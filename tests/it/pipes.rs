//! Every command that prints ends quietly when its reader goes away (issue 24):
//! `sentinel replay … | head` used to panic with "failed printing to stdout: Broken pipe"
//! and exit 101.

use std::process::Stdio;

use crate::harness::{Sentinel, command};

/// Runs `sentinel ARGS` with stdout a pipe whose reader is already closed, so the first write
/// fails as it does after `head` has read its lines; answers the status and stderr.
fn with_stdout_closed(args: &[&str], db: &std::path::Path) -> anyhow::Result<(Option<i32>, String)> {
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let output = command()
        .args(args)
        .env_clear()
        .env("DB_PATH", db)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()?;
    Ok((output.status.code(), String::from_utf8_lossy(&output.stderr).to_string()))
}

#[test]
fn printing_commands_end_quietly_when_the_reader_has_gone() -> anyhow::Result<()> {
    // A database with events in it, for the replay to report on.
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", "2026-11-23T15:00:00Z")])?;
    app.webhook("inbound_sms", r#"{"contact_id":"c1","message":{"body":"pool is green"}}"#)?;
    let (_, dir) = app.stop()?;
    let db = dir.path().join("sentinel.db");
    let svg = dir.path().join("replay.svg").display().to_string();
    for args in [
        &["replay"][..],
        &["replay", "--svg", &svg],
        &["--help"],
        &["--version"],
        &["check-config"],
        &["manager", "list"],
        &["release", "--help"],
    ] {
        let (status, stderr) = with_stdout_closed(args, &db)?;
        assert_eq!(status, Some(0), "sentinel {args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "sentinel {args:?}: {stderr}");
    }
    Ok(())
}
