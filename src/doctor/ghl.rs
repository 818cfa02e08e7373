//! GHL: the token, its location and scopes, and each manager and internal contact, each proven
//! by a real request (SPEC §13, CONTRACT §3–§5). Nothing is changed and nothing is sent.
//!
//! One search in the location (`GET /conversations/search?locationId=…&limit=1`) proves the
//! token, the location and `conversations.readonly`; a page of the conversation it returns
//! proves `conversations/message.readonly`; each contact read proves `contacts.readonly` and
//! shows the contact. `conversations/message.write` is proven only by sending. GHL's refusals
//! are read into sentences (CONTRACT §5.2): "Invalid JWT" is a refused token, "does not have
//! access to this location" a token of another location, and "not authorized for this scope"
//! the scope of the endpoint that answered it.

use serde_json::Value;

use super::{Check, Options};
use crate::config::{Config, mask};
use crate::ghl::client::{GhlClient, GhlError, display_name};
use crate::time::TimeSource;

const AREA: &str = "GHL";
const MANAGERS: &str = "managers";
const INTERNAL: &str = "internal contacts";
const USERS: &str = "internal users";

/// What to do about a scope the token lacks.
fn scope_advice(scope: &str) -> String {
    format!(
        "In GHL open Settings → Private Integrations, edit this integration, add the scope {scope} and save \
         (the token stays the same)."
    )
}

/// The scope GHL requires for a request Sentinel makes (CONTRACT §3.1, §3.3, §3.4, §4.1).
pub fn scope_for(method: &str, path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["conversations", "messages"]) => "conversations/message.write",
        ("GET", ["conversations", _, "messages"]) => "conversations/message.readonly",
        ("GET", ["contacts", ..]) => "contacts.readonly",
        ("GET", ["users", ..]) => "users.readonly",
        _ => "conversations.readonly",
    }
}

/// A GHL failure, read for the doctor.
#[derive(Debug)]
enum Refusal {
    /// The token itself was refused ("Invalid JWT").
    Token(String),
    /// The token is not one of this location.
    Location(String),
    /// The token lacks the endpoint's scope.
    Scope(String),
    /// GHL does not know the id asked for.
    NotFound(String),
    /// Anything else: GHL unreachable, failing, or refusing for another reason.
    Other(GhlError),
}

impl From<GhlError> for Refusal {
    fn from(error: GhlError) -> Refusal {
        let says = |message: &str, words: &str| message.to_ascii_lowercase().contains(words);
        match error {
            GhlError::Auth(m) | GhlError::Scope(m) if says(&m, "location") => Refusal::Location(m),
            GhlError::Scope(m) => Refusal::Scope(m),
            GhlError::Auth(m) => Refusal::Token(m),
            GhlError::NotFound(m) | GhlError::Rejected(400 | 422, m) => Refusal::NotFound(m),
            other => Refusal::Other(other),
        }
    }
}

