//! Replay analysis: `.replay` bytes in, [`Report`] out, in one pass over the network frames.
//!
//! **Invariant:** no input makes [`analyze`] panic or run unbounded. Size and frame limits and the
//! caps on what a real match holds (header size, players, goals) are checked before the expensive
//! work, a deadline and the cap on network players during it, the report's size after it, and a
//! `catch_unwind` boundary turns any remaining panic into [`AnalyzeError::Internal`].

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

/// Most entries a replay header's `PlayerStats` scoreboard may list. A match seats at most 8
/// players (4v4); the scoreboard also keeps a few who left before the end, and a private match's
/// spectators. Twice the seats is a wide margin over any real match (the corpus has at most 8),
/// and keeps a forged header from turning into thousands of stored stat rows, report players and
/// chart lines.
pub const MAX_HEADER_PLAYERS: usize = 16;

/// The default cap on distinct players (PRI identities) the network data may bring in
/// ([`Limits::max_network_players`]). The network data sees more people than the header's
/// scoreboard: everyone who was ever in the match, so every leaver, the bot that took their seat
/// and whoever joined in its place, and a private match's spectators (the corpus's 3v3 private
/// match has 16: its 6 players and 10 spectators). Four times that; a forged stream inventing
/// players is refused as soon as it passes the cap, so per-player state stays bounded.
pub const MAX_NETWORK_PLAYERS: usize = 64;

/// Most entries a replay header's `Goals` list may have. The frame limit admits a match of an
/// hour, and every goal costs at least the goal celebration and the 3 s kickoff countdown that
/// follow it (about 6 s), so no real replay comes near; each goal becomes a timeline event, a
/// kickoff and a chart marker.
pub const MAX_HEADER_GOALS: usize = 600;

/// Resource limits for one analysis.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_frames: usize,
    pub max_duration: Duration,
    /// Largest header section (the match metadata, scoreboard and goal list before the network
    /// data), checked from its size word before the header is parsed.
    pub max_header_bytes: usize,
    /// Largest report, as the compact JSON that is stored for it.
    pub max_report_bytes: usize,
    /// Most distinct players the network data may bring in (see [`MAX_NETWORK_PLAYERS`]).
    pub max_network_players: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 25 * 1024 * 1024,
            // 30 fps × 60 min: far beyond any real match, small enough to bound memory.
            max_frames: 108_000,
            max_duration: Duration::from_secs(30),
            // Real headers are 1–17 KB (the largest in the corpus, a long 3v3 private match,
            // is 16,191 bytes): 16× that margin.
            max_header_bytes: 256 * 1024,
            // Real reports are 8–240 KB (the largest, the corpus's 12-minute 3v3 with 16,500
            // frames, is 242,734 bytes; three quarters of it the 2 Hz charts, which grow with the
            // match): an hour-long 4v4 at the frame limit would be about 2 MB.
            max_report_bytes: 4 * 1024 * 1024,
            max_network_players: MAX_NETWORK_PLAYERS,
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
    #[error("the replay header is {size} bytes, over the {limit}-byte limit")]
    HeaderTooLarge { size: usize, limit: usize },
    #[error("the replay header is not laid out as a real one ({0})")]
    EditedHeader(String),
    #[error("the replay header lists {players} players, over the limit of {limit}")]
    TooManyPlayers { players: usize, limit: usize },
    #[error("the replay's network data has {players} players, over the limit of {limit}")]
    TooManyNetworkPlayers { players: usize, limit: usize },
    #[error("the replay header lists {goals} goals, over the limit of {limit}")]
    TooManyGoals { goals: usize, limit: usize },
    #[error("the report is over the {limit}-byte limit")]
    ReportTooLarge { limit: usize },
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
            AnalyzeError::HeaderTooLarge { size, .. } => format!(
                "That replay's match information is {} KB; real replays have under 20 KB. It looks edited, so it wasn't analyzed.",
                size / 1024
            ),
            AnalyzeError::EditedHeader(_) => "That replay's match information isn't laid out like a real replay's. It looks edited, so it wasn't analyzed.".into(),
            AnalyzeError::TooManyPlayers { players, limit } => format!(
                "That replay lists {} players; a real match has at most {limit}. It looks edited, so it wasn't analyzed.",
                crate::cards::thousands(*players as u64)
            ),
            AnalyzeError::TooManyNetworkPlayers { limit, .. } => format!(
                "That replay's match data brings in more than {limit} players; a real match has far fewer. It looks edited, so it wasn't analyzed."
            ),
            AnalyzeError::TooManyGoals { goals, .. } => format!(
                "That replay lists {} goals, more than a match of an hour can have. It looks edited, so it wasn't analyzed.",
                crate::cards::thousands(*goals as u64)
            ),
            AnalyzeError::ReportTooLarge { .. } => "That replay's analysis came out far larger than any real match's. It looks edited, so it wasn't stored.".into(),
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

