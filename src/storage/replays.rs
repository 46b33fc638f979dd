//! Intake persistence: store the file content-addressed, dedup by sha256 (identical bytes are one
//! replay), record every uploader, and queue one analysis job per distinct replay — all in one
//! transaction, so fifty concurrent drops of the same replay produce one job and fifty uploads.
//!
//! **Invariant:** an upload points at the replay made from the bytes it sent. A replay is
//! unsigned (anyone can edit its header and re-seal both CRCs), so the match GUID a header
//! claims merges nothing and grants nothing: it is stored as `claimed_guid`, and the analysis
//! decides whether two replays are the same match by their content (`results::match_key`).

use sqlx::Row;

use super::scope::UserId;
use super::{Result, StorageError, Store, new_id, now_ms};

/// Who dropped a replay and where (Discord ids; the core does not interpret them).
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub user_id: UserId,
    pub guild_id: Option<i64>,
    pub channel_id: Option<i64>,
    pub message_id: Option<i64>,
    /// The bot's status message for this upload, edited with the result.
    pub reply_message_id: Option<i64>,
    pub file_name: Option<String>,
    /// Slash-command uploads: the interaction token and application id used to edit the
    /// original response (tokens last 15 minutes).
    pub interaction_token: Option<String>,
    pub application_id: Option<i64>,
    /// How many replays the user's message carried (for the series summary).
    pub batch_size: Option<i64>,
    /// The answer goes to the uploader alone (ephemeral /analyze, a server in private reply
    /// mode). Uploads without a guild (DMs) are always private.
    pub private_reply: bool,
}

