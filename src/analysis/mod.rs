//! Replay analysis: `.replay` bytes in, [`Report`] out, in one pass over the network frames.
//!
//! **Invariant:** no input makes [`analyze`] panic or run unbounded. Size and frame limits are
//! checked before the expensive work, a deadline is checked during it, and a `catch_unwind`
//! boundary turns any remaining panic into [`AnalyzeError::Internal`].

mod build;
pub mod events;
pub mod field;
mod header;
pub mod mechanics;
mod objects;
pub mod stats;
mod tracker;

use std::time::{Duration, Instant};

use crate::report::Report;

pub use header::is_soccar_map;

/// Resource limits for one analysis.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_frames: usize,
    pub max_duration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 25 * 1024 * 1024,
            // 30 fps × 60 min: far beyond any real match, small enough to bound memory.
            max_frames: 108_000,
            max_duration: Duration::from_secs(30),
        }
    }
}

/// Why a file could not be analyzed. Every variant is caused by the input (except `Internal`)
/// and has a message fit to show to the person who uploaded it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AnalyzeError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("this is not a Rocket League replay ({0})")]
    NotAReplay(String),
    #[error("the replay is corrupt or truncated ({0})")]
    Corrupt(String),
    #[error("the replay has {frames} frames, over the {limit}-frame limit")]
    TooManyFrames { frames: usize, limit: usize },
    #[error("analysis took longer than {0:?}")]
    Timeout(Duration),
    #[error("internal analyzer error: {0}")]
    Internal(String),
}

impl AnalyzeError {
    /// A short, friendly sentence for end users (Discord, web).
    pub fn user_message(&self) -> String {
        match self {
            AnalyzeError::Empty => "That file is empty. Please upload the `.replay` file from your Demos folder.".into(),
            AnalyzeError::TooLarge { limit, .. } => format!(
                "That file is too large (limit {} MB). Rocket League replays are usually 1–5 MB.",
                limit / (1024 * 1024)
            ),
            AnalyzeError::NotAReplay(_) => "That file isn't a Rocket League replay. Look for a `.replay` file in Documents/My Games/Rocket League/TAGame/Demos.".into(),
            AnalyzeError::Corrupt(_) => "That replay is damaged or incomplete (maybe the download was cut off). Try exporting it again.".into(),
            AnalyzeError::TooManyFrames { .. } => "That replay is unusually long; we only analyze matches up to an hour.".into(),
            AnalyzeError::Timeout(_) => "That replay took too long to analyze. We've logged it; please try again later.".into(),
            AnalyzeError::Internal(_) => "Something went wrong on our side while analyzing that replay. We've logged it.".into(),
        }
    }
}

/// Analyzes replay bytes. Never panics; see the module invariant.
pub fn analyze(bytes: &[u8], limits: &Limits) -> Result<Report, AnalyzeError> {
    check_size(bytes, limits)?;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analyze_inner(bytes, limits)
    }));
    match result {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(AnalyzeError::Internal(msg))
        }
    }
}

/// What intake needs to know before queuing a file: its id and match GUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayInfo {
    /// sha256 of the bytes, hex (the report's `replay_id`).
    pub replay_id: String,
    pub match_guid: Option<String>,
    pub team_size: u8,
    pub num_frames: Option<i64>,
}

/// Cheap validation for intake: size limit, a header and body that parse and match their CRCs,
/// the frame limit. Never panics.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<ReplayInfo, AnalyzeError> {
    check_size(bytes, limits)?;
    let replay = std::panic::catch_unwind(|| parse_header(bytes))
        .map_err(|_| AnalyzeError::Internal("header parser panicked".into()))??;
    let info = header::read(&replay);
    if let Some(n) = info.num_frames.and_then(|n| usize::try_from(n).ok())
        && n > limits.max_frames
    {
        return Err(AnalyzeError::TooManyFrames {
            frames: n,
            limit: limits.max_frames,
        });
    }
    Ok(ReplayInfo {
        replay_id: build::sha256_hex(bytes),
        match_guid: info.match_guid,
        team_size: info.team_size,
        num_frames: info.num_frames,
    })
}

