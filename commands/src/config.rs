//! Configuration from environment variables (documented in the README with their defaults),
//! read once at start-up into typed structs. Secrets are kept out of `Debug` output.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use rlcoach::coach::{CoachConfig, ModelConfig, Provider};
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
/// `RLCOACH_JOB_LEASE_SECS` (60: how long a crashed worker's job waits before it runs again),
/// `RLCOACH_USER_DAILY_FILES` (300) and `RLCOACH_USER_DAILY_MB` (750): one user's uploads in a
/// rolling day, on the bot and the site together.
pub fn pool() -> anyhow::Result<PoolConfig> {
    let mut c = PoolConfig::default();
    c.workers = parsed("RLCOACH_WORKERS", c.workers)?.max(1);
    c.max_queue = parsed("RLCOACH_MAX_QUEUE", c.max_queue)?.max(1);
    c.job_timeout = Duration::from_secs(parsed("RLCOACH_ANALYSIS_TIMEOUT_SECS", 30u64)?.max(1));
    c.limits.max_bytes = parsed("RLCOACH_MAX_REPLAY_BYTES", c.limits.max_bytes)?;
    c.limits.max_duration = c.job_timeout;
    c.lease = Duration::from_secs(parsed("RLCOACH_JOB_LEASE_SECS", 60u64)?.max(1));
    c.quota.files_per_day = parsed("RLCOACH_USER_DAILY_FILES", c.quota.files_per_day)?.max(1);
    let mb = parsed(
        "RLCOACH_USER_DAILY_MB",
        c.quota.bytes_per_day / (1024 * 1024),
    )?
    .max(1);
    c.quota.bytes_per_day = mb.saturating_mul(1024 * 1024);
    if usize::try_from(c.quota.bytes_per_day).is_ok_and(|b| b < c.limits.max_bytes) {
        anyhow::bail!(
            "RLCOACH_USER_DAILY_MB={mb} is smaller than one replay may be (RLCOACH_MAX_REPLAY_BYTES={}): \
             the largest replays could never be uploaded",
            c.limits.max_bytes
        );
    }
    Ok(c)
}

/// `RLCOACH_MAX_DOWNLOADS` (default 8): replay files held in memory at once, across the bot's
/// attachment downloads and the site's uploads (one semaphore for both, built once).
pub fn max_downloads() -> anyhow::Result<usize> {
    match var("RLCOACH_MAX_DOWNLOADS") {
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("RLCOACH_MAX_DOWNLOADS={v:?} is not a positive number")),
        None => Ok(8),
    }
}

