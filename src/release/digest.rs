//! Lowercase hex and SHA-256 in hex: how a bundle names its binary's digest and a release key
//! its id (`bundle` and `keys` both use them; neither needs the other for that).

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
