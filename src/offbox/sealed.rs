//! The off-box copy's file format: a small archive of the database and the env file, encrypted
//! with a key derived from `OFFBOX_ENCRYPTION_KEY`, so the bucket's holder reads nothing.
//!
//! [`seal`] writes one copy and [`open`] reads it back; both stream, so a database of any size
//! passes through a 64 KiB buffer (the service runs under `MemoryMax=256M`). The layout, all
//! integers big-endian:
//!
//! ```text
//! header   "SENTINEL-OFFBOX\0"       16 bytes, the format's name and version 1
//!          PBKDF2 iterations          4 bytes
//!          salt                      16 bytes, random for each copy
//!          key check                 32 bytes, HMAC-SHA256(master, "sentinel off-box key check")
//! chunks   ChaCha20-Poly1305 of 64 KiB of the archive each (the last one shorter, maybe
//!          empty), every one with its 16-byte tag, the header as associated data, and the
//!          nonce counter (8 bytes) ‖ 0 0 0 ‖ last (1 byte): the STREAM construction, so chunks
//!          cannot be reordered, dropped or cut off unnoticed
//! ```
//!
//! The master key is PBKDF2-HMAC-SHA256 of the passphrase and the salt; the chunk key is
//! HMAC-SHA256(master, "sentinel off-box encryption key"). A fresh salt gives every copy its
//! own key. The key check tells a wrong passphrase from a damaged copy before any data is read.
//!
//! The archive inside is a list of entries, each a name length (2 bytes), the name (UTF-8), a
//! data length (8 bytes) and the data, ended by an empty name: `manifest.json` first, then
//! `sentinel.db` and, when the service had one, `sentinel.env`. Unknown entries are skipped.

use std::io::{self, Read, Write};
use std::num::NonZeroU32;
use std::path::Path;

use anyhow::{Context as _, bail, ensure};
use jiff::Timestamp;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::{hmac, pbkdf2};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// What a copy says about itself, readable only with the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The version of Sentinel that sealed it.
    pub sentinel_version: String,
    /// When it was sealed.
    pub created_at: Timestamp,
    /// The nightly backup's date.
    pub backup_date: Option<jiff::civil::Date>,
    /// Where the env file was on the box that sealed it, if it had one.
    pub env_file: Option<String>,
}

/// What [`open`] found besides the database.
#[derive(Debug)]
pub struct Opened {
    /// The copy's manifest.
    pub manifest: Manifest,
    /// The env file's bytes, if the copy has one.
    pub env: Option<Vec<u8>>,
}

const MAGIC: &[u8; 16] = b"SENTINEL-OFFBOX\0";
const SALT_LEN: usize = 16;
const CHECK_LEN: usize = 32;
const HEADER_LEN: usize = MAGIC.len() + 4 + SALT_LEN + CHECK_LEN;
/// Plaintext bytes per chunk.
const CHUNK: usize = 64 * 1024;
const TAG_LEN: usize = 16;
/// PBKDF2 rounds for new copies: a passphrase typed by a person still costs a guesser dearly,
/// and the box pays about 400,000 SHA-256 blocks once a night, a fraction of a second even
/// without the CPU's SHA instructions. (Unit tests, unoptimised, use fewer.)
const ITERATIONS: u32 = if cfg!(test) { 10_000 } else { 200_000 };
/// What [`open`] accepts, so a forged header cannot make it spin for hours.
const ITERATIONS_ACCEPTED: std::ops::RangeInclusive<u32> = 10_000..=10_000_000;
/// The largest manifest or env file read into memory.
const SMALL_ENTRY_MAX: u64 = 1024 * 1024;

const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "sentinel.db";
const ENV_FILE: &str = "sentinel.env";

