//! The `rlcoach` binary: the composition root. With no subcommand it will run the Discord bot;
//! `analyze` and `bench` run offline.

#[cfg(feature = "bench-alloc")]
mod alloc_meter;
mod bench;
mod bot;
mod cli;
mod config;
mod ingest_bench;
mod operator;
mod slash;

/// Only in builds for measuring (`--features bench-alloc`): it counts every allocation.
#[cfg(feature = "bench-alloc")]
#[global_allocator]
static ALLOC: alloc_meter::Meter = alloc_meter::Meter;

fn main() -> std::process::ExitCode {
    cli::run()
}
