//! The `rlcoach` binary: the composition root. With no subcommand it runs the Discord bot, the
//! workers and the web site; `web` runs the site and workers alone; `analyze` and `bench` run
//! offline.

#[cfg(feature = "bench-alloc")]
mod alloc_meter;
mod bench;
mod bot;
mod cli;
mod ingest_bench;
mod operator;
mod slash;
mod web_bench;

use rlcoach_bot::{config, web};

/// Only in builds for measuring (`--features bench-alloc`): it counts every allocation.
#[cfg(feature = "bench-alloc")]
#[global_allocator]
static ALLOC: alloc_meter::Meter = alloc_meter::Meter;

fn main() -> std::process::ExitCode {
    cli::run()
}
