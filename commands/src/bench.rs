//! `rlcoach bench`: the analyzer against a bare boxcars parse on a folder of replays (median
//! times, peak heap with `--features bench-alloc`), card render times, and with `--ingest` the
//! intake + queue + worker pool throughput (`ingest_bench.rs`), with `--web` the site's page
//! latencies for a user with 5,000 games (`web_bench.rs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rlcoach::Limits;
use rlcoach::cards::{CardOptions, ImageFormat};

/// Peak heap for `bench`, from the counting allocator that only `--features bench-alloc` builds
/// install (the bot never pays for it); None without it.
#[cfg(feature = "bench-alloc")]
mod heap {
    pub fn reset() {
        crate::alloc_meter::reset_peak();
    }
    pub fn peak() -> Option<usize> {
        Some(crate::alloc_meter::peak())
    }
}

#[cfg(not(feature = "bench-alloc"))]
mod heap {
    pub fn reset() {}
    pub fn peak() -> Option<usize> {
        None
    }
}

/// What the heap columns show without the counting allocator.
const NO_HEAP: &str = "n/a (build with --features bench-alloc)";

fn megabytes(bytes: Option<usize>) -> String {
    bytes.map_or_else(|| "n/a".into(), |b| format!("{:.1}", b as f64 / 1048576.0))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(dir: &Path, runs: usize, ingest: bool, web: bool) -> anyhow::Result<ExitCode> {
    let files = rlcoach::analysis::replay_files(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?;
    if web {
        // The smallest replay: every seeded game stores its own copy of the file.
        let template = files
            .iter()
            .min_by_key(|f| std::fs::metadata(f).map_or(u64::MAX, |m| m.len()))
            .with_context(|| format!("no .replay file in {}", dir.display()))?;
        crate::cli::runtime()?.block_on(crate::web_bench::run(template))?;
        return Ok(ExitCode::SUCCESS);
    }
    let runs = runs.max(1);
    println!(
        "{:<48} {:>7} {:>10} {:>10} {:>10} {:>6} {:>10} {:>10}",
        "replay", "frames", "header ms", "parse ms", "analyze ms", "ratio", "parse MB", "peak MB"
    );
    let (mut total_parse, mut total_full) = (Duration::ZERO, Duration::ZERO);
    for f in &files {
        let bytes = std::fs::read(f)?;
        let mut parse = Vec::new();
        let mut full = Vec::new();
        let mut header = Vec::new();
        let mut frames = 0;
        let (mut parse_peak, mut full_peak) = (None, None);
        for _ in 0..runs {
            // The header-only parse that intake and the analyzer do first.
            let t = Instant::now();
            let _ = rlcoach::analysis::parse_header(&bytes);
            header.push(t.elapsed());
            heap::reset();
            // The bare parse is timed up to freeing its frames, as the analysis frees them too.
            let t = Instant::now();
            let r = boxcars::ParserBuilder::new(&bytes)
                .must_parse_network_data()
                .parse();
            parse_peak = parse_peak.max(heap::peak());
            frames = r
                .ok()
                .and_then(|r| r.network_frames.map(|n| n.frames.len()))
                .unwrap_or(0);
            parse.push(t.elapsed());
            heap::reset();
            let t = Instant::now();
            let r = rlcoach::analyze(&bytes, &Limits::default());
            full.push(t.elapsed());
            full_peak = full_peak.max(heap::peak());
            if let Err(e) = r {
                println!("{}: {e}", f.display());
            }
        }
        let (p, a) = (median(parse), median(full));
        total_parse += p;
        total_full += a;
        println!(
            "{:<48} {:>7} {:>10.2} {:>10.2} {:>10.2} {:>6.2} {:>10} {:>10}",
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            frames,
            median(header).as_secs_f64() * 1e3,
            p.as_secs_f64() * 1e3,
            a.as_secs_f64() * 1e3,
            a.as_secs_f64() / p.as_secs_f64().max(1e-9),
            megabytes(parse_peak),
            megabytes(full_peak),
        );
    }
    if heap::peak().is_none() {
        println!("parse MB, peak MB: {NO_HEAP}");
    }
    if !files.is_empty() {
        println!(
            "total: parse {:.1} ms, analyze {:.1} ms, ratio {:.2} (analysis includes the parse)",
            total_parse.as_secs_f64() * 1e3,
            total_full.as_secs_f64() * 1e3,
            total_full.as_secs_f64() / total_parse.as_secs_f64().max(1e-9)
        );
    }
    bench_cards(&files, runs)?;
    if ingest {
        crate::cli::runtime()?.block_on(crate::ingest_bench::run(&files, 3))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Median PNG render time per card on one thread, and the largest file produced.
fn bench_cards(files: &[PathBuf], runs: usize) -> anyhow::Result<()> {
    use rlcoach::cards::{self, Chart};
    println!();
    print!("{:<48}", "render ms (PNG, one thread)");
    for c in Chart::ALL {
        print!(" {:>9}", c.slug());
    }
    println!(" {:>9} {:>9}", "player", "max KB");
    let opts = CardOptions::default();
    for f in files {
        let Ok(report) = rlcoach::analyze(&std::fs::read(f)?, &Limits::default()) else {
            continue;
        };
        print!(
            "{:<48}",
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let mut max_bytes = 0;
        let mut time = |render: &dyn Fn() -> Result<cards::Image, cards::CardError>| {
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                let t = Instant::now();
                let img = render();
                times.push(t.elapsed());
                if let Ok(img) = img {
                    max_bytes = max_bytes.max(img.bytes.len());
                } else {
                    return f64::NAN;
                }
            }
            median(times).as_secs_f64() * 1e3
        };
        for c in Chart::ALL {
            let ms = time(&|| cards::render_chart(&report, c, &opts, ImageFormat::Png));
            print!(" {ms:>9.1}");
        }
        let ms = time(&|| cards::render_player_card(&report, 0, &opts, ImageFormat::Png));
        println!(" {ms:>9.1} {:>9.0}", max_bytes as f64 / 1024.0);
    }
    Ok(())
}
