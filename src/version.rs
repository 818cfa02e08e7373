//! The version this process reports, the target it was built for, and the test hooks' switch.
//!
//! A binary installed by `sentinel update` runs from a slot (`slots/a/sentinel`) beside the
//! signed manifest it came with, and reports the version that manifest names: `cross/release.sh`
//! packs each binary under its own `Cargo.toml` version, so the two agree, and the tests pack one
//! test binary under several versions. Anywhere else (the factory binary, `cargo run`) the version
//! is the crate's. `status`, `/health`, the update and its health gate all read it from here.

use std::sync::OnceLock;

/// The file beside a slot's binary that holds its signed manifest.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The version this process reports.
pub fn running() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| slot_version().unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()))
}

/// The version in the manifest beside this executable, when it runs from a slot.
fn slot_version() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let text = std::fs::read(exe.parent()?.join(MANIFEST_FILE)).ok()?;
    let manifest: serde_json::Value = serde_json::from_slice(&text).ok()?;
    manifest.get("version")?.as_str().map(str::to_string)
}

/// The CPU architecture this binary was built for, as `std` names it (`aarch64`, `arm`,
/// `x86_64`): an update must be for the same one.
pub fn arch() -> &'static str {
    std::env::consts::ARCH
}

/// The target this binary was built for, in the triple's shape (`aarch64-unknown-linux-musl`).
pub fn target() -> String {
    let env = if cfg!(target_env = "musl") { "musl" } else { "gnu" };
    let arch = match arch() {
        // The 32-bit Pi build is armv7 with hardware floating point.
        "arm" => "armv7",
        other => other,
    };
    let abi = if arch == "armv7" { "eabihf" } else { "" };
    format!("{arch}-unknown-{}-{env}{abi}", std::env::consts::OS)
}

/// Whether test hooks are honoured: only under the manual test clock (`SENTINEL_TEST_NOW`, as
/// the `/debug` routes) or with `SENTINEL_TEST_HOOKS=1`. Never on an appliance.
pub fn test_hooks() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.is_empty());
    set("SENTINEL_TEST_NOW") || std::env::var("SENTINEL_TEST_HOOKS").is_ok_and(|value| value == "1")
}

/// The test hook for a build that never becomes healthy: `SENTINEL_TEST_UNHEALTHY_VERSION=V`
/// makes version V report one part of itself as not answering, so `/health`, the watchdog and
/// the update's health gate all see it failing. Answers why, when it applies to this process.
pub fn test_unhealthy() -> Option<String> {
    let version = std::env::var("SENTINEL_TEST_UNHEALTHY_VERSION").ok()?;
    (test_hooks() && version == running())
        .then(|| format!("SENTINEL_TEST_UNHEALTHY_VERSION={version} keeps this version unhealthy (test hook)"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_target_names_this_architecture() {
        let target = super::target();
        assert!(target.contains("-linux-"), "{target}");
        assert!(target.starts_with(if super::arch() == "arm" { "armv7" } else { super::arch() }), "{target}");
    }
}
