//! Instances: several locations on one host (issue 29), each a `sentinel@NAME.service`.
//!
//! An instance is a name. Its env file is `/etc/sentinel/NAME.env` (`$SENTINEL_ETC/NAME.env`
//! in tests), read as `--config` reads a file, and its data is a directory named for it: the
//! unit's `StateDirectory=sentinel/%i` (`/var/lib/sentinel/NAME`), which `read` makes the
//! default `DB_PATH`'s directory. `sentinel instances` lists the env files found here.

use std::path::{Path, PathBuf};

use anyhow::ensure;

/// Overrides the directory of the env files (tests), as `SENTINEL_KEYS_DIR` does the keys'.
pub const ETC_DIR_VAR: &str = "SENTINEL_ETC";
/// Where the env files are unless `SENTINEL_ETC` says otherwise.
pub const DEFAULT_ETC_DIR: &str = "/etc/sentinel";
/// The main service's name: `sentinel.env` is `sentinel.service`'s file, not an instance's.
pub const MAIN: &str = "sentinel";
/// What `/var/lib/sentinel` already holds besides instances (the main service's data, and on
/// the image the settings, the tunnel's secrets, the network's settings and timesyncd's clock
/// file): an instance of one of these names would have systemd hand that directory to the
/// service user.
pub const RESERVED: [&str; 7] = ["etc", "tunnel", "network", "slots", "backups", "timesync", "sentinel-data"];

/// The systemd unit that runs the env file named `name`: `sentinel` for [`MAIN`], else the
/// instance `sentinel@NAME`.
pub fn unit(name: &str) -> String {
    if name == MAIN { MAIN.to_string() } else { format!("sentinel@{name}") }
}

/// The directory holding the env files: `SENTINEL_ETC`, else `/etc/sentinel`.
pub fn etc_dir() -> PathBuf {
    match std::env::var_os(ETC_DIR_VAR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_ETC_DIR),
    }
}

/// Checks an instance's name: what systemd passes as `%i` and a file name can hold, nothing
/// that could leave the directory (`..`, `/`), and not the main service's own name.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let fits = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-');
    ensure!(fits, "instance {name:?}: expected a name of letters, digits, '-' and '_', e.g. dallas");
    ensure!(
        name != MAIN,
        "instance {name:?}: sentinel.env is the main service's (sentinel.service); leave out --instance for it"
    );
    ensure!(
        !RESERVED.contains(&name),
        "instance {name:?}: /var/lib/sentinel/{name} is not an instance's; name it for the location, e.g. dallas"
    );
    Ok(())
}

/// The env file of instance `name` in `etc`.
pub fn env_file_in(etc: &Path, name: &str) -> PathBuf {
    etc.join(format!("{name}.env"))
}

/// The env file of instance `name`: `$SENTINEL_ETC/NAME.env`, else `/etc/sentinel/NAME.env`.
pub fn env_file(name: &str) -> anyhow::Result<PathBuf> {
    check_name(name)?;
    Ok(env_file_in(&etc_dir(), name))
}

/// The env files in `etc`, by name: `(name, path)` for each `*.env`, the main service's
/// `sentinel.env` included (named [`MAIN`]). Sorted by name.
pub fn list_in(etc: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    use anyhow::Context as _;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(etc).with_context(|| format!("listing {}", etc.display()))? {
        let path = entry.with_context(|| format!("listing {}", etc.display()))?.path();
        let name = path.file_name().and_then(|name| name.to_str()).and_then(|name| name.strip_suffix(".env"));
        if let Some(name) = name
            && (name == MAIN || check_name(name).is_ok())
            && path.is_file()
        {
            found.push((name.to_string(), path.clone()));
        }
    }
    found.sort();
    Ok(found)
}

/// The data directory of instance `name`, given the systemd state directory in force, if any.
/// Under `sentinel@NAME.service` that is `/var/lib/sentinel/NAME` already
/// (`StateDirectory=sentinel/%i`); typed by hand through the launcher, which sets
/// `/var/lib/sentinel`, it is the directory named for the instance inside it; without systemd,
/// `./sentinel-data/NAME`.
pub fn data_dir(name: &str, state_directory: Option<&Path>) -> PathBuf {
    match state_directory {
        Some(dir) if dir.file_name().is_some_and(|last| last == name) => dir.to_path_buf(),
        Some(dir) => dir.join(name),
        None => Path::new("./sentinel-data").join(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_directory() {
        assert!(check_name("dallas").is_ok());
        assert!(check_name("fort-worth_2").is_ok());
        for bad in ["", "..", "a/b", "../etc", "-x", "a.b", "sentinel", "é", "tunnel", "etc", "slots"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_data_directory_is_named_for_the_instance() {
        let unit = Path::new("/var/lib/sentinel/dallas");
        assert_eq!(data_dir("dallas", Some(unit)), unit);
        assert_eq!(data_dir("dallas", Some(Path::new("/var/lib/sentinel"))), unit);
        assert_eq!(data_dir("dallas", None), Path::new("./sentinel-data/dallas"));
    }
}
