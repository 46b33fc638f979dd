//! Shared helpers: where the replay corpus and ground truth live, and loading them.
#![allow(dead_code)]

pub mod db;
mod edit;

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use edit::{distinct_copy, reseal, sections};

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
