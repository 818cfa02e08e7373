//! Who is asking and whether they may: the webhook secret, GHL's signatures, and the client
//! address the guard counts failures against (SPEC §2, §3.3).

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use tiny_http::Request;

use super::{HttpContext, Reply};
use crate::config::Secret;
use crate::ghl::payload::Route;
use crate::ghl::signature::SignatureCheck;
use crate::guard::AuthGuard;

/// Who is asking: the peer, or behind a local tunnel the address it reports in the
/// configured client-address header (see [`AuthGuard::source`]).
pub(super) fn client_of(request: &Request, guard: &AuthGuard) -> std::net::IpAddr {
    let peer = request.remote_addr().map(|a| a.ip()).unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let reported = guard.client_header().and_then(|name| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    });
    guard.source(peer, reported)
}

/// SPEC §2: header `X-NTPP-Secret`, else `?secret=`; compared in constant time.
pub(super) fn authorised(request: &Request, secret: &Secret, query: &HashMap<String, String>) -> bool {
    let given = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("X-NTPP-Secret"))
        .map(|h| h.value.as_str().to_string())
        .or_else(|| query.get("secret").cloned());
    given.is_some_and(|given| constant_time_eq(given.as_bytes(), secret.expose().as_bytes()))
}

/// Compares without an early exit, so the time taken does not reveal how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for (index, byte) in b.iter().enumerate() {
        diff |= a.get(index).copied().unwrap_or(0) ^ byte;
    }
    diff == 0
}

fn header_value<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

/// How a webhook proved itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Proof {
    /// The webhook secret (with or without a valid signature).
    Secret,
    /// Only GHL's signature. GHL signs every account's events with one key, so such an event
    /// proves it came from GHL, not that it is for this box: its location must be this box's.
    SignatureOnly,
}

