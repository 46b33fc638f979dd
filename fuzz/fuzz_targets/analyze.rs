//! Fuzz target: `analyze` must return Ok or a typed error for any input, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = rlcoach::Limits {
        max_duration: std::time::Duration::from_secs(5),
        ..rlcoach::Limits::default()
    };
    // The catch_unwind boundary would hide panics from the fuzzer: report them as crashes.
    if let Err(rlcoach::AnalyzeError::Internal(msg)) = rlcoach::analyze(data, &limits) {
        panic!("internal error: {msg}");
    }
});
