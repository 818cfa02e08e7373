//! `sentinel release keygen|pack`: the maintainer's side, used by `cross/release.sh` and the
//! tests. It needs no configuration and touches no database.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::bundle::{self, Manifest};
use super::keys;

/// What `sentinel release` prints for `--help` or a wrong argument.
pub const USAGE: &str = "\
Usage:
  sentinel release keygen --out DIR
        write a new release key pair: DIR/release-ed25519.pk8 (private, mode 0600) and
        DIR/release-ed25519.pub (the 32-byte public key); the private key is never printed
  sentinel release pack --binary BIN --key PRIVATE.pk8 --version V --out FILE
                        [--target TRIPLE] [--min-schema N] [--schema N]
        sign BIN into a release bundle. --target defaults to this binary's own target, the
        schema versions to this binary's (build both from the same commit)";

/// Runs `sentinel release ARGS...`; answers what to print.
pub fn run(args: &[String]) -> anyhow::Result<String> {
    let help = args.iter().any(|arg| arg == "--help" || arg == "-h");
    if help || args.first().is_none_or(|first| first == "help") {
        return Ok(USAGE.to_string());
    }
    let mut flags = std::collections::HashMap::new();
    let mut rest = args.iter().skip(1);
    while let Some(flag) = rest.next() {
        let name = flag.strip_prefix("--").with_context(|| format!("unknown argument {flag:?}\n\n{USAGE}"))?;
        let value = rest.next().with_context(|| format!("{flag} needs a value\n\n{USAGE}"))?;
        flags.insert(name.to_string(), value.clone());
    }
    let output = match args.first().map(String::as_str) {
        Some("keygen") => keygen(&mut flags)?,
        Some("pack") => pack(&mut flags)?,
        _ => bail!("release needs keygen or pack\n\n{USAGE}"),
    };
    if let Some(name) = flags.keys().next() {
        bail!("unknown flag --{name}\n\n{USAGE}");
    }
    Ok(output)
}

type Flags = std::collections::HashMap<String, String>;

fn need(flags: &mut Flags, name: &str) -> anyhow::Result<String> {
    flags.remove(name).with_context(|| format!("--{name} is needed\n\n{USAGE}"))
}

fn keygen(flags: &mut Flags) -> anyhow::Result<String> {
    let dir = PathBuf::from(need(flags, "out")?);
    let (public, id) = keys::keygen(&dir)?;
    let hex = keys::public_hex(&std::fs::read(&public)?);
    Ok(format!(
        "key {id} written: public {} ({hex}); private {} (keep it off the box and out of the repository)",
        public.display(),
        dir.join("release-ed25519.pk8").display()
    ))
}

fn pack(flags: &mut Flags) -> anyhow::Result<String> {
    let (binary, key, version, out) =
        (need(flags, "binary")?, need(flags, "key")?, need(flags, "version")?, need(flags, "out")?);
    if super::version_cmp(&version, &version).is_none() {
        bail!("--version {version:?}: expected MAJOR.MINOR.PATCH, e.g. 0.2.0");
    }
    let target = flags.remove("target").unwrap_or_else(crate::version::target);
    let number = |value: Option<String>, default: i64| -> anyhow::Result<i64> {
        value.map_or(Ok(default), |text| text.parse().with_context(|| format!("{text:?}: expected a schema version")))
    };
    let manifest = Manifest {
        name: "sentinel".into(),
        version,
        arch: arch_of(&target)?,
        target,
        min_schema: number(flags.remove("min-schema"), 0)?,
        schema: number(flags.remove("schema"), crate::db::schema::VERSION)?,
        sha256: String::new(),
        size: 0,
        key_id: String::new(),
        packed_at: jiff::Timestamp::now().to_string(),
    };
    let bytes = std::fs::read(&binary).with_context(|| format!("reading {binary}"))?;
    let pkcs8 = std::fs::read(&key).with_context(|| format!("reading {key}"))?;
    let written = bundle::pack(&bytes, &pkcs8, manifest, &PathBuf::from(&out))?;
    Ok(format!(
        "bundle written: {out}: sentinel {} for {}, {} bytes, sha256 {}, signed by key {}",
        written.version, written.target, written.size, written.sha256, written.key_id
    ))
}

/// The architecture `std::env::consts::ARCH` names for a target triple's first part.
fn arch_of(target: &str) -> anyhow::Result<String> {
    let first = target.split('-').next().unwrap_or_default();
    Ok(match first {
        "aarch64" | "x86_64" | "riscv64" => first.to_string(),
        _ if first.starts_with("arm") || first.starts_with("thumb") => "arm".to_string(),
        "i586" | "i686" => "x86".to_string(),
        _ => bail!("--target {target:?}: unknown architecture {first:?}"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn triples_map_to_the_architecture_std_names() -> anyhow::Result<()> {
        assert_eq!(super::arch_of("aarch64-unknown-linux-musl")?, "aarch64");
        assert_eq!(super::arch_of("armv7-unknown-linux-musleabihf")?, "arm");
        assert_eq!(super::arch_of("x86_64-unknown-linux-gnu")?, "x86_64");
        assert!(super::arch_of("mips-unknown-linux-gnu").is_err());
        Ok(())
    }
}
