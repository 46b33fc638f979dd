//! Shared helpers: where the replay corpus and ground truth live, and loading them.
#![allow(dead_code)]

pub mod db;
pub mod edit;
mod skip;

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use edit::{
    distinct_copy, header_only_bytes, reseal, sections, with_header_array_len, with_header_players,
    with_header_size_word, with_nested_header_arrays,
};
#[allow(unused_imports)]
pub use skip::{REQUIRE_CORPUS, REQUIRE_POSTGRES, skip_or_fail};

use std::path::PathBuf;

pub fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// Every replay in `../shared/replays`, or None (after `SKIPPED:`) when the corpus is absent;
/// with `RLCOACH_REQUIRE_CORPUS=1` its absence fails the test instead.
pub fn corpus() -> Option<Vec<PathBuf>> {
    let dir = shared_dir().join("replays");
    match rlcoach::analysis::replay_files(&dir) {
        Ok(files) if !files.is_empty() => Some(files),
        _ => {
            skip_or_fail(
                REQUIRE_CORPUS,
                &format!(
                    "replay corpus not found at {} (clone with ../shared beside the repo)",
                    dir.display()
                ),
            );
            None
        }
    }
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
