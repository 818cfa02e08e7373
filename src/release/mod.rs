//! What an update is made of, below every actor: the signed bundle's format (`bundle`), the
//! release keys a box trusts (`keys`), the hex and SHA-256 both name things by (`digest`), and the A/B slots on the data partition with their
//! state files (`slots`). `crate::update` installs, checks and confirms updates with them; the
//! store's nightly run counts and trims the slots (`db::housekeeping`). They depend on
//! nothing of the service's but `crate::version`.

pub mod bundle;
pub mod digest;
pub mod keys;
pub mod slots;
