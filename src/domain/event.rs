//! What a webhook means, in our own words: the types `ghl::payload` produces and the store acts on.
//!
//! Nothing here knows GHL's JSON. A webhook becomes one [`Event`]: an inbound text or missed
//! call from a [`Party`], a possible [`StaffReply`], or something stored and ignored with a reason.

use std::fmt;

use jiff::Timestamp;

use super::phone::Phone;

/// The two kinds of issue (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueKind {
    /// A customer texted.
    Sms,
    /// A customer called and nobody answered.
    Call,
}

impl IssueKind {
    /// The name stored in the database and shown to people: `SMS` or `CALL`.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::Sms => "SMS",
            IssueKind::Call => "CALL",
        }
    }

    /// Reads the stored name back.
    pub fn parse(text: &str) -> Option<IssueKind> {
        match text {
            "SMS" => Some(IssueKind::Sms),
            "CALL" => Some(IssueKind::Call),
            _ => None,
        }
    }

    /// The verb used in explanations: "texted" or "called".
    pub fn verb(self) -> &'static str {
        match self {
            IssueKind::Sms => "texted",
            IssueKind::Call => "called",
        }
    }
}

impl fmt::Display for IssueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An issue's status (SPEC §1): PENDING → OPEN → RESOLVED | SPAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Inside its response window, not yet shown to managers.
    Pending,
    /// Overdue: managers see it.
    Open,
    /// A staff reply, a manager or the AI check closed it.
    Resolved,
    /// Marked as spam.
    Spam,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Open => "OPEN",
            Status::Resolved => "RESOLVED",
            Status::Spam => "SPAM",
        }
    }

    /// Reads a stored or user-given name (case-insensitive).
    pub fn parse(text: &str) -> Option<Status> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PENDING" => Some(Status::Pending),
            "OPEN" => Some(Status::Open),
            "RESOLVED" => Some(Status::Resolved),
            "SPAM" => Some(Status::Spam),
            _ => None,
        }
    }
}

/// The customer on the other side (SPEC §1). Matching prefers the conversation id, then the
/// contact id, then the phone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    /// GHL conversation id.
    pub conversation_id: Option<String>,
    /// GHL contact id.
    pub contact_id: Option<String>,
    /// Normalised phone.
    pub phone: Option<Phone>,
}

impl Party {
    /// Whether anything identifies the party at all.
    pub fn is_known(&self) -> bool {
        self.conversation_id.is_some() || self.contact_id.is_some() || self.phone.is_some()
    }

    /// The key the database uses to keep one live issue per party and kind: the first of
    /// conversation, contact and phone that is known.
    pub fn key(&self) -> Option<String> {
        if let Some(id) = &self.conversation_id {
            return Some(format!("conversation:{id}"));
        }
        if let Some(id) = &self.contact_id {
            return Some(format!("contact:{id}"));
        }
        self.phone.as_ref().map(|phone| format!("phone:{}", phone.as_str()))
    }
}

/// A customer's inbound text or missed call.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// Text or missed call.
    pub kind: IssueKind,
    /// Who.
    pub party: Party,
    /// The contact's name, when the payload had one.
    pub contact_name: Option<String>,
    /// The text, for SMS.
    pub text: Option<String>,
    /// GHL's own time of the message (orders messages fetched from GHL against it).
    pub sent_at: Option<Timestamp>,
    /// Whether the sender is staff (`contact_type: internal`): a command, never an issue.
    pub from_internal_contact: bool,
    /// Whether the payload named the SMS channel: only then does the party's phone say who sent
    /// it, and a manager known by phone is recognised by it (issue 24).
    pub by_sms: bool,
    /// Set when no webhook brought it and catch-up found it in GHL (SPEC §12).
    pub caught_up: Option<CaughtUp>,
}

/// How catch-up found a message that no webhook delivered (SPEC §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaughtUp {
    /// When the catch-up pass found it: a manager's command found late is answered then.
    pub found_at: Timestamp,
    /// A staff reply that already answered it when it was found: it opens nothing.
    pub answered_at: Option<Timestamp>,
}

/// An outbound message that may be a staff reply (SPEC §5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    /// To whom.
    pub party: Party,
    /// `SMS`, `CALL`, `InternalComment`, `Email`, ...
    pub message_type: String,
    /// The GHL user who sent it, if a human did.
    pub user_id: Option<String>,
    /// `app`, `workflow`, `campaign`, `bulk_actions`, `api`, ...
    pub source: Option<String>,
    /// GHL's message id.
    pub message_id: Option<String>,
    /// GHL's time of the message.
    pub sent_at: Option<Timestamp>,
    /// For a call, how it ended (`completed`, `voicemail`, `no-answer`, ...), when GHL says.
    pub call_status: Option<String>,
    /// Catch-up found it in GHL: no webhook brought it (SPEC §12).
    pub caught_up: bool,
}

