//! Where raw values come from: the env file, the process environment, and the table's defaults.
//!
//! [`Source::load`] reads the env file (the original's `.env` syntax) and overlays the process
//! environment, which wins (SPEC §9). Values stay strings here; `read` turns them into a
//! [`super::Config`] through the table in `vars`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{CRON_PREFIX, DEFAULT_ENV_FILE, TEST_CLOCK_VAR, VARS};

/// Where a value came from, for `check-config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Not set: the table's default.
    Default,
    /// The env file.
    File,
    /// The process environment.
    Environment,
}

/// Raw values by name, merged from the env file and the process environment.
#[derive(Debug, Default, Clone)]
pub struct Source {
    values: BTreeMap<String, (String, Origin)>,
    /// Names in the env file that Sentinel does not know.
    pub unknown: Vec<String>,
    /// The env file read, if any.
    pub file: Option<PathBuf>,
    /// The instance (`--instance NAME`, issue 29) whose env file this is, if any: its default
    /// database is in the directory named for it.
    pub instance: Option<String>,
}

impl Source {
    /// Reads the env file (explicit path, else the default path when it exists) and overlays
    /// the process environment.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Source> {
        let default = Path::new(DEFAULT_ENV_FILE);
        let file = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None if default.exists() => Some(default.to_path_buf()),
            None => None,
        };
        let mut source = Source::from_file(file.as_deref())?;
        for (name, value) in std::env::vars() {
            if is_known(&name) {
                source.values.insert(name, (value, Origin::Environment));
            }
        }
        Ok(source)
    }

    /// Reads an env file alone, without the process environment: another service's settings,
    /// as that service sees them (`sentinel instances`).
    pub fn from_file(file: Option<&Path>) -> anyhow::Result<Source> {
        let mut source = Source::default();
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading the env file {}", path.display()))?;
            for (name, value) in
                parse_env_file(&text).with_context(|| format!("reading the env file {}", path.display()))?
            {
                if !is_known(&name) {
                    source.unknown.push(name.clone());
                }
                source.values.insert(name, (value, Origin::File));
            }
        }
        source.file = file.map(Path::to_path_buf);
        Ok(source)
    }

    /// Reads instance `name`'s env file (`/etc/sentinel/NAME.env`, or in `SENTINEL_ETC`), which
    /// must exist, and overlays the process environment, as [`Source::load`] does.
    pub fn load_instance(name: &str) -> anyhow::Result<Source> {
        let file = super::instance::env_file(name)?;
        let mut source = Source::load(Some(&file))?;
        source.instance = Some(name.to_string());
        Ok(source)
    }

    /// A source from explicit pairs, as if they came from the environment (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Source {
        let mut source = Source::default();
        for (name, value) in pairs {
            source.values.insert(name.to_string(), (value.to_string(), Origin::Environment));
        }
        source
    }

    /// The same source with `name` set to `value`, as if from the environment (the what-if
    /// settings of `sentinel replay`).
    pub fn with(mut self, name: &str, value: &str) -> Source {
        self.values.insert(name.to_string(), (value.to_string(), Origin::Environment));
        self
    }

    /// The raw value of a variable, with empty values treated as unset (as the original did).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(value, _)| value.trim()).filter(|value| !value.is_empty())
    }

    /// Where a variable's value comes from.
    pub fn origin(&self, name: &str) -> Origin {
        match self.values.get(name) {
            Some((value, origin)) if !value.trim().is_empty() => *origin,
            _ => Origin::Default,
        }
    }

    /// The effective value: set, else the table's default.
    pub fn value(&self, name: &str) -> &str {
        self.raw(name).unwrap_or_else(|| default_of(name))
    }

    /// The `CRON_*` variables that are set.
    pub fn cron(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .filter(|(name, (value, _))| name.starts_with(CRON_PREFIX) && !value.trim().is_empty())
            .map(|(name, (value, _))| (name.as_str(), value.trim()))
    }
}

fn is_known(name: &str) -> bool {
    VARS.iter().any(|def| def.name == name) || name.starts_with(CRON_PREFIX) || name == TEST_CLOCK_VAR
}

fn default_of(name: &str) -> &'static str {
    VARS.iter().find(|def| def.name == name).map(|def| def.default).unwrap_or("")
}

/// Parses a dotenv file: `KEY=VALUE` lines, optional `export `, single or double quotes,
/// `#` comments (inline only after whitespace in unquoted values), blank lines.
pub fn parse_env_file(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            anyhow::bail!("line {}: expected NAME=value", index + 1);
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            anyhow::bail!("line {}: {name:?} is not a variable name", index + 1);
        }
        let value = value.trim();
        let value = if let Some(rest) = value.strip_prefix('"') {
            let end = rest.rfind('"').with_context(|| format!("line {}: unterminated double quote", index + 1))?;
            rest[..end].replace("\\n", "\n").replace("\\\"", "\"")
        } else if let Some(rest) = value.strip_prefix('\'') {
            let end = rest.rfind('\'').with_context(|| format!("line {}: unterminated single quote", index + 1))?;
            rest[..end].to_string()
        } else {
            match value.find(" #") {
                Some(at) => value[..at].trim_end().to_string(),
                None => value.to_string(),
            }
        };
        pairs.push((name.to_string(), value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_syntax() -> anyhow::Result<()> {
        let text = "# comment\n\nexport A=1\nB=\"two words\"\nC='x#y'\nD=plain # trailing\nE=\n";
        let pairs = parse_env_file(text)?;
        let expected = [("A", "1"), ("B", "two words"), ("C", "x#y"), ("D", "plain"), ("E", "")];
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(pairs, expected);
        assert!(parse_env_file("NOT A LINE").is_err());
        Ok(())
    }
}
