//! The session cookie and the checks every console request passes: who is signed in, whether
//! a form carries its session's CSRF token, and whether it came from the console's own origin.
//!
//! The cookie holds only a random token (the store keeps its hash). It is `HttpOnly`,
//! `SameSite=Strict` and `Path=/`, with `Max-Age` the session's length, and `Secure` when the
//! console is reached over TLS: `CONSOLE_URL` is `https://`, or a proxy on this box said
//! `X-Forwarded-Proto: https`.

use super::Request;

/// The cookie's name.
pub const COOKIE: &str = "sentinel_session";

/// The form field every POST of a signed-in page carries.
pub const CSRF_FIELD: &str = "csrf";

/// The `Set-Cookie` value that starts a session.
pub fn set_cookie(token: &str, max_age_seconds: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}")
}

/// The `Set-Cookie` value that ends one.
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

/// The session token in a `Cookie` header, if any.
pub fn token_in(cookie_header: &str) -> Option<String> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// Whether the form carries the session's CSRF token (compared in constant time).
pub fn csrf_ok(request: &Request, expected: &str) -> bool {
    let given = request.form.get(CSRF_FIELD).map(String::as_str).unwrap_or_default();
    same(given.as_bytes(), expected.as_bytes())
}

/// Whether a POST came from a page of this console: a browser's `Origin`, when it sends one,
/// must name the host the request was sent to.
pub fn same_origin(request: &Request) -> bool {
    match (&request.origin, &request.host) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin.as_str(), |(_, rest)| rest);
            origin_host.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Whether the `Host` a request was sent to is one the console answers to: an IP address
/// (how the office reaches the box on its LAN), `localhost`, a `.local` (mDNS) name, or the host
/// of `CONSOLE_URL`. Any other name is a page elsewhere that re-pointed its own name at this
/// box (DNS rebinding): the browser would then treat the console as that page's own origin,
/// so its `Origin` check would pass and the page could guess PINs from the office's LAN.
pub fn host_ok(host: Option<&str>, console_url: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let name = match host.strip_prefix('[') {
        // An IPv6 literal, `[::1]:8001`.
        Some(rest) => return rest.split_once(']').is_some_and(|(ip, _)| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => {
            host.rsplit_once(':').map_or(host, |(name, port)| if port.parse::<u16>().is_ok() { name } else { host })
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let configured = console_url
        .and_then(|url| url.split_once("://").map(|(_, rest)| rest))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .map(|authority| authority.rsplit_once(':').map_or(authority, |(name, _)| name).to_ascii_lowercase());
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || (name.ends_with(".local") && name.len() > ".local".len())
        || configured.is_some_and(|configured| configured == name)
}

/// Compares without an early exit, so the time taken does not tell how much matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (index, byte) in b.iter().enumerate() {
        diff |= a.get(index).copied().unwrap_or(0) ^ byte;
    }
    diff == 0 && !b.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_answers_to_its_addresses_and_names_only() {
        let url = Some("https://console.poolpros.example/");
        for host in ["192.168.1.20:8001", "127.0.0.1", "[::1]:8001", "localhost:8001", "sentinel.local:8001"] {
            assert!(host_ok(Some(host), None), "{host}");
        }
        assert!(host_ok(Some("Console.PoolPros.example"), url));
        assert!(host_ok(Some("console.poolpros.example:443"), url));
        for host in ["evil.example", "evil.example:8001", "192.168.1.20.evil.example", ".local", "[nonsense]"] {
            assert!(!host_ok(Some(host), url), "{host}");
        }
        assert!(!host_ok(None, url));
    }

    #[test]
    fn the_cookie_has_every_flag() {
        assert_eq!(
            set_cookie("abc", 43200, false),
            "sentinel_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"
        );
        assert!(set_cookie("abc", 60, true).ends_with("; Secure"));
        assert!(clear_cookie(false).starts_with("sentinel_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        assert_eq!(token_in("a=1; sentinel_session=tok; b=2"), Some("tok".into()));
        assert_eq!(token_in("sentinel_session="), None);
        assert_eq!(token_in("other=x"), None);
    }

    #[test]
    fn csrf_needs_the_exact_token() {
        let mut request = Request::default();
        assert!(!csrf_ok(&request, "token"));
        request.form.insert(CSRF_FIELD.into(), "tokeN".into());
        assert!(!csrf_ok(&request, "token"));
        request.form.insert(CSRF_FIELD.into(), "token".into());
        assert!(csrf_ok(&request, "token"));
        assert!(!csrf_ok(&request, ""), "an empty expected token never matches");
    }

    #[test]
    fn a_foreign_origin_is_refused() {
        let mut request = Request { host: Some("192.168.1.20:8001".into()), ..Request::default() };
        assert!(same_origin(&request));
        request.origin = Some("http://192.168.1.20:8001".into());
        assert!(same_origin(&request));
        request.origin = Some("https://evil.example".into());
        assert!(!same_origin(&request));
    }
}