/// A staff reply: a human outbound message to the party.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffReply {
    /// To whom.
    pub party: Party,
    /// A human sent it: it answers both kinds of issue. A callback logged without a user
    /// answers only CALL issues (SPEC §5.2).
    pub by_human: bool,
    /// GHL's message id, kept in the timeline.
    pub message_id: Option<String>,
    /// When it was sent.
    pub sent_at: Timestamp,
}

/// Automation sources whose messages are never staff replies (SPEC §5.2).
const AUTOMATED_SOURCES: &[&str] = &["workflow", "campaign", "bulk_actions", "api"];

/// Message types that are phone calls: GHL's webhook names and its REST `messageType` values
/// (`TYPE_CALL` and the IVR, custom-provider and campaign manual calls, CONTRACT §1.4).
/// `TYPE_CAMPAIGN_CALL` is left out: a campaign's automated dialling is nobody returning a call.
const CALL_TYPES: &[&str] = &[
    "CALL",
    "TYPE_CALL",
    "IVR_CALL",
    "TYPE_IVR_CALL",
    "CUSTOM_CALL",
    "TYPE_CUSTOM_CALL",
    "CAMPAIGN_MANUAL_CALL",
    "TYPE_CAMPAIGN_MANUAL_CALL",
];

/// Whether a `messageType` (either spelling, any case) is a phone call.
pub fn is_call_type(message_type: &str) -> bool {
    CALL_TYPES.iter().any(|call| call.eq_ignore_ascii_case(message_type.trim()))
}

/// Whether a callback that reached only the customer's voicemail answers a missed call
/// (`CALL_VOICEMAIL_COUNTS_AS_CALLBACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoicemailCallback {
    /// A message was left: the customer has the business's answer (the default).
    Counts,
    /// Only a call the customer picked up answers; the issue stays until then.
    DoesNotCount,
}

/// What came of an outbound call, by its `callStatus` (GHL's enum: `pending`, `completed`,
/// `answered`, `busy`, `no-answer`, `failed`, `canceled`, `voicemail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallOutcome {
    /// Someone picked up, or GHL did not say (a phone system's log): a call placed counts.
    Connected,
    /// It reached the customer's voicemail.
    Voicemail,
    /// Busy, unanswered, failed, cancelled or still ringing: nobody was reached.
    NotReached,
}

impl CallOutcome {
    fn of(status: Option<&str>) -> CallOutcome {
        let status = status.unwrap_or_default().trim().to_ascii_lowercase().replace([' ', '_'], "-");
        match status.as_str() {
            "voicemail" | "voice-mail" => CallOutcome::Voicemail,
            "busy" | "no-answer" | "noanswer" | "failed" | "canceled" | "cancelled" | "pending" | "missed" => {
                CallOutcome::NotReached
            }
            _ => CallOutcome::Connected,
        }
    }
}

impl StaffReply {
    /// Whether this reply answers an issue of `kind`.
    pub fn answers(&self, kind: IssueKind) -> bool {
        self.by_human || kind == IssueKind::Call
    }
}

impl Outbound {
    /// Applies SPEC §5.2: a human sent it (a `userId`, not an automation, not an internal
    /// comment; in `INTERNAL_USER_IDS` when that list is set), or it is a call placed to the
    /// party, which counts even without a `userId`. A call that reached nobody (busy, no
    /// answer, failed, cancelled, still ringing) answers nothing; one that reached only the
    /// voicemail answers as `voicemail` says. `received_at` stands in for a missing time.
    pub fn staff_reply(
        &self,
        internal_user_ids: &[String],
        voicemail: VoicemailCallback,
        received_at: Timestamp,
    ) -> Option<StaffReply> {
        let message_type = self.message_type.to_ascii_uppercase();
        if message_type == "INTERNALCOMMENT" {
            return None;
        }
        let is_call = is_call_type(&message_type);
        if is_call {
            match CallOutcome::of(self.call_status.as_deref()) {
                CallOutcome::Connected => {}
                CallOutcome::Voicemail if voicemail == VoicemailCallback::Counts => {}
                CallOutcome::Voicemail | CallOutcome::NotReached => return None,
            }
        }
        let automated = self
            .source
            .as_deref()
            .is_some_and(|source| AUTOMATED_SOURCES.contains(&source.to_ascii_lowercase().as_str()));
        let human = match &self.user_id {
            Some(user) => internal_user_ids.is_empty() || internal_user_ids.iter().any(|id| id == user),
            None => false,
        };
        if !(is_call || (human && !automated)) {
            return None;
        }
        Some(StaffReply {
            party: self.party.clone(),
            by_human: human && !automated,
            message_id: self.message_id.clone(),
            sent_at: self.sent_at.unwrap_or(received_at),
        })
    }
}

/// What one webhook means.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A customer text or missed call: may open or update an issue.
    Inbound(Inbound),
    /// An outbound message: may resolve issues.
    Outbound(Outbound),
    /// Stored and ignored, with the reason returned to the caller.
    Ignored(String),
}

