//! `rlcoach bench --web`: latency and throughput of the site's heaviest pages for a user with
//! 5,000 stored games. The games are stored through the core API (`Store::submit`, then the job
//! completed with an edited copy of a real analysis: one replay file, 5,000 distinct replay
//! rows), in a temporary SQLite database (or `RLCOACH_BENCH_WEB_DIR`, kept for the next run);
//! requests go through the real router in process (`tower::ServiceExt::oneshot`: handlers,
//! queries and rendering, no TCP). Each page is measured twice: closed loop (4 clients back to
//! back: the most it serves per second) and open loop at the target rate (200
//! requests/s, latency counted from when each request was due).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rlcoach::jobs::{Intake, PoolConfig};
use rlcoach::report::PlayerId;
use rlcoach::storage::{
    NewUpload, StorageConfig, Store, SubmitOutcome, UploadQuota, UserId, Viewer,
};
use rlcoach_bot::web::auth::SessionKey;
use rlcoach_bot::web::{self, AppState, WebSettings};
use tower::ServiceExt as _;

const GAMES: usize = 5_000;
const REQUESTS: usize = 400;
const CONCURRENCY: usize = 4;
/// The target load: p99 under 50 ms at this many requests per second.
const RATE: u32 = 200;
/// Requests of the fixed-rate run (5 s at `RATE`).
const OPEN_REQUESTS: usize = 1_000;