/// Every GHL check.
pub fn checks(config: &Config, options: Options) -> Vec<Check> {
    let Some(token) = &config.ghl.token else {
        return vec![Check::fail(
            AREA,
            "GHL token",
            "GHL_TOKEN is unset: no staff reply is seen in GHL and nothing reaches a manager",
            "Create a Private Integration token for the location in GHL and set GHL_TOKEN.",
        )];
    };
    let shown = mask(token.expose());
    let location = match &config.ghl.location_id {
        Some(location) => Some((location.clone(), "GHL_LOCATION_ID")),
        None => crate::db::learned_location(&config.db_path).map(|location| (location, "learnt from the webhooks")),
    };
    let client = GhlClient::new(&config.ghl, TimeSource::System);
    let mut checks = Vec::new();

    // The token and its location: one search in the location.
    let searched = location.as_ref().map(|(location, whence)| {
        (location.as_str(), *whence, client.first_conversation(location).map_err(Refusal::from))
    });
    let mut location_refused = false;
    match &searched {
        Some((_, _, Err(Refusal::Token(message)))) => return refused(checks, config, &shown, message),
        None => checks.push(Check::warn(
            AREA,
            "GHL location",
            "GHL_LOCATION_ID is unset and no webhook has shown the location yet: the token's location, and \
             the conversation scopes, are unknown until the first webhook",
            "Set GHL_LOCATION_ID to the location (sub-account) id, or run sentinel doctor again after the first \
             webhook has arrived.",
        )),
        Some((location, whence, Ok(_) | Err(Refusal::Scope(_)))) => {
            checks.push(Check::ok(AREA, "GHL token", format!("accepted by GHL: {shown}")));
            checks.push(Check::ok(AREA, "GHL location", format!("{location} ({whence}): the token is one of it")));
        }
        Some((location, whence, Err(Refusal::Location(message)))) => {
            location_refused = true;
            checks.push(Check::ok(AREA, "GHL token", format!("accepted by GHL: {shown}")));
            checks.push(Check::fail(
                AREA,
                "GHL location",
                format!("the token is for another location: GHL says \"{message}\" for {location} ({whence})"),
                format!(
                    "Use a Private Integration token created in the sub-account {location}, or set \
                     GHL_LOCATION_ID to the token's own location."
                ),
            ));
        }
        Some((_, _, Err(refusal))) => {
            checks.push(Check::fail(
                AREA,
                "GHL token",
                format!("could not be checked: {}", describe(refusal)),
                "Check that the box reaches GHL (GHL_BASE_URL) and that GHL is up, then run sentinel doctor again.",
            ));
            return checks;
        }
    }

    // The scopes, one line each.
    let search = searched.as_ref().map(|(_, _, result)| result);
    let search_scope = scope_for("GET", "/conversations/search");
    let not_proven = |scope: &str, why: &str, advice: &str| {
        Check::warn(AREA, format!("scope {scope}"), format!("not proven: {why}"), advice.to_string())
    };
    let first_conversation = match &search {
        Some(Ok(first)) => {
            checks.push(Check::ok(AREA, format!("scope {search_scope}"), "conversations can be searched"));
            Ok(first.clone())
        }
        Some(Err(Refusal::Scope(message))) => {
            checks.push(missing_scope(search_scope, "GET /conversations/search", message));
            Err("the conversations could not be searched")
        }
        Some(Err(_)) => {
            checks.push(not_proven(
                search_scope,
                "GHL refused the location",
                "Fix the location (see above), then run sentinel doctor again.",
            ));
            Err("GHL refused the location")
        }
        None => {
            checks.push(not_proven(
                search_scope,
                "the location is unknown",
                "Run sentinel doctor again once GHL_LOCATION_ID is set or a webhook has arrived.",
            ));
            Err("the location is unknown")
        }
    };
    let messages_scope = scope_for("GET", "/conversations/{id}/messages");
    match first_conversation {
        Ok(Some(conversation)) => match client.latest_messages(&conversation, 1).map_err(Refusal::from) {
            Ok(_) => checks.push(Check::ok(AREA, format!("scope {messages_scope}"), "messages can be read")),
            Err(Refusal::Token(message)) => return refused(checks, config, &shown, &message),
            Err(Refusal::Scope(message)) => {
                checks.push(missing_scope(messages_scope, "GET /conversations/{id}/messages", &message));
            }
            Err(other) => checks.push(Check::fail(
                AREA,
                format!("scope {messages_scope}"),
                format!("could not be checked: {}", describe(&other)),
                "Run sentinel doctor again; if it persists, check GHL's status page.",
            )),
        },
        Ok(None) => checks.push(not_proven(
            messages_scope,
            "the location has no conversation to read yet",
            "Run sentinel doctor again once the location has a conversation.",
        )),
        Err(why) => checks.push(not_proven(
            messages_scope,
            why,
            "See the GHL location and scope lines above, then run sentinel doctor again.",
        )),
    }

    // Every contact named, read once; the first answer proves or disproves contacts.readonly.
    let ids = config.manager_contact_ids.iter().chain(&config.internal_contact_ids);
    let mut contacts: Vec<(&String, Result<Value, Refusal>)> = Vec::new();
    for id in ids {
        if contacts.iter().any(|(seen, _)| *seen == id) {
            continue;
        }
        let read = client.contact(id).map_err(Refusal::from);
        if let Err(Refusal::Token(message)) = &read {
            return refused(checks, config, &shown, message);
        }
        contacts.push((id, read));
    }
    let contacts_scope = scope_for("GET", "/contacts/{id}");
    let answered = contacts.iter().any(|(_, read)| matches!(read, Ok(_) | Err(Refusal::NotFound(_))));
    let lacking = contacts.iter().find_map(|(_, read)| match read {
        Err(Refusal::Scope(message)) => Some(message.clone()),
        _ => None,
    });
    if location.is_none() && answered {
        // No search was made: a contact read is what proves the token.
        let at = checks.iter().position(|check| check.name == "GHL location").unwrap_or(0);
        checks.insert(at, Check::ok(AREA, "GHL token", format!("accepted by GHL: {shown}")));
    }
    match (answered, lacking) {
        (true, _) => checks.push(Check::ok(AREA, format!("scope {contacts_scope}"), "contacts can be read")),
        (false, Some(message)) => checks.push(missing_scope(contacts_scope, "GET /contacts/{id}", &message)),
        (false, None) if contacts.is_empty() => checks.push(not_proven(
            contacts_scope,
            "no MANAGER_CONTACT_IDS or INTERNAL_CONTACT_IDS to read",
            "Set MANAGER_CONTACT_IDS, then run sentinel doctor again.",
        )),
        (false, None) => {}
    }

    // Sending is proven only by sending: with --send-test-sms, through the running service's
    // outbox, as every alert goes.
    let send_scope = scope_for("POST", "/conversations/messages");
    if options.send_test_sms {
        checks.extend(super::sms::test_sms(config, send_scope, options.wait_for_ok));
    } else {
        checks.push(not_proven(
            send_scope,
            "proven only with --send-test-sms",
            &format!("Make sure the Private Integration has {send_scope}: without it no alert reaches a manager."),
        ));
    }

    if let Some(limits) = client.status().rate_limit {
        checks.push(rate_limit(&limits));
    }

    let expected = location.as_ref().filter(|_| !location_refused).map(|(location, _)| location.as_str());
    let read = |id: &String| contacts.iter().find(|(seen, _)| *seen == id).map(|(_, read)| read);
    for id in &config.manager_contact_ids {
        if let Some(result) = read(id) {
            checks.push(contact_check(Role::Manager, id, result, expected));
        }
    }
    for id in &config.internal_contact_ids {
        if let Some(result) = read(id) {
            checks.push(contact_check(Role::Internal, id, result, expected));
        }
    }
    // INTERNAL_USER_IDS: staff whose replies in GHL count. Reading them needs users.readonly,
    // which Sentinel needs for nothing else, so a token without it only leaves them unchecked.
    for id in &config.internal_user_ids {
        let read = client.user(id).map_err(Refusal::from);
        if let Err(Refusal::Token(message)) = &read {
            return refused(checks, config, &shown, message);
        }
        checks.push(user_check(id, &read, expected));
    }
    checks
}