impl NewUpload {
    /// An upload by `user` with nothing else known yet (fill in the rest with struct update).
    pub fn by(user: UserId) -> NewUpload {
        NewUpload {
            user_id: user,
            guild_id: None,
            channel_id: None,
            message_id: None,
            reply_message_id: None,
            file_name: None,
            interaction_token: None,
            application_id: None,
            batch_size: None,
            private_reply: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SubmitOutcome {
    /// Already analyzed: answer at once from storage.
    Analyzed {
        upload_id: String,
        replay_id: String,
    },
    /// Analysis already failed for a reason in the file itself: answer with it at once.
    Failed {
        upload_id: String,
        replay_id: String,
        message: String,
    },
    /// Waiting for a worker; `position` 0 means running now.
    Pending {
        upload_id: String,
        replay_id: String,
        position: i64,
    },
    /// The queue is full; nothing was recorded.
    Busy { queued: i64 },
}

pub const ANALYZE_JOB: &str = "analyze";

/// What one user may upload in a rolling day (every file counts, on the bot and the site alike,
/// with its size, even when the same bytes were stored before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadQuota {
    pub files_per_day: i64,
    pub bytes_per_day: i64,
}

impl Default for UploadQuota {
    fn default() -> Self {
        UploadQuota {
            files_per_day: 300,
            bytes_per_day: 750 * 1024 * 1024,
        }
    }
}

/// A user's upload over their daily quota: what they used and when the oldest upload in the
/// window leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverQuota {
    pub files: i64,
    pub bytes: i64,
    pub quota: UploadQuota,
    /// Unix ms at which the window has room again (at least for one more file).
    pub retry_at_ms: i64,
}

impl OverQuota {
    /// The friendly sentence for the uploader.
    pub fn user_message(&self) -> String {
        let mb = |b: i64| b / (1024 * 1024);
        let mins = ((self.retry_at_ms - super::now_ms()).max(0) + 59_999) / 60_000;
        let when = if mins >= 120 {
            format!("in about {} hours", (mins + 59) / 60)
        } else {
            format!("in about {} minutes", mins.max(1))
        };
        format!(
            "You've reached today's upload limit ({} files or {} MB a day; you've sent {} files, {} MB). \
             You can upload again {when}.",
            self.quota.files_per_day,
            mb(self.quota.bytes_per_day),
            self.files,
            mb(self.bytes),
        )
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Store {
    /// Records an upload of a validated replay (`replay_id` = sha256 hex of `bytes`). The same
    /// bytes seen before are never queued again; different bytes are always their own replay,
    /// whatever match GUID they claim. `max_queue` bounds the number of queued + running jobs;
    /// `quota` the files and bytes one user may upload in a day (refused with
    /// [`StorageError::OverQuota`], nothing recorded).
    #[allow(clippy::too_many_arguments)]
    pub async fn submit(
        &self,
        replay_id: &str,
        claimed_guid: Option<&str>,
        bytes: &[u8],
        upload: &NewUpload,
        max_queue: i64,
        max_attempts: i64,
        quota: &UploadQuota,
    ) -> Result<SubmitOutcome> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        self.check_quota(&mut tx, upload.user_id, bytes.len() as i64, quota, now)
            .await?;

        let mut canonical = find_replay(&mut tx, replay_id).await?;
        if canonical.is_none() {
            let queued: i64 =
                sqlx::query("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
            if queued >= max_queue {
                tx.rollback().await?;
                return Ok(SubmitOutcome::Busy { queued });
            }
            let path = self.replay_path(replay_id);
            let inserted = sqlx::query(
                "INSERT INTO replays (replay_id, claimed_guid, file_path, size_bytes, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(replay_id)
            .bind(claimed_guid)
            .bind(path.to_string_lossy().into_owned())
            .bind(bytes.len() as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if inserted {
                // The file is written only by the submit that created the row, inside its
                // transaction: a duplicate or a busy upload never leaves a file behind. (If the
                // commit fails, the sweep removes the file.)
                if let Err(e) = self.write_replay_file(replay_id, bytes).await {
                    tx.rollback().await?;
                    return Err(e);
                }
            }
            canonical = find_replay(&mut tx, replay_id).await?;
        }
        let canonical = canonical.ok_or(StorageError::NotFound)?;
        sqlx::query(
            "INSERT INTO jobs (job_id, kind, replay_id, state, attempts, max_attempts, run_after, created_at)
             VALUES ($1, $2, $3, 'queued', 0, $4, $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(new_id())
        .bind(ANALYZE_JOB)
        .bind(&canonical)
        .bind(max_attempts)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        super::users::ensure_user(&mut tx, upload.user_id.get()).await?;
        if let Some(g) = upload.guild_id {
            super::users::ensure_guild(&mut tx, g).await?;
        }
        let upload_id = new_id();
        sqlx::query(
            "INSERT INTO uploads (upload_id, replay_id, user_id, guild_id, channel_id, message_id, file_name, created_at,
                 interaction_token, application_id, reply_message_id, batch_size, private_reply)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&upload_id)
        .bind(&canonical)
        .bind(upload.user_id.get())
        .bind(upload.guild_id)
        .bind(upload.channel_id)
        .bind(upload.message_id)
        .bind(upload.file_name.as_deref())
        .bind(now)
        .bind(upload.interaction_token.as_deref())
        .bind(upload.application_id)
        .bind(upload.reply_message_id)
        .bind(upload.batch_size)
        .bind(i64::from(upload.private_reply || upload.guild_id.is_none()))
        .execute(&mut *tx)
        .await?;

        let analyzed = sqlx::query("SELECT 1 FROM analyses WHERE replay_id = $1")
            .bind(&canonical)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        let outcome = if analyzed {
            SubmitOutcome::Analyzed {
                upload_id,
                replay_id: canonical,
            }
        } else {
            let job = sqlx::query(
                "SELECT state, created_at, job_id, last_error, user_error FROM jobs WHERE kind = $1 AND replay_id = $2",
            )
            .bind(ANALYZE_JOB)
            .bind(&canonical)
            .fetch_one(&mut *tx)
            .await?;
            let state: String = job.try_get(0)?;
            let created: i64 = job.try_get(1)?;
            let job_id: String = job.try_get(2)?;
            match state.as_str() {
                "failed" if job.try_get::<i64, _>(4)? == 1 => SubmitOutcome::Failed {
                    upload_id,
                    replay_id: canonical,
                    message: job.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                },
                "failed" => {
                    // A failure of ours (timeouts, crashes): a new upload gets a fresh try.
                    sqlx::query(
                        "UPDATE jobs SET state = 'queued', attempts = 0, run_after = $1, last_error = NULL WHERE job_id = $2",
                    )
                    .bind(now)
                    .bind(&job_id)
                    .execute(&mut *tx)
                    .await?;
                    let position = queue_position(&mut tx, now, &job_id).await?;
                    SubmitOutcome::Pending {
                        upload_id,
                        replay_id: canonical,
                        position,
                    }
                }
                "running" => SubmitOutcome::Pending {
                    upload_id,
                    replay_id: canonical,
                    position: 0,
                },
                _ => {
                    let position = queue_position(&mut tx, created, &job_id).await?;
                    SubmitOutcome::Pending {
                        upload_id,
                        replay_id: canonical,
                        position,
                    }
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Refuses an upload of `size` bytes by `user` that would take them past `quota` in the last
    /// 24 hours. Inside the submit's write transaction (serialised per user on PostgreSQL), so
    /// parallel uploads cannot all slip under the limit.
    async fn check_quota(
        &self,
        tx: &mut sqlx::AnyConnection,
        user: UserId,
        size: i64,
        quota: &UploadQuota,
        now: i64,
    ) -> Result<()> {
        if self.backend == super::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("quota:{}", user.get()))
                .execute(&mut *tx)
                .await?;
        }
        let since = now - DAY_MS;
        let row = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(r.size_bytes), 0) AS BIGINT), MIN(u.created_at)
             FROM uploads u JOIN replays r ON r.replay_id = u.replay_id
             WHERE u.user_id = $1 AND u.created_at > $2",
        )
        .bind(user.get())
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        let (files, bytes): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        if files < quota.files_per_day && bytes.saturating_add(size) <= quota.bytes_per_day {
            return Ok(());
        }
        // When enough of the window has left it: the uploads leave it oldest first, and the
        // file fits once both the count and the bytes left are under the quota. Read from the
        // oldest upload that must leave for the count (OFFSET), then on until the bytes fit.
        let must_leave = (files - quota.files_per_day + 1).max(0);
        let rows = sqlx::query(
            "SELECT u.created_at, r.size_bytes FROM uploads u JOIN replays r ON r.replay_id = u.replay_id
             WHERE u.user_id = $1 AND u.created_at > $2
             ORDER BY u.created_at, u.upload_id LIMIT 10000 OFFSET $3",
        )
        .bind(user.get())
        .bind(since)
        .bind((must_leave - 1).max(0))
        .fetch_all(&mut *tx)
        .await?;
        // Bytes of the uploads skipped by the OFFSET leave the window too.
        let skipped: i64 = if must_leave > 1 {
            sqlx::query(
                "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM (
                   SELECT r.size_bytes FROM uploads u JOIN replays r ON r.replay_id = u.replay_id
                   WHERE u.user_id = $1 AND u.created_at > $2
                   ORDER BY u.created_at, u.upload_id LIMIT $3) AS s",
            )
            .bind(user.get())
            .bind(since)
            .bind(must_leave - 1)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?
        } else {
            0
        };
        let mut retry_at = now + DAY_MS;
        let mut b = bytes - skipped;
        for (k, r) in rows.iter().enumerate() {
            let (at, sz): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
            b -= sz;
            retry_at = at + DAY_MS;
            let f = files - (must_leave.max(1) - 1) - (k as i64 + 1);
            if f < quota.files_per_day && b.saturating_add(size) <= quota.bytes_per_day {
                break;
            }
        }
        Err(StorageError::OverQuota(Box::new(OverQuota {
            files,
            bytes,
            quota: *quota,
            retry_at_ms: retry_at,
        })))
    }

    /// The stored bytes of a replay.
    pub(crate) async fn replay_bytes(&self, replay_id: &str) -> Result<Vec<u8>> {
        let path: String = sqlx::query("SELECT file_path FROM replays WHERE replay_id = $1")
            .bind(replay_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?
            .try_get(0)?;
        tokio::fs::read(&path)
            .await
            .map_err(|source| StorageError::Io {
                path: path.into(),
                source,
            })
    }
}

async fn find_replay(tx: &mut sqlx::AnyConnection, replay_id: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT replay_id FROM replays WHERE replay_id = $1")
        .bind(replay_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// 1 + the number of queued jobs created before this one.
async fn queue_position(tx: &mut sqlx::AnyConnection, created: i64, job_id: &str) -> Result<i64> {
    let ahead: i64 = sqlx::query(
        "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND (created_at < $1 OR (created_at = $1 AND job_id < $2))",
    )
    .bind(created)
    .bind(job_id)
    .fetch_one(&mut *tx)
    .await?
    .try_get(0)?;
    Ok(ahead + 1)
}
