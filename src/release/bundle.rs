//! The release bundle: one file holding a manifest, its Ed25519 signature and the binary.
//!
//! The format is ours and small enough to read with `head`:
//!
//! ```text
//! sentinel-bundle 1\n
//! manifest <length>\n<length bytes of JSON>\n
//! signature <length>\n<64 bytes>\n
//! binary <length>\n<length bytes>\n
//! ```
//!
//! Lengths are decimal. The signature covers the manifest's exact bytes, and the manifest
//! names the binary's SHA-256 and size, so one signature vouches for everything. Nothing may
//! follow the binary. [`read`] checks the framing, [`Bundle::verify`] the signature against
//! the trusted keys, and the manifest's own checks (architecture, version, schema) are in
//! `install`.

use std::io::{BufRead, Read, Write};
use std::path::Path;

use anyhow::{Context as _, bail, ensure};
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

pub use super::digest::sha256_hex;
use super::keys::{TrustedKey, key_id};

/// The first line of every bundle.
const MAGIC: &str = "sentinel-bundle 1";
/// The largest manifest read.
const MAX_MANIFEST: u64 = 64 * 1024;
/// The largest binary accepted: today's is about 8 MB, and the service may use 256 MB at most
/// (`MemoryMax=`), the whole bundle held in memory while it is checked.
pub const MAX_BINARY: u64 = 48 * 1024 * 1024;

/// What a release says about itself; signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `sentinel`.
    pub name: String,
    /// The release's version, e.g. `0.2.0`.
    pub version: String,
    /// The target triple it was built for, e.g. `aarch64-unknown-linux-musl`.
    pub target: String,
    /// The CPU architecture as `std::env::consts::ARCH` names it, e.g. `aarch64`.
    pub arch: String,
    /// The lowest database schema version it can migrate from.
    pub min_schema: i64,
    /// The schema version it writes.
    pub schema: i64,
    /// The binary's SHA-256, lowercase hex.
    pub sha256: String,
    /// The binary's size in bytes.
    pub size: u64,
    /// The signing key's id (see `keys::key_id`), to name it when it is not trusted.
    pub key_id: String,
    /// When it was packed (RFC 3339).
    pub packed_at: String,
}

/// A bundle read whole, signature not yet checked.
#[derive(Debug)]
pub struct Bundle {
    /// The manifest's exact bytes, as signed.
    pub manifest_bytes: Vec<u8>,
    /// The manifest parsed.
    pub manifest: Manifest,
    /// The signature over `manifest_bytes`.
    pub signature: Vec<u8>,
    /// The binary.
    pub binary: Vec<u8>,
}

impl Bundle {
    /// Checks the signature against `keys` and the binary against the manifest's size and
    /// SHA-256; answers the key that signed it.
    pub fn verify<'k>(&self, keys: &'k [TrustedKey]) -> anyhow::Result<&'k TrustedKey> {
        let signer = keys.iter().find(|key| {
            UnparsedPublicKey::new(&ED25519, &key.public).verify(&self.manifest_bytes, &self.signature).is_ok()
        });
        let Some(signer) = signer else {
            let trusted: Vec<String> = keys.iter().map(|key| format!("{} ({})", key.id, key.origin)).collect();
            bail!(
                "bad signature: no key this box trusts signed this bundle (it names key {}; trusted here: {})",
                self.manifest.key_id,
                if trusted.is_empty() { "none".to_string() } else { trusted.join(", ") }
            );
        };
        ensure!(
            self.binary.len() as u64 == self.manifest.size,
            "the binary is {} bytes but the signed manifest says {}",
            self.binary.len(),
            self.manifest.size
        );
        let sha = sha256_hex(&self.binary);
        ensure!(
            sha == self.manifest.sha256,
            "the binary's SHA-256 is {sha} but the signed manifest says {}",
            self.manifest.sha256
        );
        Ok(signer)
    }
}

/// Builds the manifest for `binary`, signs it with the PKCS#8 key and writes the bundle to
/// `out` (through a temporary file and a rename).
pub fn pack(binary: &[u8], pkcs8: &[u8], mut manifest: Manifest, out: &Path) -> anyhow::Result<Manifest> {
    // A box refuses a bigger binary (`open`), so a bundle of one would only fail there.
    anyhow::ensure!(
        binary.len() as u64 <= MAX_BINARY,
        "the binary is {} bytes; a box takes at most {MAX_BINARY} (48 MiB): build it with the release profile",
        binary.len()
    );
    let pair =
        Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|err| anyhow::format_err!("reading the private key: {err}"))?;
    manifest.sha256 = sha256_hex(binary);
    manifest.size = binary.len() as u64;
    manifest.key_id = key_id(ring::signature::KeyPair::public_key(&pair).as_ref());
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let signature = pair.sign(&manifest_bytes);
    let temp = out.with_extension("partial");
    let mut file = std::fs::File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
    write_bundle(&mut file, &manifest_bytes, signature.as_ref(), binary)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, out).with_context(|| format!("renaming {} to {}", temp.display(), out.display()))?;
    Ok(manifest)
}

