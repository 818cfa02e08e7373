//! `sentinel replay`: a generated month of texts, missed calls and staff replies runs live on
//! the manual clock, then the replay of that database with the same settings must find
//! exactly the issues and breaches recorded live, and other settings must change them.
//!
//! The live service runs without a GHL token: live, the resolver asks GHL at each due time,
//! which a replay cannot; without GHL both see the same facts, the stored webhooks.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::harness::{Sentinel, command};

/// Where the generated month starts: Monday 2 March 2026, 08:00 in Chicago.
const START: &str = "2026-03-02T14:00:00Z";

/// Events in the generated month.
const EVENTS: u64 = 300;

/// A small deterministic generator (xorshift), so a failure replays the same month.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn stored(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Moves the manual clock and waits until the SLA clock has settled everything due by then.
fn move_clock(app: &Sentinel, now: Timestamp) -> anyhow::Result<()> {
    app.set_clock(&now.to_string())?;
    let sql = format!("SELECT COUNT(*) FROM issues WHERE status = 'PENDING' AND due_at <= '{}'", stored(now));
    app.eventually("settling what fell due", || Ok(app.count(&sql)? == 0))
}

/// Runs `sentinel replay ARGS` on the database at `db`; answers its output.
fn replay(db: &std::path::Path, args: &[&str]) -> anyhow::Result<String> {
    let output = command().arg("replay").args(args).env_clear().env("DB_PATH", db).output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    anyhow::ensure!(output.status.success(), "replay failed: {text}");
    Ok(text)
}

/// The number after `label` on its line of the replay's output.
fn figure(text: &str, label: &str) -> anyhow::Result<i64> {
    let line = text.lines().find(|line| line.starts_with(label)).ok_or_else(|| anyhow::format_err!("no {label}"))?;
    Ok(line[label.len()..].trim().parse()?)
}

#[test]
fn replaying_a_month_with_the_same_settings_finds_the_issues_and_breaches_recorded_live() -> anyhow::Result<()> {
    // The nightly prune must keep the month: a replay sees only the raw events kept.
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", START), ("RAW_EVENTS_RETENTION_DAYS", "365")])?;
    let mut dice = Dice(0x5eed_1234_abcd_0001);
    let mut now: Timestamp = START.parse()?;
    for n in 0..EVENTS {
        // Up to five hours on, at an odd second, so no event lands on a due time exactly.
        now += SignedDuration::from_secs(60 * (1 + dice.below(300) as i64) + 7);
        move_clock(&app, now)?;
        let contact = format!("c{}", dice.below(25));
        let answer = match dice.below(10) {
            0..=4 => {
                let body = json!({ "type": "InboundMessage", "locationId": "loc1", "contactId": contact,
                    "messageType": "SMS", "direction": "inbound", "messageId": format!("in-{n}"),
                    "body": format!("question number {n}, please call back") });
                app.webhook("", &body.to_string())?
            }
            5..=6 => {
                let body =
                    json!({ "contact_id": contact, "missed_call": true, "voicemail_route": "tech_sentinel", "n": n });
                app.webhook("unanswered_call", &body.to_string())?
            }
            _ => {
                let body = json!({ "type": "OutboundMessage", "locationId": "loc1", "contactId": contact,
                    "messageType": "SMS", "userId": "u1", "source": "app", "messageId": format!("out-{n}"),
                    "dateAdded": now.to_string() });
                app.webhook("", &body.to_string())?
            }
        };
        anyhow::ensure!(answer.status == 200, "event {n}: {answer:?}");
    }
    // A week on, everything has fallen due and been settled.
    move_clock(&app, now + SignedDuration::from_hours(24 * 7))?;
    let issues = app.count("SELECT COUNT(*) FROM issues")?;
    let breaches = app.count("SELECT COUNT(*) FROM issues WHERE opened_at IS NOT NULL")?;
    let (_, dir) = app.stop()?;
    let db = dir.path().join("sentinel.db");
    assert!(breaches > 10 && issues > breaches, "a month with too little in it: {issues} issues, {breaches} breaches");

    let text = replay(&db, &["--until", "2026-05-01"])?;
    assert_eq!(figure(&text, "issues:")?, issues, "{text}");
    assert_eq!(figure(&text, "breaches:")?, breaches, "{text}");
    assert!(text.contains(&format!("replayed {EVENTS} events")), "{text}");

    // What if texts and calls had two business days, and the office opened at seven? Fewer
    // breaches; the live database is untouched.
    let svg = dir.path().join("replay.svg");
    let svg_arg = svg.display().to_string();
    let args =
        ["--sms-sla-hours", "18", "--call-sla-hours", "18", "--schedule", "mon-fri 07:00-17:00", "--svg", &svg_arg];
    let looser = replay(&db, &args)?;
    assert!(figure(&looser, "breaches:")? < breaches, "{looser}");
    let drawn = std::fs::read_to_string(&svg)?;
    assert!(drawn.starts_with("<svg") && drawn.contains("<rect"), "{drawn}");
    let live = rusqlite::Connection::open(&db)?;
    assert_eq!(live.query_row("SELECT COUNT(*) FROM issues", [], |r| r.get::<_, i64>(0))?, issues);
    Ok(())
}

