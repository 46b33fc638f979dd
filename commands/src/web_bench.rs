//! `rlcoach bench --web`: latency and throughput of the site's heaviest pages for a user with
//! 5,000 stored games. The games are stored through the core API (`Store::submit`, then the job
//! completed with an edited copy of a real analysis: one replay file, 5,000 distinct replay
//! rows), in a temporary SQLite database; requests go through the real router in process
//! (`tower::ServiceExt::oneshot`: handlers, queries and rendering, no TCP).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rlcoach::jobs::{Intake, PoolConfig};
use rlcoach::report::PlayerId;
use rlcoach::storage::{NewUpload, StorageConfig, Store, SubmitOutcome, UserId, Viewer};
use rlcoach_bot::web::auth::SessionKey;
use rlcoach_bot::web::{self, AppState, WebSettings};
use tower::ServiceExt as _;

const GAMES: usize = 5_000;
const REQUESTS: usize = 400;
const CONCURRENCY: usize = 4;

pub async fn run(template: &Path) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(template).with_context(|| format!("cannot read {}", template.display()))?;
    let base = rlcoach::analyze(&bytes, &rlcoach::Limits::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", template.display()))?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(&StorageConfig::sqlite_in(dir.path())).await?;
    let user = UserId::from_discord(424_242);
    let me = PlayerId {
        platform: "steam".into(),
        id: "76561198000000042".into(),
    };
    let started = Instant::now();
    let now_s = rlcoach::storage::now_ms() / 1000;
    let mut first = String::new();
    for k in 0..GAMES {
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
        if k == 0 {
            first = replay_id;
        }
    }
    store.link_identity(&Viewer::user(user), &me).await?;
    println!(
        "web: seeded {GAMES} games ({} players each) in {:.1} s",
        base.players.len(),
        started.elapsed().as_secs_f64()
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
    };
    let app = web::router(AppState::new(
        store.clone(),
        Intake::new(store.clone(), PoolConfig::default()),
        settings,
    )?);
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "page (5,000 games)", "p50 ms", "p99 ms", "max ms", "req/s"
    );
    for path in [
        "/replays".to_string(),
        "/replays?page=150&sort=score".into(),
        format!("/replays/{first}"),
        "/trends?metric=bcpm&per=game".into(),
        "/trends?metric=bcpm&per=week".into(),
    ] {
        let mut latencies = Vec::with_capacity(REQUESTS);
        let wall = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            let (app, cookie, path) = (app.clone(), cookie.clone(), path.clone());
            tasks.spawn(async move {
                let mut out = Vec::new();
                for _ in 0..REQUESTS / CONCURRENCY {
                    let req = Request::get(&path)
                        .header(header::COOKIE, &cookie)
                        .body(Body::empty())
                        .expect("a request");
                    let t = Instant::now();
                    let resp = app.clone().oneshot(req).await.expect("infallible");
                    let status = resp.status();
                    let _ = axum::body::to_bytes(resp.into_body(), 16 << 20).await;
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
        let secs = wall.elapsed().as_secs_f64();
        latencies.sort();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<34} {:>9.1} {:>9.1} {:>9.1} {:>9.0}",
            path,
            ms(at(0.50)),
            ms(at(0.99)),
            ms(*latencies.last().unwrap_or(&Duration::ZERO)),
            latencies.len() as f64 / secs
        );
    }
    store.close().await;
    Ok(())
}
