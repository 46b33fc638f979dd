//! Configuration from environment variables (documented in the README with their defaults),
//! read once at start-up into typed structs. Secrets are kept out of `Debug` output.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use rlcoach::jobs::PoolConfig;
use rlcoach::storage::StorageConfig;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is invalid: {e}")),
        None => Ok(default),
    }
}

/// `DATABASE_URL` (default: SQLite in the data directory) and `RLCOACH_DATA_DIR` (default `data`).
pub fn storage() -> anyhow::Result<StorageConfig> {
    Ok(StorageConfig {
        database_url: var("DATABASE_URL"),
        data_dir: PathBuf::from(var("RLCOACH_DATA_DIR").unwrap_or_else(|| "data".into())),
        max_connections: parsed("RLCOACH_DB_CONNECTIONS", 8u32)?,
    })
}

/// Worker pool settings: `RLCOACH_WORKERS` (default: cores), `RLCOACH_MAX_QUEUE` (200),
/// `RLCOACH_ANALYSIS_TIMEOUT_SECS` (30), `RLCOACH_MAX_REPLAY_BYTES` (25 MiB),
/// `RLCOACH_JOB_LEASE_SECS` (60: how long a crashed worker's job waits before it runs again).
pub fn pool() -> anyhow::Result<PoolConfig> {
    let mut c = PoolConfig::default();
    c.workers = parsed("RLCOACH_WORKERS", c.workers)?.max(1);
    c.max_queue = parsed("RLCOACH_MAX_QUEUE", c.max_queue)?.max(1);
    c.job_timeout = Duration::from_secs(parsed("RLCOACH_ANALYSIS_TIMEOUT_SECS", 30u64)?.max(1));
    c.limits.max_bytes = parsed("RLCOACH_MAX_REPLAY_BYTES", c.limits.max_bytes)?;
    c.limits.max_duration = c.job_timeout;
    c.lease = Duration::from_secs(parsed("RLCOACH_JOB_LEASE_SECS", 60u64)?.max(1));
    Ok(c)
}

pub async fn open_store() -> anyhow::Result<rlcoach::storage::Store> {
    let cfg = storage()?;
    let shown = cfg.database_url.as_deref().map_or_else(
        || format!("SQLite in {}", cfg.data_dir.display()),
        rlcoach::storage::redact,
    );
    rlcoach::storage::Store::open(&cfg)
        .await
        .with_context(|| format!("cannot open the database ({shown})"))
}