/// A parsed webhook: the event and the envelope facts used for idempotency and filtering.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// What the webhook means.
    pub event: Event,
    /// Marketplace envelope id, the same across GHL's retries.
    pub webhook_id: Option<String>,
    /// GHL message id.
    pub message_id: Option<String>,
    /// The location the event belongs to.
    pub location_id: Option<String>,
}

impl Parsed {
    /// The ids that make a redelivery a duplicate. Either one does: the same message can come
    /// again under a new webhookId (a second app, a redelivery), SPEC §3.2.
    pub fn idem_keys(&self) -> Vec<String> {
        [
            self.webhook_id.as_ref().map(|id| format!("webhook:{id}")),
            self.message_id.as_ref().map(|id| format!("message:{id}")),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(message_type: &str, user_id: Option<&str>, source: Option<&str>) -> Outbound {
        Outbound {
            party: Party { contact_id: Some("c1".into()), ..Party::default() },
            message_type: message_type.into(),
            user_id: user_id.map(Into::into),
            source: source.map(Into::into),
            message_id: Some("m1".into()),
            sent_at: None,
            call_status: None,
            caught_up: false,
        }
    }

    #[test]
    fn staff_reply_rule() {
        let now = Timestamp::UNIX_EPOCH;
        let none: &[String] = &[];
        let counts = VoicemailCallback::Counts;
        assert!(outbound("SMS", Some("u1"), Some("app")).staff_reply(none, counts, now).is_some());
        assert!(outbound("SMS", Some("u1"), None).staff_reply(none, counts, now).is_some());
        assert!(outbound("SMS", None, Some("app")).staff_reply(none, counts, now).is_none(), "no user");
        assert!(outbound("SMS", Some("u1"), Some("workflow")).staff_reply(none, counts, now).is_none());
        assert!(outbound("SMS", Some("u1"), Some("api")).staff_reply(none, counts, now).is_none());
        assert!(outbound("InternalComment", Some("u1"), Some("app")).staff_reply(none, counts, now).is_none());
        assert!(outbound("CALL", None, None).staff_reply(none, counts, now).is_some(), "callbacks count");
        let allow = ["u2".to_string()];
        assert!(outbound("SMS", Some("u1"), Some("app")).staff_reply(&allow, counts, now).is_none());
        assert!(outbound("SMS", Some("u2"), Some("app")).staff_reply(&allow, counts, now).is_some());
    }

    #[test]
    fn every_documented_call_type_is_a_call_and_its_outcome_decides() {
        let now = Timestamp::UNIX_EPOCH;
        let none: &[String] = &[];
        for kind in ["CALL", "TYPE_CALL", "TYPE_IVR_CALL", "TYPE_CUSTOM_CALL", "TYPE_CAMPAIGN_MANUAL_CALL", "ivr_call"]
        {
            assert!(is_call_type(kind), "{kind}");
            let reply = outbound(kind, None, None).staff_reply(none, VoicemailCallback::DoesNotCount, now);
            assert!(reply.is_some_and(|r| !r.by_human && r.answers(IssueKind::Call)), "{kind}");
        }
        for kind in ["TYPE_SMS", "TYPE_CAMPAIGN_CALL", "TYPE_CAMPAIGN_VOICEMAIL", "VoiceMail", ""] {
            assert!(!is_call_type(kind), "{kind}");
        }
        let call = |status: &str| Outbound { call_status: Some(status.into()), ..outbound("TYPE_CALL", None, None) };
        for (status, counts, does_not) in [
            ("completed", true, true),
            ("answered", true, true),
            ("voicemail", true, false),
            ("no-answer", false, false),
            ("busy", false, false),
            ("failed", false, false),
            ("canceled", false, false),
            ("pending", false, false),
        ] {
            assert_eq!(call(status).staff_reply(none, VoicemailCallback::Counts, now).is_some(), counts, "{status}");
            assert_eq!(
                call(status).staff_reply(none, VoicemailCallback::DoesNotCount, now).is_some(),
                does_not,
                "{status}"
            );
        }
    }

    #[test]
    fn party_key_prefers_conversation_then_contact_then_phone() {
        let mut party = Party { phone: Phone::parse("2145550199"), ..Party::default() };
        assert_eq!(party.key().as_deref(), Some("phone:+12145550199"));
        party.contact_id = Some("c".into());
        assert_eq!(party.key().as_deref(), Some("contact:c"));
        party.conversation_id = Some("v".into());
        assert_eq!(party.key().as_deref(), Some("conversation:v"));
        assert_eq!(Party::default().key(), None);
    }

    #[test]
    fn either_envelope_id_makes_a_redelivery_a_duplicate() {
        let parsed = |webhook: Option<&str>, message: Option<&str>| Parsed {
            event: Event::Ignored("test".into()),
            webhook_id: webhook.map(str::to_string),
            message_id: message.map(str::to_string),
            location_id: None,
        };
        assert_eq!(parsed(Some("w1"), Some("m1")).idem_keys(), ["webhook:w1", "message:m1"]);
        assert_eq!(parsed(None, Some("m1")).idem_keys(), ["message:m1"]);
        assert!(parsed(None, None).idem_keys().is_empty());
    }
}
