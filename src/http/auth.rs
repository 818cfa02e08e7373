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

/// Secret or signature, as SPEC §2 and §3.3 allow: workflow routes need the secret; the
/// events route also takes a valid GHL signature, and with `GHL_REQUIRE_SIGNATURE=1` needs one.
pub(super) fn webhook_auth(
    request: &Request,
    route: Route,
    http: &HttpContext,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<(), Reply> {
    let secret_ok = authorised(request, &http.secret, query);
    if route != Route::Events {
        return if secret_ok { Ok(()) } else { Err(Reply::error(401, "Unauthorized")) };
    }
    let check =
        http.verifier.check(header_value(request, "X-GHL-Signature"), header_value(request, "X-WH-Signature"), body);
    match check {
        SignatureCheck::Invalid(why) => Err(Reply::error(401, format!("invalid signature: {why}"))),
        SignatureCheck::Valid => Ok(()),
        SignatureCheck::Missing if http.ctx.config.ghl.require_signature => {
            Err(Reply::error(401, "signature required: GHL_REQUIRE_SIGNATURE=1"))
        }
        SignatureCheck::Missing if secret_ok => Ok(()),
        SignatureCheck::Missing => Err(Reply::error(401, "Unauthorized")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison_is_still_a_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"secrets", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
    }
}