/// One `INTERNAL_USER_IDS` entry: a user of GHL, of this location when GHL says which.
fn user_check(id: &str, read: &Result<Value, Refusal>, location: Option<&str>) -> Check {
    let name = format!("internal user {id}");
    let user = match read {
        Ok(user) => user,
        Err(Refusal::Scope(_)) => {
            return Check::warn(
                USERS,
                name,
                "not checked: the token cannot read users (users.readonly, which Sentinel needs for nothing else)",
                "Check the id in GHL under Settings → My Staff, or add users.readonly to the Private Integration \
                 and run sentinel doctor again.",
            );
        }
        Err(Refusal::NotFound(message)) => {
            return Check::fail(
                USERS,
                name,
                format!("not a user: GHL answers \"{message}\""),
                "Copy the staff member's user id from GHL (Settings → My Staff) into INTERNAL_USER_IDS.",
            );
        }
        Err(refusal) => {
            return Check::fail(
                USERS,
                name,
                format!("could not be read: {}", describe(refusal)),
                "Check that the box reaches GHL, then run sentinel doctor again.",
            );
        }
    };
    let label = display_name(user).unwrap_or_else(|| "(no name)".to_string());
    let locations: Vec<&str> =
        user["roles"]["locationIds"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    // An agency user may have no list; only a list without this location is wrong.
    if let Some(location) = location
        && !locations.is_empty()
        && !locations.contains(&location)
    {
        return Check::fail(
            USERS,
            name,
            format!("{label} is a user of other locations, not of {location}"),
            format!("Use the id of a user of location {location} in INTERNAL_USER_IDS, or give {label} access to it."),
        );
    }
    let role = user["roles"]["role"].as_str().map(|role| format!(" ({role})")).unwrap_or_default();
    Check::ok(USERS, name, format!("{label}{role}"))
}

/// The token was refused: the one failure, and the checks it stops said so once.
fn refused(mut checks: Vec<Check>, config: &Config, shown: &str, message: &str) -> Vec<Check> {
    checks.retain(|check| check.area != AREA);
    checks.push(Check::fail(
        AREA,
        "GHL token",
        format!("GHL refused the token {shown}: \"{message}\""),
        "Copy the token of this location's Private Integration (GHL: Settings → Private Integrations) into \
         GHL_TOKEN; a rotated or deleted token is refused.",
    ));
    let named = config.manager_contact_ids.len() + config.internal_contact_ids.len();
    if named > 0 {
        checks.push(Check::warn(
            MANAGERS,
            "contacts",
            format!("not checked ({named} named): GHL refused the token"),
            "Fix the token, then run sentinel doctor again.",
        ));
    }
    checks
}

/// A scope the token lacks, named from GHL's answer to the endpoint that needs it.
fn missing_scope(scope: &str, endpoint: &str, message: &str) -> Check {
    Check::fail(
        AREA,
        format!("scope {scope}"),
        format!("the token is not authorized for {scope}: GHL answered {endpoint} with \"{message}\""),
        scope_advice(scope),
    )
}

/// A failure in a few words.
fn describe(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Token(m) => format!("GHL refused the token: {m}"),
        Refusal::Location(m) | Refusal::Scope(m) => format!("GHL refused access: {m}"),
        Refusal::NotFound(m) => format!("GHL answered: {m}"),
        Refusal::Other(error) => error.to_string(),
    }
}