pub async fn run(template: &Path) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(template).with_context(|| format!("cannot read {}", template.display()))?;
    let base = rlcoach::analyze(&bytes, &rlcoach::Limits::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", template.display()))?;
    // `RLCOACH_BENCH_WEB_DIR` keeps the seeded database there for the next run (seeding takes
    // a minute or more); by default it is a temporary directory.
    let temp = tempfile::tempdir()?;
    let dir = std::env::var_os("RLCOACH_BENCH_WEB_DIR")
        .map_or_else(|| temp.path().to_path_buf(), std::path::PathBuf::from);
    let store = Store::open(&StorageConfig::sqlite_in(&dir)).await?;
    let user = UserId::from_discord(424_242);
    let me = PlayerId {
        platform: "steam".into(),
        id: "76561198000000042".into(),
    };
    let started = Instant::now();
    let now_s = rlcoach::storage::now_ms() / 1000;
    let first = format!("{:064x}", 1);
    let seeded = store.queue_stats().await?.done;
    for k in (seeded as usize)..GAMES {
        let replay_id = format!("{:064x}", k + 1);
        let mut report = base.clone();
        report.metadata.replay_id = replay_id.clone();
        report.metadata.match_guid = Some(format!("bench-{k}"));
        report.metadata.started_at_unix = Some(now_s - (k as i64) * 1_800);
        report.players[0].id = me.clone();
        for (i, p) in report.players.iter_mut().enumerate().skip(1) {
            p.id.id = format!("{}-{}", p.id.id, k * 8 + i);
        }
        let upload = NewUpload::by(user);
        match store
            .submit(
                &replay_id,
                Some(&format!("bench-{k}")),
                &bytes,
                &upload,
                10,
                3,
                &UploadQuota {
                    files_per_day: i64::MAX,
                    bytes_per_day: i64::MAX,
                },
            )
            .await?
        {
            SubmitOutcome::Pending { .. } => {}
            other => anyhow::bail!("seeding game {k}: {other:?}"),
        }
        let job = store
            .claim_job(Duration::from_secs(60))
            .await?
            .context("the seeded job is claimable")?;
        store.complete_job(&job, &report).await?;
    }
    store.link_identity(&Viewer::user(user), &me).await?;
    println!(
        "web: {GAMES} games ({} players each; {} seeded now, in {:.1} s) in {}",
        base.players.len(),
        GAMES.saturating_sub(seeded as usize),
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    let key = SessionKey::random();
    let session = store.create_web_session(user, 3_600_000).await?;
    let cookie = format!("rlcoach_session={}", key.session_cookie_value(&session));
    let settings = WebSettings {
        addr: "127.0.0.1:0".parse()?,
        base: "http://127.0.0.1".into(),
        discord: None,
        session_key: key,
        session_ttl: Duration::from_secs(3600),
        max_replay_bytes: 25 << 20,
        coach_monthly_tokens: 150_000,
        stripe: None,
        pro_price: "$10 / month".into(),
        server: Default::default(),
    };
    let app = web::router(AppState::new(
        store.clone(),
        Intake::new(store.clone(), PoolConfig::default()),
        settings,
    )?);
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9} | {:>12} {:>12} {:>12}",
        "page (5,000 games)",
        "p50 ms",
        "p99 ms",
        "max ms",
        "max req/s",
        format!("p50 @{RATE}/s"),
        format!("p99 @{RATE}/s"),
        format!("max @{RATE}/s")
    );
    for path in [
        "/replays".to_string(),
        "/replays?page=150&sort=score".into(),
        format!("/replays/{first}"),
        "/trends?metric=bcpm&per=game".into(),
        "/trends?metric=bcpm&per=week".into(),
    ] {
        let get = |app: axum::Router, cookie: String, path: String| async move {
            let req = Request::get(&path)
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .expect("a request");
            let resp = app.oneshot(req).await.expect("infallible");
            let status = resp.status();
            let _ = axum::body::to_bytes(resp.into_body(), 16 << 20).await;
            status
        };
        // Closed loop: CONCURRENCY clients, each sending its next request when the last one is
        // answered: the most this page serves per second.
        let mut latencies = Vec::with_capacity(REQUESTS);
        let wall = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            let (app, cookie, path) = (app.clone(), cookie.clone(), path.clone());
            tasks.spawn(async move {
                let mut out = Vec::new();
                for _ in 0..REQUESTS / CONCURRENCY {
                    let t = Instant::now();
                    let status = get(app.clone(), cookie.clone(), path.clone()).await;
                    out.push((t.elapsed(), status));
                }
                out
            });
        }
        while let Some(r) = tasks.join_next().await {
            for (d, status) in r? {
                anyhow::ensure!(status == StatusCode::OK, "{path}: {status}");
                latencies.push(d);
            }
        }
        let closed = Latencies::of(latencies, wall.elapsed());
        // Open loop: a request every 1/RATE s whether or not the earlier ones were answered (as
        // independent visitors arrive); each latency counts from the moment its request was due,
        // so a stall is not hidden by the requests it delayed.
        let period = Duration::from_secs_f64(1.0 / f64::from(RATE));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let start = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for k in 0..OPEN_REQUESTS {
            ticker.tick().await;
            let due = start + period * k as u32;
            let (app, cookie, path) = (app.clone(), cookie.clone(), path.clone());
            tasks.spawn(async move {
                let status = get(app, cookie, path).await;
                (due.elapsed(), status)
            });
        }
        let mut latencies = Vec::with_capacity(OPEN_REQUESTS);
        while let Some(r) = tasks.join_next().await {
            let (d, status) = r?;
            anyhow::ensure!(status == StatusCode::OK, "{path}: {status}");
            latencies.push(d);
        }
        let open = Latencies::of(latencies, start.elapsed());
        println!(
            "{:<34} {:>9.1} {:>9.1} {:>9.1} {:>9.0} | {:>12.1} {:>12.1} {:>12.1}",
            path,
            closed.ms(0.50),
            closed.ms(0.99),
            closed.ms(1.0),
            closed.per_second,
            open.ms(0.50),
            open.ms(0.99),
            open.ms(1.0),
        );
    }
    store.close().await;
    Ok(())
}

/// Sorted latencies of one run.
struct Latencies {
    sorted: Vec<Duration>,
    per_second: f64,
}

impl Latencies {
    fn of(mut all: Vec<Duration>, wall: Duration) -> Latencies {
        all.sort();
        Latencies {
            per_second: all.len() as f64 / wall.as_secs_f64(),
            sorted: all,
        }
    }

    /// The `q` quantile (1.0: the slowest), in ms.
    fn ms(&self, q: f64) -> f64 {
        let i = ((self.sorted.len() as f64 * q) as usize).min(self.sorted.len().saturating_sub(1));
        self.sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}
