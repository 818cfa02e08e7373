//! Verifying GHL's webhook signatures over the raw body (SPEC §3.3, CONTRACT §2.1).
//!
//! `X-GHL-Signature` is Ed25519 and wins when present; the legacy `X-WH-Signature` is
//! RSASSA-PKCS1-v1_5 with SHA-256. Both headers carry base64; the literal `N/A` means none.
//! GHL's published keys are the defaults; `GHL_WEBHOOK_ED25519_KEY` / `GHL_WEBHOOK_RSA_KEY`
//! replace them (PEM or bare base64 of the SPKI DER).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

/// GHL's published Ed25519 webhook key (CONTRACT §2.1).
const GHL_ED25519_KEY: &str = "MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=";

/// GHL's published legacy RSA webhook key (CONTRACT §2.1).
const GHL_RSA_KEY: &str = "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC\
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6\
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB\
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv\
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF\
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU\
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp\
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN\
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC\
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ\
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk\
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==";

/// The result of checking a webhook's signature headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// A header was present and verified.
    Valid,
    /// No signature header (or `N/A`).
    Missing,
    /// A header was present and did not verify.
    Invalid(String),
}

/// The two public keys, decoded once at start.
#[derive(Debug, Clone)]
pub struct Verifier {
    ed25519: Vec<u8>,
    rsa: Vec<u8>,
}

impl Verifier {
    /// Keys from the configuration, else GHL's published ones.
    pub fn new(ed25519: Option<&str>, rsa: Option<&str>) -> Result<Verifier, String> {
        let ed_spki =
            decode_key(ed25519.unwrap_or(GHL_ED25519_KEY)).map_err(|e| format!("GHL_WEBHOOK_ED25519_KEY: {e}"))?;
        let rsa_spki = decode_key(rsa.unwrap_or(GHL_RSA_KEY)).map_err(|e| format!("GHL_WEBHOOK_RSA_KEY: {e}"))?;
        Ok(Verifier {
            ed25519: spki_key_bits(&ed_spki).map_err(|e| format!("GHL_WEBHOOK_ED25519_KEY: {e}"))?,
            rsa: spki_key_bits(&rsa_spki).map_err(|e| format!("GHL_WEBHOOK_RSA_KEY: {e}"))?,
        })
    }

    /// Checks `X-GHL-Signature` (preferred) or `X-WH-Signature` over the raw body.
    pub fn check(&self, ghl_signature: Option<&str>, wh_signature: Option<&str>, body: &[u8]) -> SignatureCheck {
        let (signature, key, algorithm): (_, _, &dyn ring::signature::VerificationAlgorithm) =
            match (present(ghl_signature), present(wh_signature)) {
                (Some(signature), _) => (signature, &self.ed25519, &ED25519),
                (None, Some(signature)) => (signature, &self.rsa, &RSA_PKCS1_2048_8192_SHA256),
                (None, None) => return SignatureCheck::Missing,
            };
        let Ok(signature) = STANDARD.decode(signature) else {
            return SignatureCheck::Invalid("signature is not base64".to_string());
        };
        match UnparsedPublicKey::new(algorithm, key).verify(body, &signature) {
            Ok(()) => SignatureCheck::Valid,
            Err(_) => SignatureCheck::Invalid("signature does not match the body".to_string()),
        }
    }
}

/// A header's value, unless it is absent, empty or GHL's `N/A`.
fn present(header: Option<&str>) -> Option<&str> {
    header.map(str::trim).filter(|value| !value.is_empty() && *value != "N/A")
}

/// PEM (`-----BEGIN PUBLIC KEY-----`) or bare base64 → DER.
fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    let body: String =
        text.lines().filter(|line| !line.starts_with("-----")).flat_map(|line| line.split_whitespace()).collect();
    STANDARD.decode(body).map_err(|_| "expected a PEM public key or its base64".to_string())
}

/// The key inside a SubjectPublicKeyInfo: SEQUENCE { algorithm SEQUENCE, BIT STRING key }.
/// ring wants the raw Ed25519 key or the PKCS#1 RSAPublicKey, which is what the BIT STRING holds.
fn spki_key_bits(der: &[u8]) -> Result<Vec<u8>, String> {
    let (tag, spki, _) = der_item(der)?;
    if tag != 0x30 {
        return Err("not a SubjectPublicKeyInfo".into());
    }
    let (tag, _, rest) = der_item(spki)?;
    if tag != 0x30 {
        return Err("missing algorithm identifier".into());
    }
    let (tag, bits, _) = der_item(rest)?;
    match (tag, bits.split_first()) {
        (0x03, Some((0, key))) => Ok(key.to_vec()),
        _ => Err("missing key bits".into()),
    }
}

/// One DER item: (tag, contents, what follows).
fn der_item(der: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let short = || "truncated DER".to_string();
    let (&tag, rest) = der.split_first().ok_or_else(short)?;
    let (&first, rest) = rest.split_first().ok_or_else(short)?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(short());
        }
        let length = rest[..count].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (length, &rest[count..])
    };
    if rest.len() < length {
        return Err(short());
    }
    Ok((tag, &rest[..length], &rest[length..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair as _};

    /// An SPKI for a raw Ed25519 key: the fixed 12-byte prefix, then the key.
    fn ed25519_spki_base64(public: &[u8]) -> String {
        let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        der.extend_from_slice(public);
        STANDARD.encode(der)
    }

    #[test]
    fn the_published_keys_decode() {
        assert!(Verifier::new(None, None).is_ok());
        assert!(Verifier::new(Some("not a key"), None).is_err());
    }

    #[test]
    fn ed25519_valid_tampered_wrong_key_missing() -> Result<(), String> {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| e.to_string())?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| e.to_string())?;
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            ed25519_spki_base64(pair.public_key().as_ref())
        );
        let verifier = Verifier::new(Some(&pem), None)?;
        let body = br#"{"type":"InboundMessage","body":"hi"}"#;
        let signature = STANDARD.encode(pair.sign(body));
        assert_eq!(verifier.check(Some(&signature), None, body), SignatureCheck::Valid);
        assert!(matches!(verifier.check(Some(&signature), None, b"{\"type\":\"x\"}"), SignatureCheck::Invalid(_)));
        let published = Verifier::new(None, None)?;
        assert!(matches!(published.check(Some(&signature), None, body), SignatureCheck::Invalid(_)));
        assert_eq!(verifier.check(None, None, body), SignatureCheck::Missing);
        assert_eq!(verifier.check(Some("N/A"), None, body), SignatureCheck::Missing);
        assert!(matches!(verifier.check(Some("%%%"), None, body), SignatureCheck::Invalid(_)));
        Ok(())
    }
}
