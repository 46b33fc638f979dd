//! The `rlcoach` binary: the composition root. With no subcommand it will run the Discord bot;
//! `analyze` and `bench` run offline.

mod alloc_meter;
mod bot;
mod cli;
mod config;
mod ingest_bench;
mod slash;

#[global_allocator]
static ALLOC: alloc_meter::Meter = alloc_meter::Meter;

fn main() -> std::process::ExitCode {
    cli::run()
}
