//! Who is asking and whether they may: the webhook secret, GHL's signatures, and the client
//! address the guard counts failures against (SPEC §2, §3.3).

use std::collections::HashMap;

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

#[cfg(test)]
mod tests {
    use super::*;

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
