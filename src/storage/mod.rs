//! Persistent storage: SQLite (default, a file in the data directory, WAL) or PostgreSQL
//! (`DATABASE_URL=postgres://…`), through one `sqlx::AnyPool` and one set of portable migrations
//! in `migrations/`. Replay files are stored content-addressed under the data directory.
//!
//! Submodules: `scope` (who is asking: `Viewer`, `UserId`, and the read rules), `replays`
//! (intake, dedup), `files` (replay files on disk, the orphan sweep), `jobs` (the durable queue),
//! `results` (saving analyses and per-player rows, deliveries), `users` (users, guilds, claimed
//! and verified identities, export, delete), `queries` (reports, trends, sessions, comparisons,
//! leaderboards — all scoped to the asker), `coach` (plans, conversations, the token ledger),
//! `billing` (Stripe events and subscriptions, Discord entitlements → plan rows), `web` (the
//! site's login sessions, deletion grace period, upload statuses).

pub mod billing;
pub mod coach;
mod files;
mod jobs;
mod oauth_states;
pub mod queries;
mod replays;
mod results;
pub mod scope;
mod users;
pub mod web;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Transaction};

pub use billing::{
    Applied, BillingStatus, Entitlement, PastDueNotice, PlanGrant, SubscriptionView,
};
pub use coach::{
    BudgetStatus, Conversation, NewMessage, Note, NoteCategory, NoteSource, Plan, PlanSource,
    Reservation, Settled, StoredMessage, Tier,
};
pub use files::SweepReport;
pub use jobs::{ClaimedJob, JobState, QueueStats};
pub use replays::{NewUpload, OverQuota, SubmitOutcome, UploadQuota};
pub use results::{
    BatchSummary, DELIVERY_MAX_AGE_MS, Delivery, DeliveryFailure, DeliveryRetry,
    delivery_backoff_ms,
};
pub use scope::{UserId, Viewer};
pub use users::{
    ClaimableIdentity, CoachExport, ConversationExport, DiscordConnection, EXPORT_MAX_GAMES,
    GuildSettings, LinkState, LinkedIdentity, Profile, UserExport, VerifyOutcome,
    identity_from_connection, is_verifiable,
};
pub use web::{DELETION_GRACE_MS, UploadStatus, WebSession};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("file storage error at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("unsupported DATABASE_URL (use sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
    #[error("stored report is unreadable: {0}")]
    Corrupt(String),
    #[error("not found")]
    NotFound,
    #[error("you can't see that player's stats: their profile is private")]
    Forbidden,
    #[error("{0}")]
    Invalid(String),
    #[error("daily upload quota reached ({} files, {} bytes)", .0.files, .0.bytes)]
    OverQuota(Box<replays::OverQuota>),
}

impl StorageError {
    /// What a user may be told (internal details stay in logs).
    pub fn user_message(&self) -> String {
        match self {
            StorageError::NotFound => "Nothing found.".into(),
            StorageError::Forbidden | StorageError::Invalid(_) => self.to_string(),
            StorageError::OverQuota(q) => q.user_message(),
            _ => "The database is having trouble right now; please try again in a minute.".into(),
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Where data lives. `database_url` None means SQLite at `<data_dir>/rlcoach.db`.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub max_connections: u32,
}

impl StorageConfig {
    pub fn sqlite_in(data_dir: impl Into<PathBuf>) -> Self {
        StorageConfig {
            database_url: None,
            data_dir: data_dir.into(),
            max_connections: 8,
        }
    }
}

/// The handle everything persistent goes through. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    data_dir: PathBuf,
}

impl Store {
    /// Connects (creating the SQLite file and data directory if needed) and applies migrations.
    pub async fn open(config: &StorageConfig) -> Result<Store> {
        install_default_drivers();
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StorageError::Io {
            path: config.data_dir.clone(),
            source,
        })?;
        let url = match &config.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                config.data_dir.join("rlcoach.db").display()
            ),
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StorageError::UnsupportedUrl(redact(&url)));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Reads through a memory map (up to 1 GiB of the file, pages shared by
                        // every connection) instead of a read() and a copy per page: the site's
                        // lists walk thousands of stat rows spread between the stored reports,
                        // more than SQLite's 2 MB page cache per connection holds.
                        sqlx::query("PRAGMA mmap_size = 1073741824")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        if backend == Backend::Sqlite {
            // Persistent in the file: readers never block the writer.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        let store = Store {
            pool,
            backend,
            data_dir: config.data_dir.clone(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool, for administration and tests; application code goes through the
    /// methods of `Store`.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`), so two
    /// writers queue on the busy timeout instead of failing on a lock upgrade.
    async fn write_tx(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A URL with any password replaced, for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgres://h/db"), "postgres://h/db");
    }
}
