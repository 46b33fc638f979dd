//! Skipping a test whose input is missing, honestly: locally it prints a visible `SKIPPED:` line;
//! where the environment requires the input (CI sets `RLCOACH_REQUIRE_POSTGRES=1` and
//! `RLCOACH_REQUIRE_CORPUS=1`), the test fails instead. Shared by the core's tests and the bot's.
#![allow(dead_code)]

/// The variable that makes a missing PostgreSQL server fail the storage tests.
pub const REQUIRE_POSTGRES: &str = "RLCOACH_REQUIRE_POSTGRES";
/// The variable that makes a missing `../shared` (replays, ground truth) fail the tests using it.
pub const REQUIRE_CORPUS: &str = "RLCOACH_REQUIRE_CORPUS";

/// Whether `var` is set to something other than empty or `0`.
pub fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Called where a test is about to skip for `why`: panics when `var` requires the input, else
/// prints `SKIPPED: why` (shown by nextest with the test's output) and returns.
pub fn skip_or_fail(var: &str, why: &str) {
    assert!(
        !required(var),
        "{why}; {var} is set, so this fails instead of skipping"
    );
    eprintln!("SKIPPED: {why}");
}