fn write_bundle(out: &mut impl Write, manifest: &[u8], signature: &[u8], binary: &[u8]) -> std::io::Result<()> {
    writeln!(out, "{MAGIC}")?;
    for (name, bytes) in [("manifest", manifest), ("signature", signature), ("binary", binary)] {
        writeln!(out, "{name} {}", bytes.len())?;
        out.write_all(bytes)?;
        writeln!(out)?;
    }
    Ok(())
}

/// Reads a bundle file whole and checks its framing; the signature is checked by
/// [`Bundle::verify`].
pub fn read(path: &Path) -> anyhow::Result<Bundle> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut input = std::io::BufReader::new(file);
    let mut magic = String::new();
    input.by_ref().take(64).read_line(&mut magic)?;
    ensure!(magic.trim_end() == MAGIC, "not a Sentinel release bundle (it does not start with {MAGIC:?})");
    let manifest_bytes = section(&mut input, "manifest", MAX_MANIFEST)?;
    let signature = section(&mut input, "signature", 1024)?;
    let binary = section(&mut input, "binary", MAX_BINARY)?;
    let mut rest = [0u8; 1];
    ensure!(input.read(&mut rest)? == 0, "the bundle has bytes after the binary");
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).context("reading the bundle's manifest")?;
    Ok(Bundle { manifest_bytes, manifest, signature, binary })
}

/// One `name length\n bytes \n` section.
fn section(input: &mut impl BufRead, name: &str, max: u64) -> anyhow::Result<Vec<u8>> {
    let mut line = String::new();
    input.take(64).read_line(&mut line)?;
    ensure!(!line.is_empty(), "the bundle is truncated: its {name} section is missing");
    let length = line
        .trim_end()
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(' '))
        .and_then(|length| length.parse::<u64>().ok())
        .with_context(|| format!("the bundle is damaged: expected its {name} section, found {:?}", line.trim_end()))?;
    ensure!(length <= max, "the bundle's {name} section is {length} bytes, more than the {max} allowed");
    // Grown as bytes arrive: a length that lies costs nothing before they do.
    let mut bytes = Vec::new();
    input.take(length).read_to_end(&mut bytes)?;
    ensure!(
        bytes.len() as u64 == length,
        "the bundle is truncated: its {name} section has {} of {length} bytes",
        bytes.len()
    );
    let mut newline = [0u8; 1];
    let ends = input.read(&mut newline)?;
    ensure!(ends == 1 && newline[0] == b'\n', "the bundle is truncated or damaged after its {name} section");
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::super::keys::{TrustedKey, generate};
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            name: "sentinel".into(),
            version: "1.2.3".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            arch: "x86_64".into(),
            min_schema: 0,
            schema: 10,
            sha256: String::new(),
            size: 0,
            key_id: String::new(),
            packed_at: "2026-11-27T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_packed_bundle_reads_back_and_verifies() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (pkcs8, public) = generate()?;
        let out = dir.path().join("b.bundle");
        let written = pack(b"\x7fELF binary", &pkcs8, manifest(), &out)?;
        let bundle = read(&out)?;
        assert_eq!(bundle.manifest, written);
        assert_eq!(bundle.binary, b"\x7fELF binary");
        let trusted = [TrustedKey::new(public, "test")?];
        assert_eq!(bundle.verify(&trusted)?.origin, "test");
        let (_, other) = generate()?;
        let err = bundle.verify(&[TrustedKey::new(other, "other")?]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("bad signature"), "{err}");
        Ok(())
    }

    #[test]
    fn a_binary_no_box_would_take_is_not_packed() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (pkcs8, _) = generate()?;
        let out = dir.path().join("big.bundle");
        let big = vec![0u8; MAX_BINARY as usize + 1];
        let err = pack(&big, &pkcs8, manifest(), &out).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("a box takes at most"), "{err}");
        assert!(!out.exists());
        Ok(())
    }

    #[test]
    fn truncated_or_tampered_bundles_are_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (pkcs8, public) = generate()?;
        let out = dir.path().join("b.bundle");
        pack(&[7u8; 1000], &pkcs8, manifest(), &out)?;
        let whole = std::fs::read(&out)?;
        for cut in [0, 5, 30, whole.len() / 2, whole.len() - 1] {
            std::fs::write(&out, &whole[..cut])?;
            let err = read(&out).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("truncated") || err.contains("not a Sentinel"), "cut at {cut}: {err}");
        }
        let mut tampered = whole.clone();
        let last = tampered.len() - 2;
        tampered[last] ^= 1;
        std::fs::write(&out, &tampered)?;
        let err = read(&out)?.verify(&[TrustedKey::new(public, "t")?]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("SHA-256"), "{err}");
        Ok(())
    }
}