/// The site's connections: `RLCOACH_WEB_HEADER_TIMEOUT_SECS` (10), `RLCOACH_WEB_IDLE_TIMEOUT_SECS`
/// (60), `RLCOACH_WEB_MAX_CONNECTIONS` (512).
pub fn web_server() -> anyhow::Result<crate::web::ServerLimits> {
    let d = crate::web::ServerLimits::default();
    Ok(crate::web::ServerLimits {
        header_timeout: Duration::from_secs(
            parsed(
                "RLCOACH_WEB_HEADER_TIMEOUT_SECS",
                d.header_timeout.as_secs(),
            )?
            .max(1),
        ),
        idle_timeout: Duration::from_secs(
            parsed("RLCOACH_WEB_IDLE_TIMEOUT_SECS", d.idle_timeout.as_secs())?.max(1),
        ),
        max_connections: parsed("RLCOACH_WEB_MAX_CONNECTIONS", d.max_connections)?.max(1),
    })
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

/// The coach's model and limits, or None when no model is configured (then `/coach` says so).
///
/// `RLCOACH_COACH_PROVIDER` `anthropic` (default: needs `ANTHROPIC_API_KEY`; `ANTHROPIC_BASE_URL`
/// default `https://api.anthropic.com`) or `openai` (an OpenAI-compatible server:
/// `RLCOACH_COACH_BASE_URL`, default `http://127.0.0.1:11434` (Ollama), optional
/// `RLCOACH_COACH_API_KEY`). `RLCOACH_COACH_MODEL` (default `claude-sonnet-4-5`; required for
/// `openai`). Limits: `RLCOACH_COACH_MONTHLY_TOKENS` (150000), `RLCOACH_COACH_MAX_INPUT_TOKENS`
/// (16000), `RLCOACH_COACH_MAX_OUTPUT_TOKENS` (8000), `RLCOACH_COACH_THINKING_TOKENS` (2048; 0
/// turns thinking off), `RLCOACH_COACH_TIMEOUT_SECS` (60).
pub fn coach() -> anyhow::Result<Option<(ModelConfig, CoachConfig)>> {
    let provider = match var("RLCOACH_COACH_PROVIDER").as_deref().map(str::trim) {
        None | Some("anthropic") => Provider::Anthropic,
        Some("openai") => Provider::OpenAi,
        Some(other) => {
            anyhow::bail!("RLCOACH_COACH_PROVIDER={other:?} is invalid: use anthropic or openai")
        }
    };
    let (base_url, api_key, model) = match provider {
        Provider::Anthropic => {
            let Some(key) = var("ANTHROPIC_API_KEY") else {
                return Ok(None);
            };
            (
                var("ANTHROPIC_BASE_URL").unwrap_or_else(|| "https://api.anthropic.com".into()),
                Some(key.trim().to_string()),
                var("RLCOACH_COACH_MODEL").unwrap_or_else(|| "claude-sonnet-4-5".into()),
            )
        }
        Provider::OpenAi => (
            var("RLCOACH_COACH_BASE_URL").unwrap_or_else(|| "http://127.0.0.1:11434".into()),
            var("RLCOACH_COACH_API_KEY").map(|k| k.trim().to_string()),
            var("RLCOACH_COACH_MODEL").context(
                "RLCOACH_COACH_MODEL must name the model when RLCOACH_COACH_PROVIDER=openai",
            )?,
        ),
    };
    let defaults = CoachConfig::default();
    let thinking: u32 = parsed("RLCOACH_COACH_THINKING_TOKENS", 2048u32)?;
    let limits = CoachConfig {
        monthly_tokens: parsed("RLCOACH_COACH_MONTHLY_TOKENS", defaults.monthly_tokens)?,
        max_input_tokens: parsed("RLCOACH_COACH_MAX_INPUT_TOKENS", defaults.max_input_tokens)?
            .max(2_000),
        max_output_tokens: parsed(
            "RLCOACH_COACH_MAX_OUTPUT_TOKENS",
            defaults.max_output_tokens,
        )?
        .max(256),
        thinking_budget: (thinking > 0).then_some(thinking.max(1024)),
        ..defaults
    };
    Ok(Some((
        ModelConfig {
            provider,
            base_url: base_url.trim().trim_end_matches('/').to_string(),
            api_key,
            model: model.trim().to_string(),
            timeout: Duration::from_secs(parsed("RLCOACH_COACH_TIMEOUT_SECS", 60u64)?.max(1)),
            max_retries: 3,
        },
        limits,
    )))
}

/// The web site: `RLCOACH_WEB_ADDR` (default `127.0.0.1:8080`), `RLCOACH_WEB_BASE` (the public
/// URL; default `http://<addr>`), `DISCORD_CLIENT_ID` + `DISCORD_CLIENT_SECRET` (the login; without
/// them the site runs and says login is not set up), `DISCORD_API_BASE` (default
/// `https://discord.com`), `RLCOACH_SESSION_KEY` (≥ 32 characters; unset: a random key per run),
/// `RLCOACH_SESSION_DAYS` (30), and the connection limits of [`web_server`].
pub fn web() -> anyhow::Result<crate::web::WebSettings> {
    let addr: std::net::SocketAddr = parsed(
        "RLCOACH_WEB_ADDR",
        std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
    )?;
    let base = var("RLCOACH_WEB_BASE")
        .map(|b| b.trim().trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{addr}"));
    if !base.starts_with("http://") && !base.starts_with("https://") {
        anyhow::bail!("RLCOACH_WEB_BASE={base:?} must start with http:// or https://");
    }
    let discord = match (var("DISCORD_CLIENT_ID"), var("DISCORD_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => Some(crate::web::oauth::DiscordOAuth {
            client_id: id.trim().to_string(),
            client_secret: secret.trim().to_string(),
            base: var("DISCORD_API_BASE")
                .map(|b| b.trim().trim_end_matches('/').to_string())
                .unwrap_or_else(|| "https://discord.com".into()),
        }),
        (None, None) => None,
        _ => anyhow::bail!(
            "set both DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET for the web login (or neither)"
        ),
    };
    let session_key =
        crate::web::auth::SessionKey::from_env_value(var("RLCOACH_SESSION_KEY").as_deref())?;
    let coach_monthly_tokens = match coach()? {
        Some((_, limits)) => limits.monthly_tokens,
        None => CoachConfig::default().monthly_tokens,
    };
    Ok(crate::web::WebSettings {
        addr,
        base,
        discord,
        session_key,
        session_ttl: Duration::from_secs(
            parsed("RLCOACH_SESSION_DAYS", 30u64)?.clamp(1, 365) * 86_400,
        ),
        max_replay_bytes: pool()?.limits.max_bytes,
        coach_monthly_tokens,
        stripe: rlcoach::billing::StripeConfig::from_vars(var)?,
        pro_price: var("RLCOACH_PRO_PRICE").unwrap_or_else(|| "$10 / month".to_string()),
        server: web_server()?,
    })
}
