//! Managers' PINs: generated, checked for shape, and kept only as a salted, slow hash.
//!
//! The hash is PBKDF2-HMAC-SHA256 from `ring` (already in the tree), written as
//! `pbkdf2-sha256$ITERATIONS$SALT$HASH` with base64 parts, so the cost can be raised later
//! without breaking the PINs already set. A PIN has few digits, so its hash only slows down
//! someone who copied the database; over HTTP, `gate` bounds how many are checked a minute.

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::pbkdf2;
use ring::rand::{SecureRandom as _, SystemRandom};

/// Iterations for new hashes: about 0.1 s on a Raspberry Pi 4 core.
const ITERATIONS: u32 = 100_000;
/// Digits in a generated PIN.
const GENERATED_DIGITS: usize = 8;
/// The fewest digits a chosen PIN may have.
pub const MIN_DIGITS: usize = 8;
/// The most digits a PIN may have.
pub const MAX_DIGITS: usize = 12;
const SCHEME: &str = "pbkdf2-sha256";

/// Says what is wrong with a chosen PIN, if anything.
pub fn check_shape(pin: &str) -> Result<(), String> {
    if !pin.bytes().all(|b| b.is_ascii_digit()) || !(MIN_DIGITS..=MAX_DIGITS).contains(&pin.len()) {
        return Err(format!("a PIN is {MIN_DIGITS} to {MAX_DIGITS} digits"));
    }
    Ok(())
}

/// A new random PIN of [`GENERATED_DIGITS`] digits.
pub fn generate() -> anyhow::Result<String> {
    let random = SystemRandom::new();
    let mut pin = String::with_capacity(GENERATED_DIGITS);
    while pin.len() < GENERATED_DIGITS {
        let mut byte = [0u8; 1];
        random.fill(&mut byte).map_err(|_| anyhow::format_err!("no randomness for a PIN"))?;
        // 250 is the largest multiple of 10 a byte holds: rejecting above it keeps digits uniform.
        if byte[0] < 250 {
            pin.push(char::from(b'0' + byte[0] % 10));
        }
    }
    Ok(pin)
}

/// The stored form of `pin`, with a fresh salt.
pub fn hash(pin: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).map_err(|_| anyhow::format_err!("no randomness for a salt"))?;
    let mut out = [0u8; 32];
    let iterations = NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, pin.as_bytes(), &mut out);
    Ok(format!("{SCHEME}${ITERATIONS}${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(out)))
}

/// Whether `pin` matches the stored hash; a malformed hash matches nothing.
pub fn verify(pin: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(SCHEME), Some(iterations), Some(salt), Some(expected), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(iterations), Ok(salt), Ok(expected)) = (
        iterations.parse().ok().and_then(NonZeroU32::new),
        STANDARD_NO_PAD.decode(salt),
        STANDARD_NO_PAD.decode(expected),
    ) else {
        return false;
    };
    pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, pin.as_bytes(), &expected).is_ok()
}

/// Spends the time of one [`verify`] on nothing, so an unknown name answers as slowly as a
/// known one with a wrong PIN.
pub fn waste_one_check(pin: &str) {
    let mut out = [0u8; 32];
    let iterations = NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, b"sentinel-no-such", pin.as_bytes(), &mut out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_checks_its_own_pin_only() -> anyhow::Result<()> {
        let stored = hash("12345678")?;
        assert!(stored.starts_with("pbkdf2-sha256$100000$"), "{stored}");
        assert!(verify("12345678", &stored));
        assert!(!verify("12345679", &stored));
        assert_ne!(hash("12345678")?, stored, "each hash has its own salt");
        assert!(!verify("12345678", "pbkdf2-sha256$0$AAAA$AAAA"));
        assert!(!verify("12345678", "garbage"));
        Ok(())
    }

    #[test]
    fn generated_pins_have_eight_digits_and_pass_the_shape_check() -> anyhow::Result<()> {
        for _ in 0..20 {
            let pin = generate()?;
            assert_eq!(pin.len(), 8);
            check_shape(&pin).map_err(anyhow::Error::msg)?;
        }
        assert!(check_shape("12345").is_err());
        assert!(check_shape("1234567").is_err(), "seven digits fall to guessing too soon");
        assert!(check_shape("12a456").is_err());
        assert!(check_shape("1234567890123").is_err());
        Ok(())
    }
}
