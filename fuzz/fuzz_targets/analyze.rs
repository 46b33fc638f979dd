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
    // A mutated file fails its CRC and is refused up front; re-sealed, the mutation reaches the
    // parsers and the analysis.
    if let Some(sealed) = resealed(data)
        && let Err(rlcoach::AnalyzeError::Internal(msg)) = rlcoach::analyze(&sealed, &limits)
    {
        panic!("internal error (re-sealed input): {msg}");
    }
});

/// The input with both section CRCs recomputed, when its size words fit inside it.
fn resealed(data: &[u8]) -> Option<Vec<u8>> {
    let word = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(data.get(at..at.checked_add(4)?)?.try_into().ok()?) as usize)
    };
    let header = 8..8usize.checked_add(word(0)?)?;
    let body_start = header.end.checked_add(8)?;
    let body = body_start..body_start.checked_add(word(header.end)?)?;
    if body.end > data.len() {
        return None;
    }
    let mut b = data.to_vec();
    for section in [header, body] {
        let crc = boxcars::crc::calc_crc(&b[section.clone()]);
        b[section.start - 4..section.start].copy_from_slice(&crc.to_le_bytes());
    }
    Some(b)
}