/// Secret or signature, as SPEC §2 and §3.3 allow: workflow routes need the secret; the
/// events route also takes a valid GHL signature, and with `GHL_REQUIRE_SIGNATURE=1` needs one.
pub(super) fn webhook_auth(
    request: &Request,
    route: Route,
    http: &HttpContext,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<Proof, Reply> {
    let secret_ok = authorised(request, &http.secret, query);
    if route != Route::Events {
        return if secret_ok { Ok(Proof::Secret) } else { Err(Reply::error(401, "Unauthorized")) };
    }
    let check =
        http.verifier.check(header_value(request, "X-GHL-Signature"), header_value(request, "X-WH-Signature"), body);
    match check {
        // The right secret is always served (SPEC §2); only GHL_REQUIRE_SIGNATURE=1 makes a
        // signature that does not verify (GHL rotated its key, say) refuse it.
        SignatureCheck::Invalid(why) if secret_ok && !http.ctx.config.ghl.require_signature => {
            tracing::warn!(
                "a webhook's GHL signature did not verify ({why}); taken on the secret. If GHL rotated its \
                 key, set GHL_WEBHOOK_ED25519_KEY"
            );
            Ok(Proof::Secret)
        }
        SignatureCheck::Invalid(why) => Err(Reply::error(401, format!("invalid signature: {why}"))),
        SignatureCheck::Valid if secret_ok => Ok(Proof::Secret),
        SignatureCheck::Valid => Ok(Proof::SignatureOnly),
        SignatureCheck::Missing if http.ctx.config.ghl.require_signature => {
            Err(Reply::error(401, "signature required: GHL_REQUIRE_SIGNATURE=1"))
        }
        SignatureCheck::Missing if secret_ok => Ok(Proof::Secret),
        SignatureCheck::Missing => Err(Reply::error(401, "Unauthorized")),
    }
}

/// Refuses an event proven by GHL's signature alone unless it names this box's location (set
/// by `GHL_LOCATION_ID`, or learnt from a webhook that carried the secret). Any GHL account
/// with an app receives validly signed events of its own; they must not become issues here,
/// nor teach the box a location.
pub(super) fn signed_for_this_location(known: Option<&str>, named: Option<&str>) -> Result<(), Reply> {
    match (known, named) {
        (Some(known), Some(named)) if known == named => Ok(()),
        (None, _) => Err(Reply::error(
            403,
            "an event signed by GHL without the secret needs this box's location: set GHL_LOCATION_ID \
             (or let a workflow webhook with the secret arrive first)",
        )),
        (Some(_), named) => Err(Reply::error(
            403,
            format!("signed by GHL for location {}, which is not this box's", named.unwrap_or("(none)")),
        )),
    }
}

/// The oldest a GHL signature is believed when it is an event's only proof: a signed body can
/// be posted again by anyone who saw it, and the signature stays valid for ever. Within this
/// age a replay meets its own duplicate keys, which the store keeps longer
/// (`db::events::KEYS_KEPT_FOR`); past it, the event is refused.
pub(super) const SIGNED_MAX_AGE: SignedDuration = SignedDuration::from_hours(24);

/// How far ahead of this box's clock a signed timestamp may be: GHL's clock and ours differ, and
/// refusing a real event for that would lose it, so only a box off by most of an hour refuses.
/// An event taken at the edge still meets its keys within [`SIGNED_MAX_AGE`] (test below).
pub(super) const SIGNED_MAX_AHEAD: SignedDuration = SignedDuration::from_mins(55);

/// Refuses an event proven by GHL's signature alone whose signed `timestamp` is more than
/// [`SIGNED_MAX_AGE`] old, or more than [`SIGNED_MAX_AHEAD`] ahead of `now`: such an event
/// could be an old one posted again after its duplicate keys were pruned. A clock that is not
/// believed yet (`None`) cannot judge an age, so then the duplicate keys alone guard. So do
/// they for an event without a `timestamp`: GHL's documented InboundMessage samples show none
/// (`ghl/CONTRACT.md` §7.8), and refusing those would lose every customer's text on a box that
/// GHL reaches by signature alone; a replay of one can only bring back an old text.
pub(super) fn signed_recently(signed_at: Option<Timestamp>, now: Option<Timestamp>) -> Result<(), Reply> {
    let (Some(now), Some(signed_at)) = (now, signed_at) else { return Ok(()) };
    if signed_at < now - SIGNED_MAX_AGE {
        return Err(Reply::error(
            403,
            format!(
                "signed by GHL at {signed_at}, more than {} hours ago: refused as a possible replay \
                 (send it with the secret to have it stored)",
                SIGNED_MAX_AGE.as_hours()
            ),
        ));
    }
    if signed_at > now + SIGNED_MAX_AHEAD {
        return Err(Reply::error(
            403,
            format!("signed by GHL at {signed_at}, ahead of this box's clock ({now}): refused"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_alone_is_believed_only_while_its_duplicate_keys_are_kept() -> anyhow::Result<()> {
        let now: Timestamp = "2026-03-02T15:00:00Z".parse()?;
        let status = |signed: Option<&str>, now: Option<Timestamp>| {
            signed_recently(signed.map(|text| text.parse().unwrap_or(Timestamp::UNIX_EPOCH)), now)
                .err()
                .map(|reply| reply.status)
        };
        for fresh in ["2026-03-02T15:00:00Z", "2026-03-01T15:00:01Z", "2026-03-02T15:54:59Z"] {
            assert_eq!(status(Some(fresh), Some(now)), None, "{fresh}");
        }
        for refused in ["2026-03-01T14:59:59Z", "2026-03-02T15:55:01Z", "2021-04-21T11:31:45Z"] {
            assert_eq!(status(Some(refused), Some(now)), Some(403), "{refused:?}");
        }
        assert_eq!(status(None, Some(now)), None, "undated: the duplicate keys guard");
        assert_eq!(status(Some("2021-04-21T11:31:45Z"), None), None, "no believed clock, no age");
        // A replay accepted at the edge of the window, of an event that came in as early as
        // the skew allows, still finds its keys.
        assert!(SIGNED_MAX_AGE + SIGNED_MAX_AHEAD < crate::db::events::KEYS_KEPT_FOR);
        Ok(())
    }

    #[test]
    fn a_signed_event_must_name_the_known_location() {
        assert!(signed_for_this_location(Some("loc1"), Some("loc1")).is_ok());
        for (known, named) in [(Some("loc1"), Some("loc2")), (Some("loc1"), None), (None, Some("loc1")), (None, None)] {
            let refused = signed_for_this_location(known, named).err();
            assert_eq!(refused.map(|reply| reply.status), Some(403), "{known:?} {named:?}");
        }
    }

    #[test]
    fn constant_time_comparison_is_still_a_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"secrets", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
    }
}
