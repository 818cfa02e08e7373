//! The configuration itself: what `check-config` refuses, and what loads but cannot work.

use super::Check;
use crate::config::Config;

const AREA: &str = "configuration";

/// The configuration did not load: the one failure, with every reason.
pub fn refused(err: &anyhow::Error) -> Check {
    let detail = format!("{err:#}").replace('\n', " ");
    Check::fail(
        AREA,
        "configuration",
        detail,
        "Fix the values named above in the env file, then run sentinel doctor again.",
    )
}

/// What loads but will not work: no manager to tell, no GHL token to tell them with.
pub fn checks(config: &Config) -> Vec<Check> {
    let mut checks =
        vec![Check::ok(AREA, "configuration", "every variable is valid (sentinel check-config shows them)")];
    if config.manager_contact_ids.is_empty() {
        checks.push(Check::warn(
            AREA,
            "managers",
            "MANAGER_CONTACT_IDS is empty: no manager is told of overdue customers",
            "Set MANAGER_CONTACT_IDS to the GHL contact ids of the managers who get alerts and digests.",
        ));
    }
    checks
}
