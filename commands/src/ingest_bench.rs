//! `rlcoach bench --ingest`: replays ingested and analyzed per minute through the real intake,
//! queue and worker pool (a fresh SQLite file in a temp dir per round; `RLCOACH_WORKERS` workers), and queue claim latency.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rlcoach::jobs::{Intake, PoolConfig, WorkerPool};
use rlcoach::storage::{NewUpload, StorageConfig, Store};

pub async fn run(files: &[PathBuf], rounds: usize) -> anyhow::Result<()> {
    let replays: Vec<Vec<u8>> = files.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    let workers = crate::config::pool()?.workers;
    println!();
    println!(
        "ingest: {} distinct replays per round, {rounds} rounds, {workers} workers",
        replays.len()
    );
    let mut per_minute = Vec::new();
    for round in 0..rounds {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&storage_config(&dir)).await?;
        let pool = WorkerPool::start(
            store.clone(),
            PoolConfig {
                workers,
                poll: Duration::from_millis(50),
                ..PoolConfig::default()
            },
        );
        let intake = pool.intake();
        let t = Instant::now();
        let mut handles = Vec::new();
        for (i, bytes) in replays.iter().enumerate() {
            let intake = intake.clone();
            let bytes = bytes.clone();
            handles.push(tokio::spawn(async move {
                intake.submit(bytes, upload(i as i64)).await
            }));
        }
        for h in handles {
            h.await??;
        }
        let submitted = t.elapsed();
        loop {
            let s = store.queue_stats().await?;
            if s.done + s.failed >= replays.len() as i64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let total = t.elapsed();
        pool.shutdown(Duration::from_secs(5)).await;
        store.close().await;
        let rate = replays.len() as f64 / total.as_secs_f64() * 60.0;
        per_minute.push(rate);
        println!(
            "  round {}: all submitted (validated, stored, queued) in {:.0} ms, all analyzed in {:.0} ms → {rate:.0} replays/min",
            round + 1,
            submitted.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3
        );
    }
    per_minute.sort_by(f64::total_cmp);
    println!(
        "  median: {:.0} replays/min",
        per_minute[per_minute.len() / 2]
    );

    // Claim latency: claim and release the same queued jobs repeatedly.
    let dir = tempfile::tempdir()?;
    let store = Store::open(&storage_config(&dir)).await?;
    let intake = Intake::new(store.clone(), PoolConfig::default());
    for (i, bytes) in replays.iter().enumerate() {
        intake.submit(bytes.clone(), upload(i as i64)).await?;
    }
    let mut lat = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let job = store.claim_job(Duration::from_secs(60)).await?;
        lat.push(t.elapsed());
        if let Some(job) = job {
            store.release_job(&job).await?;
        }
    }
    lat.sort();
    println!(
        "claim latency ({} queued jobs, 300 claims): p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        replays.len(),
        lat[lat.len() / 2].as_secs_f64() * 1e3,
        lat[lat.len() * 95 / 100].as_secs_f64() * 1e3,
        lat[lat.len() - 1].as_secs_f64() * 1e3
    );
    store.close().await;
    Ok(())
}

fn storage_config(dir: &tempfile::TempDir) -> StorageConfig {
    // Always a fresh SQLite file: a shared database would dedup the second round away.
    StorageConfig::sqlite_in(dir.path())
}

fn upload(i: i64) -> NewUpload {
    NewUpload {
        guild_id: Some(1),
        channel_id: Some(1),
        message_id: Some(i),
        file_name: None,
        ..NewUpload::by(rlcoach::storage::UserId::from_db(1 + i))
    }
}