/// Writes a sealed copy of the database file at `database` (and `env`, when given) to `out`.
pub fn seal(
    passphrase: &Secret,
    manifest: &Manifest,
    database: &Path,
    env: Option<&[u8]>,
    out: impl Write,
) -> anyhow::Result<()> {
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new().fill(&mut salt).map_err(|_| anyhow::format_err!("no randomness for the salt"))?;
    let keys = Keys::derive(passphrase, &salt, ITERATIONS)?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&ITERATIONS.to_be_bytes());
    header.extend_from_slice(&salt);
    header.extend_from_slice(keys.check.as_ref());
    let mut out = out;
    out.write_all(&header).context("writing the header")?;
    let mut sealer = Sealer { out, key: keys.chunk, aad: header, buf: Vec::with_capacity(CHUNK + TAG_LEN), counter: 0 };

    let manifest = serde_json::to_vec(manifest).context("writing the manifest")?;
    put_entry(&mut sealer, MANIFEST, manifest.len() as u64, &mut manifest.as_slice())?;
    let mut file = std::fs::File::open(database).with_context(|| format!("opening {}", database.display()))?;
    let size = file.metadata().with_context(|| format!("reading {}", database.display()))?.len();
    put_entry(&mut sealer, DATABASE, size, &mut file).with_context(|| format!("sealing {}", database.display()))?;
    if let Some(mut env) = env {
        put_entry(&mut sealer, ENV_FILE, env.len() as u64, &mut env)?;
    }
    sealer.write_all(&0u16.to_be_bytes())?;
    sealer.finish().context("writing the last chunk")?.flush().context("writing the copy")?;
    Ok(())
}

/// Reads a sealed copy from `input`: the database goes to a new file at `database`, the rest is
/// returned. A wrong passphrase is told apart from a damaged copy. On error `database` may hold
/// part of the data; the caller removes it.
pub fn open(passphrase: &Secret, input: impl Read, database: &Path) -> anyhow::Result<Opened> {
    let mut opener = opener(passphrase, input)?;
    let mut manifest = None;
    let mut env = None;
    let mut database_written = false;
    loop {
        let mut length = [0u8; 2];
        opener.read_exact(&mut length).context("reading the copy")?;
        let name_len = usize::from(u16::from_be_bytes(length));
        if name_len == 0 {
            break;
        }
        let mut name = vec![0u8; name_len];
        opener.read_exact(&mut name).context("reading the copy")?;
        let mut size = [0u8; 8];
        opener.read_exact(&mut size).context("reading the copy")?;
        let size = u64::from_be_bytes(size);
        let mut data = (&mut opener).take(size);
        match name.as_slice() {
            name if name == DATABASE.as_bytes() => {
                let mut file = std::fs::File::options()
                    .write(true)
                    .create_new(true)
                    .open(database)
                    .with_context(|| format!("creating {}", database.display()))?;
                let copied = io::copy(&mut data, &mut file).context("reading the copy's database")?;
                ensure!(copied == size, "the copy is cut short");
                file.sync_all().with_context(|| format!("syncing {}", database.display()))?;
                database_written = true;
            }
            name if name == MANIFEST.as_bytes() || name == ENV_FILE.as_bytes() => {
                ensure!(size <= SMALL_ENTRY_MAX, "the copy's {} is too large", String::from_utf8_lossy(name));
                let mut bytes = Vec::new();
                data.read_to_end(&mut bytes).context("reading the copy")?;
                ensure!(bytes.len() as u64 == size, "the copy is cut short");
                if name == MANIFEST.as_bytes() {
                    manifest = Some(serde_json::from_slice(&bytes).context("reading the copy's manifest")?);
                } else {
                    env = Some(bytes);
                }
            }
            // A later format's extra entry: not ours to restore.
            _ => {
                io::copy(&mut data, &mut io::sink()).context("reading the copy")?;
            }
        }
    }
    opener.finish()?;
    ensure!(database_written, "the copy holds no database");
    let manifest = manifest.context("the copy has no manifest")?;
    Ok(Opened { manifest, env })
}

/// How much of a copy [`read_manifest`] needs: the header and the first chunk.
pub const MANIFEST_BYTES: u64 = (HEADER_LEN + CHUNK + TAG_LEN) as u64;

