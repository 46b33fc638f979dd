//! The durable job queue. States: queued → running → done | failed. A worker claims one job
//! under a lease (a random token and an expiry); it extends the lease with heartbeats and can
//! only finish the job while it still holds that token. A job whose lease expired (its worker
//! crashed or the process restarted) is claimed again; a finished job never is.
//!
//! Claiming is one `UPDATE … WHERE job_id = (SELECT … LIMIT 1) RETURNING`: on PostgreSQL the
//! sub-select takes `FOR UPDATE SKIP LOCKED`, on SQLite the write transaction is exclusive.

use std::time::Duration;

use sqlx::Row;

use super::{Backend, Result, Store, new_id, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub(super) fn parse(s: &str) -> JobState {
        match s {
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => JobState::Queued,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub job_id: String,
    pub replay_id: String,
    /// 1 on the first run.
    pub attempt: i64,
    pub max_attempts: i64,
    pub lease_token: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

impl Store {
    /// Claims the oldest runnable job: queued and due, or running with an expired lease.
    pub async fn claim_job(&self, lease: Duration) -> Result<Option<ClaimedJob>> {
        let now = now_ms();
        let token = new_id();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = $1, lease_until = $2
             WHERE job_id = (
                 SELECT job_id FROM jobs
                 WHERE ((state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3))
                   AND attempts < max_attempts
                 ORDER BY created_at, job_id LIMIT 1{lock})
             RETURNING job_id, replay_id, attempts, max_attempts"
        );
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&token)
            .bind(now + lease.as_millis() as i64)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ClaimedJob {
            job_id: row.try_get(0)?,
            replay_id: row.try_get(1)?,
            attempt: row.try_get(2)?,
            max_attempts: row.try_get(3)?,
            lease_token: token,
        }))
    }

    /// Jobs whose worker died on their last allowed attempt are failed, not retried forever.
    /// Returns their replay ids so that waiting uploaders get an answer.
    pub async fn fail_abandoned_jobs(&self) -> Result<Vec<String>> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'failed', finished_at = $1, lease_token = NULL,
                 last_error = 'analysis did not finish after several attempts'
             WHERE state = 'running' AND lease_until < $1 AND attempts >= max_attempts
             RETURNING replay_id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Extends the lease; false when the job is no longer ours (expired and re-claimed).
    pub async fn heartbeat(&self, job: &ClaimedJob, lease: Duration) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE job_id = $2 AND lease_token = $3 AND state = 'running'",
        )
        .bind(now_ms() + lease.as_millis() as i64)
        .bind(&job.job_id)
        .bind(&job.lease_token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a failed attempt: retried at `retry_at` (unix ms) or, when None, failed for good.
    /// `user_error` marks failures caused by the file itself (shown to every later uploader).
    pub async fn fail_job(
        &self,
        job: &ClaimedJob,
        error: &str,
        user_error: bool,
        retry_at: Option<i64>,
    ) -> Result<bool> {
        let now = now_ms();
        let r = match retry_at {
            Some(at) => {
                sqlx::query(
                    "UPDATE jobs SET state = 'queued', run_after = $1, lease_token = NULL, lease_until = NULL, last_error = $2
                     WHERE job_id = $3 AND lease_token = $4 AND state = 'running'",
                )
                .bind(at)
                .bind(error)
                .bind(&job.job_id)
                .bind(&job.lease_token)
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE jobs SET state = 'failed', finished_at = $1, lease_token = NULL, last_error = $2, user_error = $3
                     WHERE job_id = $4 AND lease_token = $5 AND state = 'running'",
                )
                .bind(now)
                .bind(error)
                .bind(i64::from(user_error))
                .bind(&job.job_id)
                .bind(&job.lease_token)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(r.rows_affected() == 1)
    }

    /// Puts a running job of ours back in the queue at once (graceful shutdown).
    pub async fn release_job(&self, job: &ClaimedJob) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, lease_token = NULL, lease_until = NULL, run_after = $1
             WHERE job_id = $2 AND lease_token = $3 AND state = 'running'",
        )
        .bind(now_ms())
        .bind(&job.job_id)
        .bind(&job.lease_token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn queue_stats(&self) -> Result<QueueStats> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut s = QueueStats::default();
        for r in rows {
            let n: i64 = r.try_get(1)?;
            match JobState::parse(&r.try_get::<String, _>(0)?) {
                JobState::Queued => s.queued = n,
                JobState::Running => s.running = n,
                JobState::Done => s.done = n,
                JobState::Failed => s.failed = n,
            }
        }
        Ok(s)
    }

    /// The analysis job's state for a replay, with its last error.
    pub async fn job_state(
        &self,
        replay_id: &str,
    ) -> Result<Option<(JobState, Option<String>, i64)>> {
        let row = sqlx::query("SELECT state, last_error, attempts FROM jobs WHERE replay_id = $1 AND kind = 'analyze'")
            .bind(replay_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                JobState::parse(&r.try_get::<String, _>(0)?),
                r.try_get(1)?,
                r.try_get(2)?,
            ))
        })
        .transpose()
    }

    /// Earliest `run_after` among queued jobs (to sleep until a backoff ends).
    pub async fn next_due(&self) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT MIN(run_after) FROM jobs WHERE state = 'queued'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }
}
