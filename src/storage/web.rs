//! The web site's persistent state: login sessions (an opaque id the site puts in a signed
//! cookie, a per-session CSRF token, an expiry), the 30-day grace period of an account deletion
//! asked for on the web, and the status of the viewer's own uploads. No HTTP types: the site in
//! `commands/` turns these into cookies and pages.

use sqlx::Row;

use super::jobs::JobState;
use super::scope::{UserId, Viewer};
use super::users::ensure_user;
use super::{Result, Store, now_ms};

/// How long an account deletion waits for the user to change their mind (a login cancels it).
pub const DELETION_GRACE_MS: i64 = 30 * 24 * 3600 * 1000;

/// A live login session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// Random, 256 bits; the cookie carries it signed.
    pub id: String,
    pub user: UserId,
    /// Every state-changing form of this session carries it.
    pub csrf_token: String,
    pub expires_at: i64,
}

/// Where one of the viewer's uploads is: queued, analyzing, done or failed (with the reason).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UploadStatus {
    pub upload_id: String,
    pub replay_id: String,
    pub file_name: Option<String>,
    /// `queued`, `analyzing`, `done` or `failed`.
    pub state: &'static str,
    pub error: Option<String>,
}

/// 256 random bits as hex (two v4 UUIDs: 244 random bits).
fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Store {
    /// Opens a session for `user` lasting `ttl_ms`. Logging in cancels a pending deletion.
    pub async fn create_web_session(&self, user: UserId, ttl_ms: i64) -> Result<WebSession> {
        let now = now_ms();
        let session = WebSession {
            id: random_token(),
            user,
            csrf_token: random_token(),
            expires_at: now + ttl_ms.max(1),
        };
        let mut tx = self.write_tx().await?;
        ensure_user(&mut tx, user.get()).await?;
        sqlx::query(
            "INSERT INTO web_sessions (session_id, user_id, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.id)
        .bind(user.get())
        .bind(&session.csrf_token)
        .bind(now)
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE users SET deletion_requested_at = NULL WHERE user_id = $1")
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The session with this id, unless it expired or was ended.
    pub async fn web_session(&self, id: &str) -> Result<Option<WebSession>> {
        let row = sqlx::query(
            "SELECT session_id, user_id, csrf_token, expires_at FROM web_sessions
             WHERE session_id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(WebSession {
                id: r.try_get(0)?,
                user: UserId::from_db(r.try_get(1)?),
                csrf_token: r.try_get(2)?,
                expires_at: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Ends a session (logout). True when it existed.
    pub async fn end_web_session(&self, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM web_sessions WHERE session_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Removes expired sessions; returns how many.
    pub async fn sweep_web_sessions(&self) -> Result<u64> {
        let r = sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// Asks for the viewer's account to be deleted after [`DELETION_GRACE_MS`]; their other
    /// sessions end now. Returns when the deletion will happen.
    pub async fn request_deletion(&self, viewer: &Viewer) -> Result<i64> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        ensure_user(&mut tx, viewer.user.get()).await?;
        sqlx::query(
            "UPDATE users SET deletion_requested_at = COALESCE(deletion_requested_at, $1)
             WHERE user_id = $2",
        )
        .bind(now)
        .bind(viewer.user.get())
        .execute(&mut *tx)
        .await?;
        let at: i64 = sqlx::query("SELECT deletion_requested_at FROM users WHERE user_id = $1")
            .bind(viewer.user.get())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(viewer.user.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(at + DELETION_GRACE_MS)
    }

    /// When the viewer's pending deletion will happen, if one is pending.
    pub async fn deletion_due(&self, viewer: &Viewer) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT deletion_requested_at FROM users WHERE user_id = $1")
            .bind(viewer.user.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<Option<i64>, _>(0))
            .transpose()?
            .flatten()
            .map(|at| at + DELETION_GRACE_MS))
    }

    /// Deletes (as [`Store::delete_user`]) every account whose grace period ended by `now`;
    /// returns the users deleted. System work, run by the site's sweeper.
    pub async fn purge_due_deletions(&self, now: i64) -> Result<Vec<UserId>> {
        let due: Vec<i64> = sqlx::query(
            "SELECT user_id FROM users WHERE deletion_requested_at IS NOT NULL
               AND deletion_requested_at <= $1",
        )
        .bind(now - DELETION_GRACE_MS)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(due.len());
        for user in due {
            let user = UserId::from_db(user);
            self.delete_user(&Viewer::user(user)).await?;
            out.push(user);
        }
        Ok(out)
    }

    /// The status of the viewer's own uploads among `upload_ids` (others' ids are left out).
    pub async fn upload_statuses(
        &self,
        viewer: &Viewer,
        upload_ids: &[String],
    ) -> Result<Vec<UploadStatus>> {
        let mut out = Vec::with_capacity(upload_ids.len());
        for id in upload_ids.iter().take(50) {
            let Some(r) = sqlx::query(
                "SELECT u.upload_id, u.replay_id, u.file_name, j.state, j.last_error, j.user_error,
                        (SELECT 1 FROM analyses a WHERE a.replay_id = u.replay_id)
                 FROM uploads u LEFT JOIN jobs j ON j.replay_id = u.replay_id AND j.kind = 'analyze'
                 WHERE u.upload_id = $1 AND u.user_id = $2",
            )
            .bind(id)
            .bind(viewer.user.get())
            .fetch_optional(&self.pool)
            .await?
            else {
                continue;
            };
            let job: Option<String> = r.try_get(3)?;
            let analyzed = r.try_get::<Option<i64>, _>(6)?.is_some();
            // Only a reason the file itself caused is the user's to read; ours stay in logs.
            let reason = match r.try_get::<Option<i64>, _>(5)? {
                Some(1) => r.try_get::<Option<String>, _>(4)?,
                _ => Some("Something went wrong on our side analyzing this replay.".into()),
            };
            let (state, error) = match job.as_deref().map(JobState::parse) {
                Some(JobState::Failed) => ("failed", reason),
                Some(JobState::Running) => ("analyzing", None),
                Some(JobState::Queued) if !analyzed => ("queued", None),
                _ if analyzed => ("done", None),
                _ => ("queued", None),
            };
            out.push(UploadStatus {
                upload_id: r.try_get(0)?,
                replay_id: r.try_get(1)?,
                file_name: r.try_get(2)?,
                state,
                error,
            });
        }
        Ok(out)
    }
}
