//! Release keys: making a key pair, and the public keys an update is checked against.
//!
//! Trusted are the `*.pub` files of one keys directory, and nothing else: no key is compiled
//! in, since a key built into every binary is only as good as the one machine that holds its
//! private half (issue 23). The directory is `/usr/share/sentinel/keys` on the image's
//! read-only root (`image/build.sh --trust-key KEY.pub` puts the office's key there), or
//! `SENTINEL_KEYS_DIR` / `sentinel update --keys DIR`. Several keys may be trusted at once; a
//! bundle signed by any of them is accepted, which is how a key is rotated (README "Release
//! keys"). A public key file holds the 32 raw bytes of an Ed25519 key, or the same as 64 hex
//! digits. Private keys are PKCS#8 files that never enter the repository or the box.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use super::digest::{hex, sha256_hex};

/// The keys directory on the image's read-only root.
pub const DEFAULT_KEYS_DIR: &str = "/usr/share/sentinel/keys";

/// The environment variable that names another keys directory.
pub const KEYS_DIR_VAR: &str = "SENTINEL_KEYS_DIR";

/// A public key an update may be signed with.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The 32-byte Ed25519 public key.
    pub public: Vec<u8>,
    /// The file it came from.
    pub origin: String,
    /// Its short id (see [`key_id`]).
    pub id: String,
}

impl TrustedKey {
    /// A key from its raw bytes; refuses anything but 32 bytes.
    pub fn new(public: Vec<u8>, origin: &str) -> anyhow::Result<TrustedKey> {
        if public.len() != 32 {
            bail!("{origin}: an Ed25519 public key is 32 bytes, not {}", public.len());
        }
        Ok(TrustedKey { id: key_id(&public), public, origin: origin.to_string() })
    }
}

/// A key's short id: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(public: &[u8]) -> String {
    sha256_hex(public)[..16].to_string()
}

/// A new key pair: the PKCS#8 document (private) and the raw public key.
pub fn generate() -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| anyhow::format_err!("generating an Ed25519 key failed"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|err| anyhow::format_err!("{err}"))?;
    Ok((pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec()))
}

/// `sentinel release keygen --out DIR`: writes `release-ed25519.pk8` (mode 0600) and
/// `release-ed25519.pub` in `dir`, refusing to overwrite either; answers the public key's
/// path and id. The private key is never printed.
pub fn keygen(dir: &Path) -> anyhow::Result<(PathBuf, String)> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (private, public) = generate()?;
    let (private_path, public_path) = (dir.join("release-ed25519.pk8"), dir.join("release-ed25519.pub"));
    for path in [&private_path, &public_path] {
        if path.exists() {
            bail!("{} exists; refusing to overwrite a key", path.display());
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private_path)
        .with_context(|| format!("creating {}", private_path.display()))?;
    file.write_all(&private)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", private_path.display()))?;
    std::fs::write(&public_path, &public).with_context(|| format!("writing {}", public_path.display()))?;
    Ok((public_path, key_id(&public)))
}

/// The keys directory in force: `SENTINEL_KEYS_DIR`, else [`DEFAULT_KEYS_DIR`].
pub fn keys_dir() -> PathBuf {
    std::env::var_os(KEYS_DIR_VAR).filter(|dir| !dir.is_empty()).map_or_else(|| DEFAULT_KEYS_DIR.into(), PathBuf::from)
}

/// Every trusted key: the `*.pub` files of `dir` in name order. A missing directory holds
/// none; an unreadable or malformed key file is an error, so a broken key is never silently
/// ignored.
pub fn trusted(dir: &Path) -> anyhow::Result<Vec<TrustedKey>> {
    let mut keys = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(err) => return Err(err).with_context(|| format!("listing {}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "pub"))
        .collect();
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        keys.push(TrustedKey::new(decode(&bytes), &path.display().to_string())?);
    }
    Ok(keys)
}

/// The trusted keys, refusing none: with no key trusted, no update can be installed, and the
/// error says what to do, on one line.
pub fn trusted_or_explain(dir: &Path) -> anyhow::Result<Vec<TrustedKey>> {
    let keys = trusted(dir)?;
    if keys.is_empty() {
        bail!("{}", no_key_sentence(dir));
    }
    Ok(keys)
}

/// What to do when no key is trusted; one line, for `sentinel update`, `check-config` and the
/// automatic update's log.
pub fn no_key_sentence(dir: &Path) -> String {
    format!(
        "no release key is trusted (no *.pub in {dir}), so every update is refused: make the office's key once \
         with `sentinel release keygen --out DIR` (keep the .pk8 off the box), then build the image with \
         `image/build.sh --trust-key DIR/release-ed25519.pub`, or copy that .pub into {dir}",
        dir = dir.display()
    )
}

/// One line for `check-config`: the keys trusted, or a warning that none is.
pub fn describe(dir: &Path) -> String {
    match trusted(dir) {
        Ok(keys) if keys.is_empty() => format!("# warning: {}", no_key_sentence(dir)),
        Ok(keys) => {
            let ids: Vec<String> = keys.iter().map(|key| format!("{} ({})", key.id, key.origin)).collect();
            format!("# release keys: updates signed by any of {} trusted: {}", keys.len(), ids.join(", "))
        }
        Err(err) => format!("# warning: release keys: {err:#}; every update is refused until it is fixed"),
    }
}

/// Raw bytes as they are, or 64 hex digits (with surrounding white space) as 32 bytes.
fn decode(bytes: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).map(str::trim).unwrap_or("");
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..32).filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()).collect();
    }
    bytes.to_vec()
}

/// The public key as hex, for people.
pub fn public_hex(public: &[u8]) -> String {
    hex(public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_a_private_key_only_its_owner_reads_and_refuses_to_overwrite() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir()?;
        let (public, id) = keygen(dir.path())?;
        assert_eq!(std::fs::read(&public)?.len(), 32);
        assert_eq!(id.len(), 16);
        let mode = std::fs::metadata(dir.path().join("release-ed25519.pk8"))?.permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(keygen(dir.path()).is_err());
        let keys = trusted(dir.path())?;
        assert!(keys.iter().any(|key| key.id == id));
        Ok(())
    }

    #[test]
    fn a_hex_key_file_is_read_and_a_short_one_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (_, public) = generate()?;
        std::fs::write(dir.path().join("a.pub"), format!("{}\n", public_hex(&public)))?;
        assert!(trusted(dir.path())?.iter().any(|key| key.public == public));
        std::fs::write(dir.path().join("b.pub"), [1u8; 31])?;
        assert!(trusted(dir.path()).is_err());
        Ok(())
    }
}
