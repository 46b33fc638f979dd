//! Shared helpers: where the replay corpus and ground truth live, and loading them.
#![allow(dead_code)]

pub mod db;

use std::path::PathBuf;

pub fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// Every replay in `../shared/replays`, or None (with a message) when the corpus is absent.
pub fn corpus() -> Option<Vec<PathBuf>> {
    let dir = shared_dir().join("replays");
    let Ok(files) = rlcoach::analysis::replay_files(&dir) else {
        eprintln!(
            "SKIPPED: replay corpus not found at {} (clone with ../shared beside the repo)",
            dir.display()
        );
        return None;
    };
    Some(files)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture present in the repo")
}

pub fn analyze_path(path: &std::path::Path) -> rlcoach::Report {
    let bytes = std::fs::read(path).expect("readable replay");
    rlcoach::analyze(&bytes, &rlcoach::Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An intact replay whose network stream cannot be decoded (as with a game update boxcars does
/// not know yet): the middle of the stream damaged and the body CRC re-sealed, so the analyzer
/// falls back to a header-only report.
pub fn header_only_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let body = sections(&b).1;
    let mid = body.start + body.len() / 2;
    b[mid..mid + 4096].fill(0xff);
    reseal(&mut b);
    b
}

/// Where a replay's header and body (content) data lie, each after its size and CRC words.
pub fn sections(bytes: &[u8]) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let header = 8..8 + word(0);
    let body = header.end + 8..header.end + 8 + word(header.end);
    (header, body)
}

/// Rewrites both section CRCs to match edited bytes, so the replay reads as intact.
pub fn reseal(bytes: &mut [u8]) {
    for section in <[_; 2]>::from(sections(bytes)) {
        let crc = boxcars::crc::calc_crc(&bytes[section.clone()]);
        bytes[section.start - 4..section.start].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The same match as a different replay: the match GUID in the header rewritten (keeping its
/// length) and the CRCs re-sealed, so intake stores it as another game with the same players.
pub fn distinct_copy(bytes: &[u8], n: u16) -> Vec<u8> {
    let guid = rlcoach::analysis::inspect(bytes, &rlcoach::Limits::default())
        .expect("a valid replay")
        .match_guid
        .expect("the replay has a match GUID");
    let header = sections(bytes).0;
    let at = bytes[header.clone()]
        .windows(guid.len())
        .position(|w| w == guid.as_bytes())
        .expect("GUID in the header")
        + header.start;
    let mut b = bytes.to_vec();
    let tail = format!("{n:04X}");
    b[at + guid.len() - 4..at + guid.len()].copy_from_slice(tail.as_bytes());
    reseal(&mut b);
    b
}