fn check_size(bytes: &[u8], limits: &Limits) -> Result<(), AnalyzeError> {
    if bytes.is_empty() {
        return Err(AnalyzeError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(AnalyzeError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    Ok(())
}

/// The `.replay` files directly inside `dir`, sorted by path (the CLI benchmark and the tests
/// walk the shared corpus with it).
pub fn replay_files(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "replay"))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads the header and the body's tables, not the network frames: quick validation before
/// queuing and the header-only fallback. Both sections must match their CRCs (~0.3 ms per MB):
/// boxcars' default checks them only when parsing fails, and damaged network data would
/// otherwise give a report built from the damage.
/// A file that fails to parse and doesn't start like a replay is not a replay, not a damaged one.
pub fn parse_header(bytes: &[u8]) -> Result<boxcars::Replay, AnalyzeError> {
    boxcars::ParserBuilder::new(bytes)
        .never_parse_network_data()
        .always_check_crc()
        .parse()
        .map_err(|e| match classify_parse_error(e) {
            AnalyzeError::Corrupt(m) if !looks_like_replay(bytes) => AnalyzeError::NotAReplay(m),
            other => other,
        })
}

fn classify_parse_error(e: boxcars::ParseError) -> AnalyzeError {
    let msg = e.to_string();
    let lower = msg.to_lowercase();
    if lower.contains("crc")
        || lower.contains("insufficient")
        || lower.contains("eof")
        || lower.contains("larger than")
    {
        AnalyzeError::Corrupt(msg)
    } else if lower.contains("header")
        || lower.contains("text")
        || lower.contains("replay_soccar")
        || lower.contains("magic")
    {
        AnalyzeError::NotAReplay(msg)
    } else {
        AnalyzeError::Corrupt(msg)
    }
}

fn analyze_inner(bytes: &[u8], limits: &Limits) -> Result<Report, AnalyzeError> {
    let started = Instant::now();
    // Header first: it is cheap, tells a non-replay apart from a corrupt one and carries the frame
    // count we check before decoding frames.
    let header_replay = parse_header(bytes)?;
    let header = header::read(&header_replay);
    if let Some(n) = header.num_frames
        && usize::try_from(n).unwrap_or(usize::MAX) > limits.max_frames
    {
        return Err(AnalyzeError::TooManyFrames {
            frames: usize::try_from(n).unwrap_or(usize::MAX),
            limit: limits.max_frames,
        });
    }
    match build::full_report(bytes, &header_replay, &header, limits, started) {
        Ok(report) => Ok(report),
        Err(build::FramePassError::Refused(e)) => Err(e),
        Err(build::FramePassError::Undecodable(e)) => Ok(build::header_only_report(
            bytes,
            &header_replay,
            &header,
            format!("network data could not be decoded ({e}); only the scoreboard is available"),
        )),
    }
}

/// Rocket League replays carry `TAGame.Replay_` in the first bytes of the header.
fn looks_like_replay(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(256)];
    head.windows(14).any(|w| w == b"TAGame.Replay_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_oversized_inputs_are_rejected_before_parsing() {
        assert_eq!(analyze(&[], &Limits::default()), Err(AnalyzeError::Empty));
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            analyze(&[0u8; 11], &limits),
            Err(AnalyzeError::TooLarge {
                size: 11,
                limit: 10
            })
        ));
    }

    #[test]
    fn garbage_is_not_a_replay() {
        let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(matches!(
            analyze(&junk, &Limits::default()),
            Err(AnalyzeError::NotAReplay(_))
        ));
        assert!(matches!(
            analyze(b"PNG\x89 hello", &Limits::default()),
            Err(AnalyzeError::NotAReplay(_))
        ));
        // Intake says so too (a text file renamed `.replay` was told it was damaged).
        let text = "these are my notes, not a replay\n".repeat(40);
        assert!(matches!(
            inspect(text.as_bytes(), &Limits::default()),
            Err(AnalyzeError::NotAReplay(_))
        ));
    }

    #[test]
    fn every_error_has_a_user_message_without_internals() {
        let errs = [
            AnalyzeError::Empty,
            AnalyzeError::TooLarge {
                size: 1,
                limit: 25 << 20,
            },
            AnalyzeError::NotAReplay("x".into()),
            AnalyzeError::Corrupt("crc".into()),
            AnalyzeError::TooManyFrames {
                frames: 1,
                limit: 1,
            },
            AnalyzeError::Timeout(Duration::from_secs(1)),
            AnalyzeError::Internal("index out of bounds".into()),
        ];
        for e in errs {
            let m = e.user_message();
            assert!(!m.is_empty());
            assert!(!m.contains("index out of bounds"));
        }
    }
}
