//! One-issue lookups in GHL: a missing contact name, and whether a text that only thanks
//! followed a staff reply (SPEC §3.4, §5.3).

use crate::actors::Ctx;
use crate::actors::store::StoreHandle;
use crate::domain::event::Party;
use crate::domain::outcome::{Finding, FoundReply};
use crate::ghl::client::GhlError;

/// How far back an acknowledged staff reply may be (SPEC §5.3 speaks of "recent").
const ACK_LOOKBACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(72);

pub(super) async fn ack_check(ctx: Ctx, issue_id: i64) {
    let Ok(Some((issue, _))) = StoreHandle::default().issue(issue_id).await else {
        return;
    };
    let task_ctx = ctx.clone();
    let found = tokio::task::spawn_blocking(move || {
        let client = &task_ctx.ghl;
        let conversation = match (&issue.conversation_id, &issue.contact_id) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(contact)) => client.find_conversation(contact)?,
            (None, None) => None,
        };
        let Some(conversation) = conversation else { return Ok(None) };
        let party = Party {
            conversation_id: Some(conversation.clone()),
            contact_id: issue.contact_id.clone(),
            phone: issue.phone.clone(),
        };
        let messages = client.messages_since(&conversation, issue.first_inbound_at - ACK_LOOKBACK)?;
        // The newest human reply before the thanks (GHL's clock may lead ours by a little).
        let before = issue.first_inbound_at + jiff::SignedDuration::from_secs(60);
        Ok::<_, GhlError>(
            messages
                .iter()
                .filter(|m| m.date_added <= before)
                // Only a reply the thanks can still answer (ACK_CLOSE_WINDOW_MODE).
                .filter(|m| {
                    task_ctx.config.ack_close_window.covers(
                        &task_ctx.calendar(),
                        m.date_added,
                        issue.first_inbound_at.max(m.date_added),
                    )
                })
                .filter(|m| {
                    m.as_outbound(&party)
                        .and_then(|o| {
                            let config = &task_ctx.config;
                            o.staff_reply(&config.internal_user_ids, config.call_voicemail, m.date_added)
                        })
                        .is_some_and(|r| r.by_human)
                })
                .max_by_key(|m| m.date_added)
                .map(|m| FoundReply { message_id: m.id.clone(), at: m.date_added, acknowledged: true }),
        )
    })
    .await;
    let reply = match found {
        Ok(Ok(Some(reply))) => reply,
        Ok(Ok(None)) => return,
        Ok(Err(err)) => {
            tracing::info!(issue = issue_id, "acknowledgement check failed, the issue stays: {err}");
            return;
        }
        Err(err) => {
            tracing::warn!(issue = issue_id, "acknowledgement check failed: {err}");
            return;
        }
    };
    let findings = vec![Finding { issue_id, reply: Some(reply), conversation_id: None, error: None, ai: None }];
    if let Err(err) = StoreHandle::default().apply_findings(findings).await {
        tracing::warn!(issue = issue_id, "keeping the acknowledgement check's finding failed: {err}");
    }
}

pub(super) async fn lookup_name(ctx: Ctx, issue_id: i64, contact_id: String) {
    let client = ctx.ghl.clone();
    let found = tokio::task::spawn_blocking(move || client.contact_name(&contact_id)).await;
    match found {
        Ok(Ok(Some(name))) => {
            StoreHandle::default().set_contact_name(issue_id, name);
        }
        Ok(Ok(None)) => {}
        Ok(Err(err)) => tracing::info!(issue = issue_id, "contact name lookup failed: {err}"),
        Err(err) => tracing::warn!(issue = issue_id, "contact name lookup failed: {err}"),
    }
}