/// Reads only a copy's manifest from its first [`MANIFEST_BYTES`] (the whole copy will do as
/// well): authenticated by the key like the rest, so whoever can write to the bucket but lacks
/// the key can neither forge nor alter it. A restore of `latest` picks by it, not by names.
pub fn read_manifest(passphrase: &Secret, input: impl Read) -> anyhow::Result<Manifest> {
    let mut opener = opener(passphrase, input.take(MANIFEST_BYTES))?;
    let mut length = [0u8; 2];
    opener.read_exact(&mut length).context("reading the copy")?;
    let mut name = vec![0u8; usize::from(u16::from_be_bytes(length))];
    opener.read_exact(&mut name).context("reading the copy")?;
    ensure!(name == MANIFEST.as_bytes(), "the copy does not start with its manifest");
    let mut size = [0u8; 8];
    opener.read_exact(&mut size).context("reading the copy")?;
    let size = u64::from_be_bytes(size);
    ensure!(size <= SMALL_ENTRY_MAX, "the copy's manifest is too large");
    let mut bytes = Vec::new();
    (&mut opener).take(size).read_to_end(&mut bytes).context("reading the copy's manifest")?;
    ensure!(bytes.len() as u64 == size, "the copy's manifest is cut short");
    serde_json::from_slice(&bytes).context("reading the copy's manifest")
}

/// Reads a copy's header, checks the key against it, and answers the reader of its chunks.
fn opener<R: Read>(passphrase: &Secret, mut input: R) -> anyhow::Result<Opener<R>> {
    let mut header = [0u8; HEADER_LEN];
    input.read_exact(&mut header).map_err(|_| anyhow::format_err!("not an off-box copy of Sentinel (too short)"))?;
    ensure!(header.starts_with(MAGIC), "not an off-box copy of Sentinel (unknown format)");
    let mut field = [0u8; 4];
    field.copy_from_slice(&header[MAGIC.len()..MAGIC.len() + 4]);
    let iterations = u32::from_be_bytes(field);
    ensure!(ITERATIONS_ACCEPTED.contains(&iterations), "the copy's header is damaged");
    let salt = &header[MAGIC.len() + 4..MAGIC.len() + 4 + SALT_LEN];
    let check = &header[HEADER_LEN - CHECK_LEN..];
    let keys = Keys::derive(passphrase, salt, iterations)?;
    if hmac::verify(&keys.master, KEY_CHECK_LABEL, check).is_err() {
        bail!("OFFBOX_ENCRYPTION_KEY does not open this copy: it was sealed with another key");
    }
    Ok(Opener { input, key: keys.chunk, aad: header.to_vec(), plain: Vec::new(), at: 0, counter: 0, last_seen: false })
}

const KEY_CHECK_LABEL: &[u8] = b"sentinel off-box key check";
const CHUNK_KEY_LABEL: &[u8] = b"sentinel off-box encryption key";

/// The keys of one copy.
struct Keys {
    master: hmac::Key,
    chunk: LessSafeKey,
    check: hmac::Tag,
}

impl Keys {
    fn derive(passphrase: &Secret, salt: &[u8], iterations: u32) -> anyhow::Result<Keys> {
        let rounds = NonZeroU32::new(iterations).context("no PBKDF2 rounds")?;
        let mut master = [0u8; 32];
        pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, rounds, salt, passphrase.expose().as_bytes(), &mut master);
        let master = hmac::Key::new(hmac::HMAC_SHA256, &master);
        let chunk_key = hmac::sign(&master, CHUNK_KEY_LABEL);
        let chunk = UnboundKey::new(&CHACHA20_POLY1305, chunk_key.as_ref())
            .map_err(|_| anyhow::format_err!("deriving the encryption key"))?;
        let check = hmac::sign(&master, KEY_CHECK_LABEL);
        Ok(Keys { master, chunk: LessSafeKey::new(chunk), check })
    }
}

/// The nonce of chunk `counter`; the last chunk is marked, so a copy cut at a chunk boundary
/// does not open.
fn nonce(counter: u64, last: bool) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&counter.to_be_bytes());
    bytes[11] = u8::from(last);
    Nonce::assume_unique_for_key(bytes)
}