/// Cheap validation for intake: size limits (file, header section), a header and body that parse
/// and match their CRCs, the player and goal caps on the header, the frame limit. Never panics.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<ReplayInfo, AnalyzeError> {
    check_size(bytes, limits)?;
    check_header_size(bytes, limits)?;
    let replay = std::panic::catch_unwind(|| parse_header(bytes))
        .map_err(|_| AnalyzeError::Internal("header parser panicked".into()))??;
    let info = header::read(&replay)?;
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
///
/// The header's layout is checked first (see [`header::check_layout`]): boxcars' recursive parse
/// must not meet a forged header nested thousands deep.
pub fn parse_header(bytes: &[u8]) -> Result<boxcars::Replay, AnalyzeError> {
    header::check_layout(bytes)?;
    boxcars::ParserBuilder::new(bytes)
        .never_parse_network_data()
        .always_check_crc()
        .parse()
        .map_err(|e| match classify_parse_error(e) {
            AnalyzeError::Corrupt(m) if !looks_like_replay(bytes) => AnalyzeError::NotAReplay(m),
            other => other,
        })
}

/// The header section's size word (the file's first four bytes) against the cap, so a header
/// over it is never parsed. Over the cap, a file that does not start like a replay is not one (its
/// first bytes are no size), a size running past the end of the file is a damaged replay, as the
/// parser would say, and otherwise the header is too large.
fn check_header_size(bytes: &[u8], limits: &Limits) -> Result<(), AnalyzeError> {
    let Some(word) = bytes.get(..4) else {
        return Ok(());
    };
    let size = u32::from_le_bytes([word[0], word[1], word[2], word[3]]) as usize;
    if size <= limits.max_header_bytes {
        Ok(())
    } else if !looks_like_replay(bytes) {
        Err(AnalyzeError::NotAReplay(format!(
            "no replay header: the first word reads {size}"
        )))
    } else if size > bytes.len().saturating_sub(8) {
        Err(AnalyzeError::Corrupt(format!(
            "the header's size word ({size} bytes) runs past the end of the file"
        )))
    } else {
        Err(AnalyzeError::HeaderTooLarge {
            size,
            limit: limits.max_header_bytes,
        })
    }
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
    check_header_size(bytes, limits)?;
    let header_replay = parse_header(bytes)?;
    let header = header::read(&header_replay)?;
    if let Some(n) = header.num_frames
        && usize::try_from(n).unwrap_or(usize::MAX) > limits.max_frames
    {
        return Err(AnalyzeError::TooManyFrames {
            frames: usize::try_from(n).unwrap_or(usize::MAX),
            limit: limits.max_frames,
        });
    }
    let report = match build::full_report(bytes, &header_replay, &header, limits, started) {
        Ok(report) => report,
        Err(build::FramePassError::Refused(e)) => return Err(e),
        Err(build::FramePassError::Undecodable(e)) => build::header_only_report(
            bytes,
            &header_replay,
            &header,
            format!("network data could not be decoded ({e}); only the scoreboard is available"),
        ),
    };
    check_report_size(&report, limits.max_report_bytes)?;
    Ok(report)
}

/// Refuses a report whose stored form (compact JSON, as `Store::complete_job` writes it) would
/// be over `limit` bytes. Counts the bytes as they are serialized, stopping at the limit, so an
/// oversized report is never held twice.
fn check_report_size(report: &Report, limit: usize) -> Result<(), AnalyzeError> {
    struct Counter {
        written: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written = self.written.saturating_add(buf.len());
            if self.written > self.limit {
                return Err(std::io::Error::other("over the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { written: 0, limit };
    match serde_json::to_writer(&mut counter, report) {
        Ok(()) => Ok(()),
        Err(_) if counter.written > limit => Err(AnalyzeError::ReportTooLarge { limit }),
        Err(e) => Err(AnalyzeError::Internal(format!("report serialization: {e}"))),
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
            AnalyzeError::HeaderTooLarge {
                size: 300_000,
                limit: 256 << 10,
            },
            AnalyzeError::EditedHeader("nested".into()),
            AnalyzeError::TooManyPlayers {
                players: 2000,
                limit: MAX_HEADER_PLAYERS,
            },
            AnalyzeError::TooManyNetworkPlayers {
                players: 65,
                limit: MAX_NETWORK_PLAYERS,
            },
            AnalyzeError::TooManyGoals {
                goals: 601,
                limit: MAX_HEADER_GOALS,
            },
            AnalyzeError::ReportTooLarge { limit: 4 << 20 },
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
