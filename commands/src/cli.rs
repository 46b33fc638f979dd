//! Command-line entry: arguments are parsed once into validated structs, then dispatched.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

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
    /// Run the web site and the analysis workers, without the Discord bot (see README, "Web site").
    Web,
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
    /// Only measure the web site: p50/p99 and requests/s of the replay list, a replay and the
    /// trends for a user with 5,000 stored games (the smallest replay of DIR is the template).
    #[arg(long)]
    web: bool,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Analyze(a)) => analyze(a),
        Some(Command::Bench(b)) => crate::bench::run(&b.dir, b.runs, b.ingest, b.web),
        Some(Command::Health) => match crate::config::storage() {
            Ok(cfg) if crate::bot::health_check(&cfg.data_dir) => return ExitCode::SUCCESS,
            _ => {
                eprintln!("rlcoach: the bot is not connected to Discord (no fresh health mark)");
                return ExitCode::FAILURE;
            }
        },
        Some(Command::Web) => return run_web(),
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
        let folders = card_folders(&args.files);
        let named: Vec<(&PathBuf, &Report, Option<&PathBuf>)> = args
            .files
            .iter()
            .zip(&results)
            .zip(&folders)
            .filter_map(|((p, r), f)| r.as_ref().ok().map(|r| (p, r, f.as_ref())))
            .collect();
        let written = parallel_map(&named, |(_, report, folder)| {
            let sub = folder.map_or_else(|| dir.clone(), |f| dir.join(f));
            write_cards(&sub, report, &args, format)
        });
        for (w, (path, ..)) in written.into_iter().zip(&named) {
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

/// The sub-folder of `--card DIR` for each file: none for a single file, else the file's stem,
/// and for stems shared by files from different folders the stem with the first free `-N`, so
/// no file's cards overwrite another's.
fn card_folders(files: &[PathBuf]) -> Vec<Option<PathBuf>> {
    if files.len() < 2 {
        return vec![None; files.len()];
    }
    let stem = |f: &PathBuf| f.file_stem().unwrap_or_default().to_os_string();
    let mut used: std::collections::HashSet<std::ffi::OsString> = files.iter().map(stem).collect();
    files
        .iter()
        .map(|f| {
            let s = stem(f);
            let shared = files.iter().filter(|g| stem(g) == s).count() > 1;
            if !shared {
                return Some(PathBuf::from(s));
            }
            let mut n = 1;
            loop {
                let mut candidate = s.clone();
                candidate.push(format!("-{n}"));
                if used.insert(candidate.clone()) {
                    return Some(PathBuf::from(candidate));
                }
                n += 1;
            }
        })
        .collect()
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

fn init_logging() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,serenity=warn,poise=warn,sqlx=warn".into()),
        )
        .try_init();
}

/// `rlcoach web`: the site and the workers. Configuration problems are one line and exit code 2.
fn run_web() -> ExitCode {
    init_logging();
    let settings = match crate::config::web() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rlcoach: {e:#}");
            return ExitCode::from(2);
        }
    };
    match runtime().and_then(|rt| rt.block_on(crate::web::run(settings))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rlcoach: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// No subcommand: run the Discord bot, the workers and the web site. Configuration problems are
/// one line and exit code 2.
fn run_bot() -> ExitCode {
    init_logging();
    let settings = match crate::bot::BotSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rlcoach: {e:#}");
            return ExitCode::from(2);
        }
    };
    let web = match crate::config::web() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rlcoach: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = runtime().and_then(|rt| rt.block_on(crate::bot::run(settings, Some(web))));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_folders_never_share_a_name() {
        let files: Vec<PathBuf> = [
            "a/game.replay",
            "b/game.replay",
            "game-1.replay",
            "c/other.replay",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let folders: Vec<PathBuf> = card_folders(&files).into_iter().flatten().collect();
        assert_eq!(
            folders,
            ["game-2", "game-3", "game-1", "other"].map(PathBuf::from)
        );
        assert_eq!(card_folders(&files[..1]), [None]);
    }
}