fn put_entry(out: &mut impl Write, name: &str, size: u64, data: &mut impl Read) -> anyhow::Result<()> {
    let name_len = u16::try_from(name.len()).context("entry name too long")?;
    out.write_all(&name_len.to_be_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&size.to_be_bytes())?;
    let copied = io::copy(&mut data.take(size), out)?;
    // The database may not change under us (it is a finished nightly file), but say so if it did.
    ensure!(copied == size, "{name} changed while it was being sealed");
    Ok(())
}

/// Encrypts what is written to it, a chunk at a time.
struct Sealer<W: Write> {
    out: W,
    key: LessSafeKey,
    aad: Vec<u8>,
    buf: Vec<u8>,
    counter: u64,
}

impl<W: Write> Sealer<W> {
    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let nonce = nonce(self.counter, last);
        self.counter = self.counter.checked_add(1).ok_or_else(|| io::Error::other("the copy is too large"))?;
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(self.aad.as_slice()), &mut self.buf)
            .map_err(|_| io::Error::other("encrypting a chunk"))?;
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Writes the last chunk (shorter than a full one, maybe empty) and returns the output.
    fn finish(mut self) -> io::Result<W> {
        self.seal_chunk(true)?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Sealer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let taken = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..taken]);
        // A full chunk is never the last one: the last is always shorter, maybe empty.
        if self.buf.len() == CHUNK {
            self.seal_chunk(false)?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Decrypts a copy's chunks as they are read.
struct Opener<R: Read> {
    input: R,
    key: LessSafeKey,
    aad: Vec<u8>,
    plain: Vec<u8>,
    at: usize,
    counter: u64,
    last_seen: bool,
}

fn damaged(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("the copy is damaged or incomplete ({why})"))
}

