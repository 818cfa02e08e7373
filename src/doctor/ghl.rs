//! GHL: the token, its location and scopes, and each manager and internal contact.

use super::{Check, Options};
use crate::config::Config;

const AREA: &str = "GHL";

/// Every GHL check.
pub fn checks(config: &Config, options: Options) -> Vec<Check> {
    let _ = options;
    match &config.ghl.token {
        None => vec![Check::fail(
            AREA,
            "GHL token",
            "GHL_TOKEN is unset: no staff reply is seen in GHL and nothing reaches a manager",
            "Create a Private Integration token for the location in GHL and set GHL_TOKEN.",
        )],
        Some(_) => Vec::new(),
    }
}