#[test]
fn replay_refuses_a_date_it_cannot_read() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let output = command()
        .args(["replay", "--since", "last tuesday"])
        .env_clear()
        .env("DB_PATH", dir.path().join("sentinel.db"))
        .output()?;
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && text.contains("--since \"last tuesday\": expected a date"), "{text}");
    Ok(())
}

/// `--svg` names the picture's file: a mistyped path (the database itself, say) is refused, and
/// the file is left as it was; an earlier picture is replaced.
#[test]
fn replay_never_overwrites_a_file_that_is_not_a_picture() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let body = json!({ "contact_id": "c1", "message": { "type": "SMS", "body": "hello" } });
    app.webhook("inbound_sms", &body.to_string())?;
    let (_, dir) = app.stop()?;
    let db = dir.path().join("sentinel.db");
    let before = std::fs::read(&db)?;
    let output =
        command().args(["replay", "--svg", &db.display().to_string()]).env_clear().env("DB_PATH", &db).output()?;
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && said.contains("is not a picture"), "{said}");
    assert_eq!(std::fs::read(&db)?, before, "the database was overwritten");
    let picture = dir.path().join("replay.svg");
    replay(&db, &["--svg", &picture.display().to_string()])?;
    replay(&db, &["--svg", &picture.display().to_string()])?;
    assert!(std::fs::read_to_string(&picture)?.contains("<svg"));
    Ok(())
}

/// Issue 24: the picture's first bar label `<15m` was written raw, so no SVG reader opened
/// it. It must parse as XML, and state what it shows: the days, the response targets, the
/// totals and the fixed colour scale, so two replays compare by eye. A manager added with
/// `sentinel manager add` sends commands in the replay too, as live.
#[test]
fn the_picture_is_xml_and_says_what_it_shows() -> anyhow::Result<()> {
    // Monday 23 November 2026, 09:00 in Chicago.
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", "2026-11-23T15:00:00Z")])?;
    let added = command()
        .args(["manager", "add", "Pat", "--contact-id", "pat", "--pin", "24681357"])
        .env_clear()
        .env("DB_PATH", app.db_path())
        .output()?;
    anyhow::ensure!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    for contact in ["c1", "c2", "c3"] {
        let body = json!({ "type": "InboundMessage", "locationId": "loc1", "contactId": contact,
            "messageType": "SMS", "direction": "inbound", "messageId": format!("in-{contact}"), "body": "pool is green" });
        app.webhook("", &body.to_string())?;
    }
    app.webhook("inbound_sms", r#"{"contact_id":"pat","message":{"body":"Pin"}}"#)?;
    // c1 gets an answer within ten minutes; the others breach.
    app.set_clock("2026-11-23T15:10:00Z")?;
    let reply = json!({ "type": "OutboundMessage", "locationId": "loc1", "contactId": "c1", "messageType": "SMS",
        "userId": "u1", "source": "app", "messageId": "out-c1", "dateAdded": "2026-11-23T15:10:00Z" });
    app.webhook("", &reply.to_string())?;
    move_clock(&app, "2026-11-23T23:00:00Z".parse()?)?;
    let (_, dir) = app.stop()?;
    let db = dir.path().join("sentinel.db");
    let svg = dir.path().join("replay.svg");
    let text = replay(&db, &["--until", "2026-11-24", "--sms-sla-hours", "1.5", "--svg", &svg.display().to_string()])?;
    assert_eq!(figure(&text, "issues:")?, 3, "Pat's Pin is a command, not an issue: {text}");
    assert_eq!(figure(&text, "breaches:")?, 2, "{text}");
    let drawn = std::fs::read_to_string(&svg)?;
    let doc = roxmltree::Document::parse(&drawn).map_err(|err| anyhow::format_err!("not XML: {err}\n{drawn}"))?;
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> =
        doc.descendants().filter(|node| node.has_tag_name("text")).filter_map(|node| node.text()).collect();
    for expected in [
        "<15m",
        "Sentinel what-if replay: 2026-11-23 to 2026-11-24",
        "Response targets (business hours): texts 1.5 h, missed calls 2 h",
        "3 issues, 2 breaches, 0 escalations; first reply median 0h 10m, p90 0h 10m; 5 events replayed",
        "Breaches in an hour (same scale in every replay):",
        "16-31",
        "32+",
        "1 (100%)",
    ] {
        assert!(texts.contains(&expected), "no text {expected:?} in {texts:#?}");
    }
    Ok(())
}
