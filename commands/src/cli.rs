//! Command-line entry: arguments are parsed once into validated structs, then dispatched.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use rlcoach::cards::{CardOptions, ImageFormat};
use rlcoach::{Limits, Report};

#[derive(Parser)]
#[command(
    name = "rlcoach",
    version,
    about = "Rocket League coaching: replay analysis and the Discord bot"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Analyze replay files offline and print the report.
    Analyze(AnalyzeArgs),
    /// Benchmark the analyzer against bare boxcars parsing on a folder of replays.
    Bench(BenchArgs),
    /// Apply database migrations (DATABASE_URL, or SQLite in RLCOACH_DATA_DIR) and exit.
    Migrate,
    /// Exit 0 if the bot running on this data directory is connected to Discord (healthcheck).
    Health,
    /// Re-run the analysis of stored replays made by an older analyzer version, then exit.
    Reanalyze,
    /// A user's plan: `plan set <discord-user-id> pro|free`, `plan show <discord-user-id>`.
    #[command(subcommand)]
    Plan(crate::operator::PlanCommand),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Text,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// One or more .replay files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// With --format csv: print the team CSV instead of the player CSV.
    #[arg(long)]
    teams: bool,
    /// With --format text: show only this player (name, case-insensitive).
    #[arg(long)]
    player: Option<String>,
    /// Maximum replay size in bytes.
    #[arg(long, env = "RLCOACH_MAX_REPLAY_BYTES", default_value_t = 25 * 1024 * 1024)]
    max_bytes: usize,
    /// Per-file analysis time limit in seconds.
    #[arg(long, env = "RLCOACH_ANALYSIS_TIMEOUT_SECS", default_value_t = 30)]
    timeout_secs: u64,
    /// Write the match card, every chart and one card per player into DIR (one sub-folder per
    /// replay when several are given) and print the written paths instead of the report.
    #[arg(long, value_name = "DIR")]
    card: Option<PathBuf>,
    /// With --card: write SVG instead of PNG.
    #[arg(long, requires = "card")]
    svg: bool,
    /// With --card: rank benchmark for player cards (C2, C3, GC1, GC2, GC3, SSL).
    #[arg(long, default_value = rlcoach::cards::DEFAULT_RANK, value_parser = parse_rank)]
    rank: String,
}

fn parse_rank(s: &str) -> Result<String, String> {
    let ranks = rlcoach::benchmarks::ranks();
    ranks
        .iter()
        .find(|r| r.eq_ignore_ascii_case(s))
        .map(|r| (*r).to_string())
        .ok_or_else(|| format!("unknown rank {s:?}; use one of {}", ranks.join(", ")))
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Folder of .replay files (default: ../shared/replays).
    #[arg(default_value = "../shared/replays")]
    dir: PathBuf,
    /// Runs per file (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Also measure intake + queue + worker pool throughput and queue claim latency.
    #[arg(long)]
    ingest: bool,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Analyze(a)) => analyze(a),
        Some(Command::Bench(b)) => bench(b),
        Some(Command::Health) => match crate::config::storage() {
            Ok(cfg) if crate::bot::health_check(&cfg.data_dir) => return ExitCode::SUCCESS,
            _ => {
                eprintln!("rlcoach: the bot is not connected to Discord (no fresh health mark)");
                return ExitCode::FAILURE;
            }
        },
        Some(Command::Reanalyze) => runtime().and_then(|rt| rt.block_on(reanalyze())),
        Some(Command::Plan(cmd)) => {
            runtime().and_then(|rt| rt.block_on(crate::operator::plan(cmd)))
        }
        Some(Command::Migrate) => runtime().and_then(|rt| {
            rt.block_on(async {
                let store = crate::config::open_store().await?;
                store.close().await;
                println!("rlcoach: database migrations applied");
                Ok(ExitCode::SUCCESS)
            })
        }),
        None => return run_bot(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rlcoach: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn analyze_file(path: &Path, limits: &Limits) -> Result<Report, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read file: {e}"))?;
    rlcoach::analyze(&bytes, limits).map_err(|e| e.to_string())
}

/// Runs `work` over `items` on all cores, keeping input order.
fn parallel_map<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = work(item);
                    if let Ok(mut slots) = slots.lock() {
                        slots[i] = Some(r);
                    }
                }
            });
        }
    });
    results.into_iter().flatten().collect()
}

fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let limits = Limits {
        max_bytes: args.max_bytes,
        max_duration: Duration::from_secs(args.timeout_secs),
        ..Limits::default()
    };
    let results = parallel_map(&args.files, |f| analyze_file(f, &limits));
    let mut failed = false;
    let mut ok: Vec<&Report> = Vec::new();
    for (path, r) in args.files.iter().zip(&results) {
        match r {
            Ok(report) => ok.push(report),
            Err(e) => {
                failed = true;
                eprintln!("{}: {e}", path.display());
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if let Some(dir) = &args.card {
        let format = if args.svg {
            ImageFormat::Svg
        } else {
            ImageFormat::Png
        };
        let named: Vec<(&PathBuf, &Report)> = args
            .files
            .iter()
            .zip(&results)
            .filter_map(|(p, r)| r.as_ref().ok().map(|r| (p, r)))
            .collect();
        let several = args.files.len() > 1;
        let written = parallel_map(&named, |(path, report)| {
            let sub = if several {
                dir.join(path.file_stem().unwrap_or_default())
            } else {
                dir.clone()
            };
            write_cards(&sub, report, &args, format)
        });
        for (w, (path, _)) in written.into_iter().zip(&named) {
            match w {
                Ok(files) => {
                    for f in files {
                        writeln!(out, "{}", f.display())?;
                    }
                }
                Err(e) => {
                    failed = true;
                    eprintln!("{}: {e:#}", path.display());
                }
            }
        }
        return Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    match args.format {
        Format::Json => {
            if args.files.len() == 1 {
                if let Some(r) = ok.first() {
                    serde_json::to_writer_pretty(&mut out, r)?;
                    writeln!(out)?;
                }
            } else {
                serde_json::to_writer_pretty(&mut out, &ok)?;
                writeln!(out)?;
            }
        }
        Format::Csv => {
            for (i, r) in ok.iter().enumerate() {
                let csv = if args.teams {
                    rlcoach::export::teams_csv(r)
                } else {
                    rlcoach::export::players_csv(r)
                };
                // One header line for the whole run.
                let body = if i == 0 {
                    csv.as_str()
                } else {
                    csv.split_once('\n').map_or("", |x| x.1)
                };
                out.write_all(body.as_bytes())?;
            }
        }
        Format::Text => {
            for r in &ok {
                let idx = match &args.player {
                    Some(name) => Some(r.player_index_by_name(name).with_context(|| {
                        format!(
                            "no player named {name:?} in {}",
                            r.metadata.replay_name.as_deref().unwrap_or("this replay")
                        )
                    })?),
                    None => None,
                };
                writeln!(out, "{}", rlcoach::export::text(r, idx))?;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Renders every card for one report into `dir`; returns the written paths.
fn write_cards(
    dir: &Path,
    report: &Report,
    args: &AnalyzeArgs,
    format: ImageFormat,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let highlight = args
        .player
        .as_deref()
        .and_then(|n| report.player_index_by_name(n))
        .map(|i| report.players[i].id.clone());
    let opts = CardOptions {
        highlight,
        rank: Some(args.rank.clone()),
    };
    let mut images = rlcoach::cards::render_all(report, &opts, format)?;
    for i in 0..report.players.len() {
        images.push(rlcoach::cards::render_player_card(
            report, i, &opts, format,
        )?);
    }
    let mut paths = Vec::with_capacity(images.len());
    for img in images {
        let path = dir.join(&img.name);
        std::fs::write(&path, &img.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

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

fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let files = rlcoach::analysis::replay_files(&args.dir)
        .with_context(|| format!("cannot read {}", args.dir.display()))?;
    let runs = args.runs.max(1);
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
    if args.ingest {
        runtime()?.block_on(crate::ingest_bench::run(&files, 3))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn reanalyze() -> anyhow::Result<ExitCode> {
    let store = crate::config::open_store().await?;
    let n = store
        .requeue_stale_analyses(rlcoach::report::ANALYZER_VERSION)
        .await?;
    println!(
        "rlcoach: {n} stored replays queued for re-analysis with {}",
        rlcoach::report::ANALYZER_VERSION
    );
    if n > 0 {
        let pool = rlcoach::jobs::WorkerPool::start(store.clone(), crate::config::pool()?);
        loop {
            let s = store.queue_stats().await?;
            if s.queued + s.running == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        pool.shutdown(Duration::from_secs(5)).await;
        let s = store.queue_stats().await?;
        println!(
            "rlcoach: done ({} analyzed in total, {} failed)",
            s.done, s.failed
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// No subcommand: run the Discord bot. Configuration problems are one line and exit code 2.
fn run_bot() -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,serenity=warn,poise=warn,sqlx=warn".into()),
        )
        .try_init();
    let settings = match crate::bot::BotSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rlcoach: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = runtime().and_then(|rt| rt.block_on(crate::bot::run(settings)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rlcoach: {e:#}");
            ExitCode::from(2)
        }
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
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