impl<R: Read> Opener<R> {
    /// Reads and opens the next chunk; false at the end of the last one.
    fn next_chunk(&mut self) -> io::Result<bool> {
        if self.last_seen {
            return Ok(false);
        }
        self.plain.clear();
        self.plain.resize(CHUNK + TAG_LEN, 0);
        let mut filled = 0;
        while filled < self.plain.len() {
            match self.input.read(&mut self.plain[filled..]) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        if filled < TAG_LEN {
            return Err(damaged("it ends early"));
        }
        let last = filled < CHUNK + TAG_LEN;
        let nonce = nonce(self.counter, last);
        self.counter += 1;
        let opened = self
            .key
            .open_in_place(nonce, Aad::from(self.aad.as_slice()), &mut self.plain[..filled])
            .map_err(|_| damaged("a chunk does not authenticate"))?
            .len();
        self.plain.truncate(opened);
        self.at = 0;
        self.last_seen = last;
        Ok(true)
    }

    /// Checks that the archive's end is the copy's end: nothing more, nothing missing.
    fn finish(mut self) -> anyhow::Result<()> {
        while self.at == self.plain.len() && self.next_chunk()? {}
        ensure!(self.at == self.plain.len(), damaged("data after the end"));
        let mut extra = [0u8; 1];
        ensure!(self.input.read(&mut extra)? == 0, damaged("bytes after the last chunk"));
        Ok(())
    }
}

impl<R: Read> Read for Opener<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let count = out.len().min(self.plain.len() - self.at);
        out[..count].copy_from_slice(&self.plain[self.at..self.at + count]);
        self.at += count;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            sentinel_version: "0.1.0".into(),
            created_at: Timestamp::UNIX_EPOCH,
            backup_date: None,
            env_file: Some("/etc/sentinel/sentinel.env".into()),
        }
    }

    /// Seals `size` bytes of a recognisable database and an env file.
    fn sealed(dir: &Path, size: usize, key: &str) -> anyhow::Result<Vec<u8>> {
        let database = dir.join("source.db");
        let data: Vec<u8> = (0..size).map(|n| (n % 251) as u8).collect();
        std::fs::write(&database, &data)?;
        let mut out = Vec::new();
        seal(&Secret::new(key), &manifest(), &database, Some(b"GHL_TOKEN=pit-secret\n"), &mut out)?;
        Ok(out)
    }

    fn opened(copy: &[u8], key: &str, dir: &Path) -> anyhow::Result<(Opened, Vec<u8>)> {
        let dest = dir.join("restored.db");
        let _ = std::fs::remove_file(&dest);
        let opened = open(&Secret::new(key), copy, &dest)?;
        Ok((opened, std::fs::read(&dest)?))
    }

    const KEY: &str = "correct-horse-battery-staple";

    #[test]
    fn a_copy_opens_whole_at_every_chunk_boundary() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        for size in [0, 1, CHUNK - 60, CHUNK, 2 * CHUNK + 7, 3 * CHUNK] {
            let copy = sealed(dir.path(), size, KEY)?;
            let (opened, database) = opened(&copy, KEY, dir.path())?;
            assert_eq!(database, std::fs::read(dir.path().join("source.db"))?, "{size} bytes");
            assert_eq!(opened.env.as_deref(), Some(&b"GHL_TOKEN=pit-secret\n"[..]));
            assert_eq!(opened.manifest, manifest());
        }
        Ok(())
    }

    #[test]
    fn nothing_inside_is_readable_and_each_copy_has_its_own_key() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let first = sealed(dir.path(), 1000, KEY)?;
        let second = sealed(dir.path(), 1000, KEY)?;
        let text = String::from_utf8_lossy(&first);
        assert!(!text.contains("pit-secret") && !text.contains("manifest"), "{text}");
        assert_ne!(first[HEADER_LEN..], second[HEADER_LEN..], "a fresh salt, a fresh key");
        Ok(())
    }

    /// The manifest reads from the copy's first bytes alone, whatever its size, and only
    /// with the key: a forged or altered one does not read.
    #[test]
    fn the_manifest_reads_from_the_first_chunk_and_only_with_the_key() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        for size in [0, 1000, 3 * CHUNK + 5] {
            let copy = sealed(dir.path(), size, KEY)?;
            let head = &copy[..copy.len().min(MANIFEST_BYTES as usize)];
            assert_eq!(read_manifest(&Secret::new(KEY), head)?, manifest(), "{size} bytes");
            assert_eq!(read_manifest(&Secret::new(KEY), copy.as_slice())?, manifest(), "{size} bytes, whole");
            let wrong = read_manifest(&Secret::new("another-key-of-some-length"), head).err().map(|e| format!("{e:#}"));
            assert!(wrong.unwrap_or_default().contains("sealed with another key"));
            let mut flipped = copy.clone();
            flipped[HEADER_LEN + 20] ^= 1;
            let forged = read_manifest(&Secret::new(KEY), &flipped[..head.len()]).err().map(|e| format!("{e:#}"));
            assert!(forged.unwrap_or_default().contains("damaged"), "{size} bytes");
        }
        Ok(())
    }

    #[test]
    fn a_wrong_key_is_told_apart_from_damage() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let copy = sealed(dir.path(), 3 * CHUNK + 5, KEY)?;
        let message = |copy: &[u8], key: &str| match opened(copy, key, dir.path()) {
            Ok(_) => String::new(),
            Err(err) => format!("{err:#}"),
        };
        assert!(message(&copy, "another-key-of-some-length").contains("sealed with another key"));
        let mut flipped = copy.clone();
        flipped[HEADER_LEN + CHUNK + 40] ^= 1;
        assert!(message(&flipped, KEY).contains("damaged"), "{}", message(&flipped, KEY));
        // Cut at a chunk boundary: the last chunk is missing.
        let cut = &copy[..HEADER_LEN + 2 * (CHUNK + TAG_LEN)];
        assert!(message(cut, KEY).contains("damaged"), "{}", message(cut, KEY));
        let mut longer = copy.clone();
        longer.push(0);
        assert!(message(&longer, KEY).contains("damaged"), "{}", message(&longer, KEY));
        assert!(message(b"SQLite format 3\0 and so on, long enough", KEY).contains("not an off-box copy"));
        Ok(())
    }
}