/// GHL's rate-limit headroom, as its `X-RateLimit-*` headers said last (CONTRACT §5.1).
fn rate_limit(limits: &crate::ghl::client::RateLimitHeaders) -> Check {
    let of = |left: Option<u64>, max: Option<u64>| match (left, max) {
        (Some(left), Some(max)) => format!("{left} of {max}"),
        (Some(left), None) => left.to_string(),
        (None, Some(max)) => format!("? of {max}"),
        (None, None) => "?".to_string(),
    };
    let window = limits.interval_ms.map_or("window".to_string(), |ms| format!("{} s window", ms / 1000));
    let detail = format!(
        "{} requests left in the {window}, {} today",
        of(limits.remaining, limits.max),
        of(limits.daily_remaining, limits.daily_limit)
    );
    let low = matches!((limits.daily_remaining, limits.daily_limit), (Some(left), Some(max)) if left * 10 < max);
    if low {
        Check::warn(
            AREA,
            "GHL rate limit",
            detail,
            "Less than a tenth of the day's GHL requests is left: other integrations of this location share it.",
        )
    } else {
        Check::ok(AREA, "GHL rate limit", detail)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Manager,
    Internal,
}

/// One contact named in the configuration: of the location, with a phone that takes SMS.
fn contact_check(role: Role, id: &str, read: &Result<Value, Refusal>, location: Option<&str>) -> Check {
    let (area, name, variable, who) = match role {
        Role::Manager => (MANAGERS, format!("manager {id}"), "MANAGER_CONTACT_IDS", "the manager"),
        Role::Internal => (INTERNAL, format!("internal contact {id}"), "INTERNAL_CONTACT_IDS", "the staff member"),
    };
    let contact = match read {
        Ok(contact) => contact,
        Err(Refusal::NotFound(message)) => {
            return Check::fail(
                area,
                name,
                format!("not a contact: GHL answers \"{message}\""),
                format!(
                    "Copy {who}'s contact id from their contact page in GHL (the last part of its address) into \
                     {variable}."
                ),
            );
        }
        Err(Refusal::Scope(_)) => {
            return Check::warn(
                area,
                name,
                "not checked: the token cannot read contacts",
                "Add the scope contacts.readonly (see above), then run sentinel doctor again.",
            );
        }
        Err(refusal) => {
            return Check::fail(
                area,
                name,
                format!("could not be read: {}", describe(refusal)),
                "Check that the box reaches GHL, then run sentinel doctor again.",
            );
        }
    };
    let label = display_name(contact).unwrap_or_else(|| "(no name)".to_string());
    let of_location = contact["locationId"].as_str().unwrap_or_default();
    if let Some(location) = location
        && !of_location.is_empty()
        && of_location != location
    {
        return Check::fail(
            area,
            name,
            format!("{label} is a contact of location {of_location}, not of {location}"),
            format!("Use the id of {who}'s contact in location {location} in {variable}."),
        );
    }
    let phone = contact["phone"].as_str().map(str::trim).unwrap_or_default();
    if phone.is_empty() {
        let detail = format!("{label} has no phone: it cannot receive SMS");
        let advice = format!("Add {who}'s mobile number to their contact in GHL.");
        return match role {
            Role::Manager => Check::fail(area, name, detail, advice),
            Role::Internal => Check::warn(area, name, detail, advice),
        };
    }
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let ending = &digits[digits.len().saturating_sub(4)..];
    let dnd = contact["dnd"].as_bool() == Some(true) || contact["dndSettings"]["SMS"]["status"] == "active";
    let detail = format!("{label}, phone ending {ending}");
    if dnd {
        return Check::warn(
            area,
            name,
            format!("{detail}: do-not-disturb is on for SMS"),
            format!("Turn off SMS do-not-disturb on {who}'s contact in GHL, or texts to it are not delivered."),
        );
    }
    Check::ok(area, name, detail)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::doctor::Level;

    #[test]
    fn each_endpoint_names_the_scope_ghl_checks() {
        assert_eq!(scope_for("GET", "/conversations/search"), "conversations.readonly");
        assert_eq!(scope_for("GET", "/conversations/c1/messages"), "conversations/message.readonly");
        assert_eq!(scope_for("POST", "/conversations/messages"), "conversations/message.write");
        assert_eq!(scope_for("GET", "/contacts/m1"), "contacts.readonly");
        assert_eq!(scope_for("GET", "/users/u1"), "users.readonly");
    }

    #[test]
    fn a_user_must_be_one_of_the_location_when_ghl_lists_its_locations() {
        let user = |locations: Value| {
            Ok(json!({ "name": "Dana Cole", "roles": { "role": "user", "locationIds": locations } }))
        };
        let ok = user_check("u1", &user(json!(["loc1"])), Some("loc1"));
        assert_eq!((ok.level, ok.detail.as_str()), (Level::Ok, "Dana Cole (user)"));
        let other = user_check("u1", &user(json!(["loc9"])), Some("loc1"));
        assert_eq!(other.level, Level::Fail);
        assert!(other.detail.contains("other locations, not of loc1"), "{other:?}");
        assert_eq!(user_check("u1", &user(json!([])), Some("loc1")).level, Level::Ok, "an agency user lists none");
        let missing = user_check("u9", &Err(Refusal::NotFound("User not found".into())), Some("loc1"));
        assert!(missing.level == Level::Fail && missing.detail.contains("User not found"), "{missing:?}");
        let unscoped = user_check("u1", &Err(Refusal::Scope("not authorized".into())), Some("loc1"));
        assert_eq!(unscoped.level, Level::Warn);
    }

    #[test]
    fn ghl_refusals_are_read_by_their_message() {
        let location = "The token does not have access to this location.";
        assert!(matches!(Refusal::from(GhlError::Scope(location.into())), Refusal::Location(_)));
        assert!(matches!(Refusal::from(GhlError::Auth(location.into())), Refusal::Location(_)));
        let scope = "The token is not authorized for this scope.";
        assert!(matches!(Refusal::from(GhlError::Scope(scope.into())), Refusal::Scope(_)));
        assert!(matches!(Refusal::from(GhlError::Auth("Invalid JWT".into())), Refusal::Token(_)));
        let missing = GhlError::Rejected(400, "Contact not found".into());
        assert!(matches!(Refusal::from(missing), Refusal::NotFound(_)));
        assert!(matches!(Refusal::from(GhlError::Unavailable("timed out".into())), Refusal::Other(_)));
    }

    #[test]
    fn a_contact_needs_the_location_and_a_phone_and_never_shows_it_whole() {
        let contact = |fields: Value| Ok::<_, Refusal>(fields);
        let good =
            contact(json!({ "locationId": "loc1", "firstName": "Pat", "lastName": "Doe", "phone": "+12145550104" }));
        let check = contact_check(Role::Manager, "m1", &good, Some("loc1"));
        assert_eq!(check.level, super::super::Level::Ok);
        assert_eq!(check.detail, "Pat Doe, phone ending 0104");
        let elsewhere = contact_check(Role::Manager, "m1", &good, Some("loc2"));
        assert!(elsewhere.detail.contains("of location loc1, not of loc2"), "{}", elsewhere.detail);
        let silent = contact(json!({ "locationId": "loc1", "name": "Sam" }));
        assert_eq!(contact_check(Role::Manager, "m2", &silent, None).level, super::super::Level::Fail);
        assert_eq!(contact_check(Role::Internal, "i1", &silent, None).level, super::super::Level::Warn);
        let dnd = contact(json!({ "locationId": "loc1", "name": "Lee", "phone": "+1 214 555 0199",
            "dndSettings": { "SMS": { "status": "active" } } }));
        assert_eq!(contact_check(Role::Manager, "m3", &dnd, None).level, super::super::Level::Warn);
    }
}
