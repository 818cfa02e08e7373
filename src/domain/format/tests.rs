//! Golden texts: the whole SMS, so a change of shape shows in review.

use super::*;

fn zone() -> TimeZone {
    TimeZone::get("America/Chicago").expect("tzdb")
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("instant")
}

fn item(id: i64, kind: IssueKind, who: &str, first: &str, due: &str, count: i64) -> Item {
    Item { id, kind, who: who.to_string(), first_inbound_at: at(first), due_at: at(due), count }
}

#[test]
fn digest_in_winter_with_every_section() {
    let zone = zone();
    // Monday 2026-11-23 08:00 CST.
    let now = at("2026-11-23T14:00:00Z");
    let digest_text = digest(&Digest {
        slot: "morning",
        now,
        zone: &zone,
        overdue: vec![
            item(4, IssueKind::Call, "Carl", "2026-11-23T13:41:00Z", "2026-11-23T15:41:00Z", 1),
            item(6, IssueKind::Call, "+1***0104", "2026-11-20T22:10:00Z", "2026-11-23T14:10:00Z", 3),
            item(2, IssueKind::Sms, "Beth", "2026-11-23T13:55:00Z", "2026-11-23T15:55:00Z", 2),
        ],
        escalated: vec![item(1, IssueKind::Sms, "Dana", "2026-11-18T15:12:00Z", "2026-11-18T17:12:00Z", 4)],
        resolved: Some(vec![Resolved {
            id: 5,
            kind: IssueKind::Sms,
            who: "Eve".into(),
            resolved_at: at("2026-11-23T13:32:00Z"),
        }]),
        max_items: 8,
    });
    assert_eq!(
        digest_text,
        "NTPP Sentinel — Morning (Nov 23) • as of 8:00am CST
Overdue: Calls 2 | Texts 2

Calls (2):
#4 Carl — 7:41am | due 9:41am
#6 +1***0104 — Fri 4:10pm | due 8:10am ×3
Texts (1):
#2 Beth — 7:55am | due 9:55am in=2
⚠️ Escalated (24+ business hrs):
#1 Dana — Wed 9:12am | due Wed 11:12am in=4
✅ Resolved since last summary (1):
#5 SMS Eve at 7:32am
Reply: Open 4 | Resolve 4 6 2 | Spam 4 | Note 4 <text> | List | More"
    );
}

#[test]
fn digest_in_summer_shows_cdt_and_no_orphan_headings() {
    let zone = zone();
    // Wednesday 2026-07-01 15:00 CDT, nothing overdue, first digest ever.
    let text = digest(&Digest {
        slot: "afternoon",
        now: at("2026-07-01T20:00:00Z"),
        zone: &zone,
        overdue: vec![],
        escalated: vec![],
        resolved: None,
        max_items: 8,
    });
    assert_eq!(
        text,
        "NTPP Sentinel — Afternoon (Jul 1) • as of 3:00pm CDT
Overdue: Calls 0 | Texts 0
Reply: List | More | Help"
    );
    let empty_resolved = digest(&Digest {
        slot: "midday",
        now: at("2026-07-01T16:00:00Z"),
        zone: &zone,
        overdue: vec![],
        escalated: vec![],
        resolved: Some(vec![]),
        max_items: 8,
    });
    assert!(!empty_resolved.contains("Resolved since"), "{empty_resolved}");
}

#[test]
fn more_than_eight_items_end_with_a_count() {
    let zone = zone();
    let overdue: Vec<Item> = (1..=11)
        .map(|id| {
            item(id, IssueKind::Sms, &format!("Customer {id}"), "2026-11-23T14:00:00Z", "2026-11-23T16:00:00Z", 1)
        })
        .collect();
    let text = digest(&Digest {
        slot: "midday",
        now: at("2026-11-23T17:00:00Z"),
        zone: &zone,
        overdue,
        escalated: vec![],
        resolved: None,
        max_items: 8,
    });
    assert!(text.contains("Texts (11):\n#1 Customer 1"), "{text}");
    assert!(text.contains("#8 Customer 8 — 8:00am | due 10:00am\n+3 more\n"), "{text}");
    assert!(!text.contains("#9 "), "{text}");
}

#[test]
fn breach_alert() {
    let zone = zone();
    let text = alert(
        &[
            item(7, IssueKind::Sms, "Gus", "2026-11-23T14:02:00Z", "2026-11-23T16:02:00Z", 1),
            item(8, IssueKind::Call, "+1***0199", "2026-11-23T14:01:00Z", "2026-11-23T16:01:00Z", 2),
        ],
        at("2026-11-23T16:02:00Z"),
        &zone,
        8,
    );
    assert_eq!(
        text,
        "NTPP Sentinel — SLA Breach Alert (Nov 23) • as of 10:02am CST
New breaches: 2
Calls (1):
#8 +1***0199 — 8:01am | due 10:01am ×2
Texts (1):
#7 Gus — 8:02am | due 10:02am
Reply: Open 7 | Resolve 7 8 | Spam 7 | Note 7 <text> | List | More"
    );
}

#[test]
fn a_long_digest_splits_into_numbered_parts() {
    let zone = zone();
    let overdue: Vec<Item> = (1..=60)
        .map(|id| {
            item(
                id,
                IssueKind::Sms,
                &format!("A rather long customer name {id}"),
                "2026-11-23T14:00:00Z",
                "2026-11-23T16:00:00Z",
                1,
            )
        })
        .collect();
    let text = digest(&Digest {
        slot: "midday",
        now: at("2026-11-23T17:00:00Z"),
        zone: &zone,
        overdue,
        escalated: vec![],
        resolved: None,
        max_items: 60,
    });
    let parts = split_sms(&text);
    assert!(parts.len() >= 2, "{} chars", text.len());
    for (index, part) in parts.iter().enumerate() {
        assert!(part.chars().count() <= SMS_LIMIT, "part {index} is {} chars", part.chars().count());
        assert!(part.starts_with(&format!("({}/{}) ", index + 1, parts.len())), "{part}");
    }
    let joined: String = parts
        .iter()
        .map(|p| p.split_once(") ").map(|(_, rest)| rest).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(joined, text, "nothing lost or reordered");
    assert_eq!(split_sms("short"), vec!["short".to_string()]);
}

#[test]
fn repeats_show_as_managers_know_them() {
    assert_eq!(repeats(IssueKind::Call, 3), " ×3");
    assert_eq!(repeats(IssueKind::Sms, 2), " in=2");
    assert_eq!(repeats(IssueKind::Call, 1), "");
    assert_eq!(repeats(IssueKind::Sms, 0), "");
}

/// Issue 24 item 9c: a spam reply said "1 open issue(s)" for a pending one.
#[test]
fn counts_say_singular_and_plural_right() {
    assert_eq!(count(1, "pending issue"), "1 pending issue");
    assert_eq!(count(2, "pending issue"), "2 pending issues");
    assert_eq!(count(0, "pending issue"), "0 pending issues");
    assert_eq!(live_issues(0, 0), "no open or pending issue");
    assert_eq!(live_issues(0, 1), "1 pending issue");
    assert_eq!(live_issues(2, 0), "2 open issues");
    assert_eq!(live_issues(1, 1), "1 open and 1 pending issues");
    assert_eq!(live_issues(1, 2), "1 open and 2 pending issues");
}
