//! Any body a webhook route accepts as a JSON object goes through the tolerant parser; it
//! must never panic, whatever the shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentinel::ghl::payload::{ParseOptions, Route, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(body)) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let options = ParseOptions {
        missed_marker_keys: vec!["sentinel_missed_call".into(), "missed_call".into()],
        require_missed_marker: data.first().is_some_and(|b| b % 2 == 0),
    };
    for route in [Route::InboundSms, Route::UnansweredCall, Route::Events] {
        let _ = parse(route, &body, &options);
    }
});
