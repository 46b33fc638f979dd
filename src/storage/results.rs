//! Finishing a job: the report, the players seen and the per-player stat rows are written in the
//! same transaction that marks the job done (and only while the worker still holds the lease),
//! so a result is stored exactly once. Also the delivery bookkeeping: which uploaders still wait.

use sqlx::Row;

use super::jobs::ClaimedJob;
use super::queries::MECHANICS;
use super::scope::{UserId, Viewer};
use super::{Result, StorageError, Store, now_ms};
use crate::report::{PlayerReport, Report};

/// An uploader who has not been answered yet, for a replay whose job has finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub upload_id: String,
    pub replay_id: String,
    pub user_id: UserId,
    pub guild_id: Option<i64>,
    pub channel_id: Option<i64>,
    pub message_id: Option<i64>,
    pub reply_message_id: Option<i64>,
    pub file_name: Option<String>,
    pub interaction_token: Option<String>,
    pub application_id: Option<i64>,
    /// When the upload was made (unix ms); interaction tokens expire 15 minutes after.
    pub created_at: i64,
    /// None when the analysis succeeded; the user-facing error otherwise.
    pub error: Option<String>,
    /// The answer is for the uploader alone: never posted in a channel.
    pub private_reply: bool,
    /// Failed attempts to send this answer so far.
    pub attempts: i64,
}

/// Why sending an answer failed, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// It may work later (Discord 5xx or 429, a timeout, our database): retried with backoff.
    Transient,
    /// It never will (the status message deleted, 400, 401): given up at once.
    Permanent,
}

/// What became of a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryRetry {
    /// Owed again at this time (unix ms).
    At(i64),
    /// Given up for good (permanent, or past [`DELIVERY_MAX_AGE_MS`]); the result stays in
    /// `/replays`.
    GaveUp,
}

/// First retry after this long; each further one waits twice as long, up to the cap.
pub const DELIVERY_BACKOFF_MS: i64 = 2_000;
pub const DELIVERY_BACKOFF_CAP_MS: i64 = 10 * 60_000;
/// An answer still failing this long after the upload is given up.
pub const DELIVERY_MAX_AGE_MS: i64 = 24 * 3_600_000;

/// The wait before retry number `attempt` (1-based): 2 s, 4 s, 8 s, … capped at 10 minutes.
pub fn delivery_backoff_ms(attempt: i64) -> i64 {
    let doublings = u32::try_from((attempt - 1).clamp(0, 20)).unwrap_or(20);
    DELIVERY_BACKOFF_MS
        .saturating_mul(1 << doublings)
        .min(DELIVERY_BACKOFF_CAP_MS)
}

/// A multi-replay message whose every file has been answered: its series summary is owed.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSummary {
    pub channel_id: Option<i64>,
    /// The uploads' answers were private: the summary goes to the uploader alone.
    pub private_reply: bool,
    /// Replays of the message that were analyzed, in upload order.
    pub analyzed: Vec<String>,
    /// Files that were refused or failed: (file name, why).
    pub failed: Vec<(String, String)>,
}

impl Delivery {
    /// The uploader, who may always read what they uploaded.
    pub fn uploader(&self) -> Viewer {
        Viewer::user(self.user_id)
    }
}

impl Store {
    /// Stores the report and marks the job done. Returns false (and writes nothing) when the
    /// lease was lost: another worker owns the job now.
    pub async fn complete_job(&self, job: &ClaimedJob, report: &Report) -> Result<bool> {
        let json =
            serde_json::to_string(report).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let owned = sqlx::query(
            "UPDATE jobs SET state = 'done', finished_at = $1, lease_token = NULL, last_error = NULL
             WHERE job_id = $2 AND lease_token = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(&job.job_id)
        .bind(&job.lease_token)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !owned {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO analyses (replay_id, analyzer_version, schema_version, report_json, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (replay_id) DO UPDATE SET analyzer_version = excluded.analyzer_version,
                 schema_version = excluded.schema_version, report_json = excluded.report_json,
                 created_at = excluded.created_at",
        )
        .bind(&job.replay_id)
        .bind(&report.analyzer_version)
        .bind(i64::from(report.schema_version))
        .bind(&json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let uploaded: i64 = sqlx::query("SELECT created_at FROM replays WHERE replay_id = $1")
            .bind(&job.replay_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let played_at = report
            .metadata
            .started_at_unix
            .map_or(uploaded, |s| s * 1000);
        // In one order (platform, id): two copies of one match stored at once upsert the same
        // `players` rows, and on PostgreSQL two orders could deadlock.
        let mut players: Vec<&PlayerReport> = report.players.iter().collect();
        players.sort_by(|a, b| a.id.cmp(&b.id));
        for p in players {
            save_player(&mut tx, &job.replay_id, report, p, played_at, now).await?;
        }
        let key = self.match_key(&mut tx, &job.replay_id, report).await?;
        // Hides made from this copy (before its analysis, or under a key an earlier analysis
        // gave it) follow its key.
        for q in [
            // A player is in the network data when their movement was measured.
            "UPDATE game_stats SET match_key = $1,
                 in_network = CASE WHEN avg_speed_uu_s IS NOT NULL THEN 1 ELSE 0 END
             WHERE replay_id = $2",
            "UPDATE hidden_games SET match_key = $1 WHERE replay_id = $2",
            // Copies of one match: every row of it looks for the preferred copy.
            "UPDATE game_stats SET has_twin = 1
             WHERE match_key = $1 AND has_twin = 0
               AND EXISTS (SELECT 1 FROM game_stats o WHERE o.match_key = $1 AND o.replay_id <> $2)",
        ] {
            sqlx::query(q)
                .bind(&key)
                .bind(&job.replay_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The match a replay's game rows belong to (see [`match_key`]): the key of an earlier
    /// replay claiming the same match GUID whose content agrees with this one, else its own id.
    /// Stores the replay's content digest for the copies that come after it.
    async fn match_key(
        &self,
        tx: &mut sqlx::AnyConnection,
        replay_id: &str,
        report: &Report,
    ) -> Result<String> {
        let content = content_key(report);
        sqlx::query("UPDATE replays SET content_key = $1 WHERE replay_id = $2")
            .bind(content.as_deref())
            .bind(replay_id)
            .execute(&mut *tx)
            .await?;
        let (Some(guid), Some(content)) = (report.metadata.match_guid.as_deref(), content) else {
            return Ok(replay_id.to_string());
        };
        if self.backend == super::Backend::Postgres {
            // Two copies of one match finishing at once must not both miss each other.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("match:{guid}"))
                .execute(&mut *tx)
                .await?;
        }
        // Replays stored before content digests existed have none: they are compared from their
        // reports, after the ones whose digest agrees.
        // One candidate per match already stored (the copy whose id is its key), oldest first;
        // replays stored before content digests existed have none and are compared from their
        // reports, after the ones whose digest agrees.
        let twins = sqlx::query(
            "SELECT a.report_json, r.replay_id
             FROM replays r JOIN analyses a ON a.replay_id = r.replay_id
             WHERE r.claimed_guid = $1 AND (r.content_key = $2 OR r.content_key IS NULL)
               AND r.replay_id <> $3
               AND EXISTS (SELECT 1 FROM game_stats g WHERE g.replay_id = r.replay_id AND g.match_key = r.replay_id)
             ORDER BY CASE WHEN r.content_key IS NULL THEN 1 ELSE 0 END, r.created_at, r.replay_id
             LIMIT 32",
        )
        .bind(guid)
        .bind(&content)
        .bind(replay_id)
        .fetch_all(&mut *tx)
        .await?;
        for row in &twins {
            let (json, key): (String, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
            let Some(key) = key else { continue };
            let Ok(other) = serde_json::from_str::<Report>(&json) else {
                continue;
            };
            if same_match(report, &other) {
                return Ok(key);
            }
        }
        Ok(replay_id.to_string())
    }

    /// Queues a fresh analysis of every replay whose stored report came from another analyzer
    /// version; returns how many. Re-running replaces the report and the stat rows in place.
    pub async fn requeue_stale_analyses(&self, current_version: &str) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_after = $1, lease_token = NULL,
                 lease_until = NULL, last_error = NULL, finished_at = NULL
             WHERE kind = 'analyze' AND state = 'done'
               AND replay_id IN (SELECT replay_id FROM analyses WHERE analyzer_version <> $2)",
        )
        .bind(now_ms())
        .bind(current_version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    /// The stored report of a replay, if analyzed. Unscoped: readers go through
    /// [`Store::report`], which checks the viewer first.
    pub(super) async fn load_report(&self, replay_id: &str) -> Result<Option<Report>> {
        let row = sqlx::query("SELECT report_json FROM analyses WHERE replay_id = $1")
            .bind(replay_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let json: String = row.try_get(0)?;
        let mut report: Report =
            serde_json::from_str(&json).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        report.upgrade_stored();
        Ok(Some(report))
    }

    /// Uploaders still waiting for an answer whose job has finished (done or failed), oldest
    /// first; optionally only for one replay. Used after each completion and at start-up.
    pub async fn pending_deliveries(&self, replay_id: Option<&str>) -> Result<Vec<Delivery>> {
        self.deliveries(replay_id, None).await
    }

    /// Owed answers, optionally narrowed to one replay and/or one upload.
    async fn deliveries(
        &self,
        replay_id: Option<&str>,
        upload_id: Option<&str>,
    ) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT u.upload_id, u.replay_id, u.user_id, u.guild_id, u.channel_id, u.message_id,
                    u.reply_message_id, u.file_name, j.state, j.last_error, u.interaction_token,
                    u.application_id, u.created_at, u.private_reply, u.delivery_attempts
             FROM uploads u JOIN jobs j ON j.replay_id = u.replay_id AND j.kind = 'analyze'
             WHERE u.delivered_at IS NULL AND j.state IN ('done', 'failed')
               AND (u.delivering_until IS NULL OR u.delivering_until < $2)
               AND (u.next_delivery_at IS NULL OR u.next_delivery_at <= $2)
               AND ($1 IS NULL OR u.replay_id = $1)
               AND ($3 IS NULL OR u.upload_id = $3)
             ORDER BY u.created_at, u.upload_id",
        )
        .bind(replay_id)
        .bind(now_ms())
        .bind(upload_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let state: String = r.try_get(8)?;
                let error = (state == "failed").then(|| {
                    r.try_get::<Option<String>, _>(9)
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "analysis failed".into())
                });
                Ok(Delivery {
                    upload_id: r.try_get(0)?,
                    replay_id: r.try_get(1)?,
                    user_id: UserId::from_db(r.try_get(2)?),
                    guild_id: r.try_get(3)?,
                    channel_id: r.try_get(4)?,
                    message_id: r.try_get(5)?,
                    reply_message_id: r.try_get(6)?,
                    file_name: r.try_get(7)?,
                    interaction_token: r.try_get(10)?,
                    application_id: r.try_get(11)?,
                    created_at: r.try_get(12)?,
                    error,
                    private_reply: r.try_get::<i64, _>(13)? == 1,
                    attempts: r.try_get(14)?,
                })
            })
            .collect()
    }

    /// Uploads of a replay that have not been answered yet, whatever the job's state (for
    /// "analyzing…" updates).
    pub async fn waiting_uploads(
        &self,
        replay_id: &str,
    ) -> Result<Vec<(String, Option<i64>, Option<i64>, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT upload_id, channel_id, reply_message_id, file_name FROM uploads
             WHERE replay_id = $1 AND delivered_at IS NULL ORDER BY created_at, upload_id",
        )
        .bind(replay_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    /// One upload's delivery record, if it is still owed an answer and its job has finished.
    pub async fn pending_delivery(&self, upload_id: &str) -> Result<Option<Delivery>> {
        Ok(self.deliveries(None, Some(upload_id)).await?.pop())
    }

    /// Marks an upload answered. Returns false when it already was (someone else delivered it),
    /// so a caller that gets true is the only one that answers. The interaction token, a
    /// credential for 15 minutes, is forgotten.
    pub async fn mark_delivered(&self, upload_id: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE uploads SET delivered_at = $1, interaction_token = NULL
             WHERE upload_id = $2 AND delivered_at IS NULL",
        )
        .bind(now_ms())
        .bind(upload_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Claims an upload's answer for `lease` before sending it. False when it was delivered or
    /// someone else is sending it. A sender that crashes loses the claim when the lease ends and
    /// the answer is sent again: answers are edits of one message, so a repeat is harmless.
    pub async fn claim_delivery(
        &self,
        upload_id: &str,
        lease: std::time::Duration,
    ) -> Result<bool> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE uploads SET delivering_until = $1
             WHERE upload_id = $2 AND delivered_at IS NULL AND (delivering_until IS NULL OR delivering_until < $3)
               AND (next_delivery_at IS NULL OR next_delivery_at <= $3)",
        )
        .bind(now + lease.as_millis() as i64)
        .bind(upload_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// When the next owed answer becomes due (ms since the epoch): the earliest end of a claim
    /// still held (a sender that died holding it left that answer owed until then) or of a
    /// retry's backoff.
    pub async fn earliest_delivery_claim_end(&self) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN delivering_until IS NOT NULL AND delivering_until >= $1
                             THEN delivering_until ELSE next_delivery_at END)
             FROM uploads
             WHERE delivered_at IS NULL
               AND ((delivering_until IS NOT NULL AND delivering_until >= $1)
                    OR (next_delivery_at IS NOT NULL AND next_delivery_at >= $1))",
        )
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }

    /// When every file of a multi-file message has been answered or refused, returns where to
    /// post the series summary, the replays that were analyzed and the files that failed (with
    /// why) — once: the first caller claims it.
    pub async fn claim_batch_summary(&self, message_id: i64) -> Result<Option<BatchSummary>> {
        let rows = sqlx::query(
            "SELECT u.replay_id, u.channel_id, u.batch_size, u.delivered_at,
                    (SELECT COUNT(*) FROM analyses a WHERE a.replay_id = u.replay_id),
                    u.private_reply, u.file_name, j.last_error, u.delivery_failed
             FROM uploads u LEFT JOIN jobs j ON j.replay_id = u.replay_id AND j.kind = 'analyze'
             WHERE u.message_id = $1 ORDER BY u.created_at, u.upload_id",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        let refusals = sqlx::query(
            "SELECT file_name, reason FROM batch_refusals WHERE message_id = $1
             ORDER BY created_at, attachment_id",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        let expected: i64 = rows
            .iter()
            .find_map(|r| r.try_get::<Option<i64>, _>(2).ok().flatten())
            .unwrap_or(0);
        let delivered = rows
            .iter()
            .filter(|r| r.try_get::<Option<i64>, _>(3).ok().flatten().is_some())
            .count() as i64;
        if rows.is_empty() || expected < 2 || delivered + (refusals.len() as i64) < expected {
            return Ok(None);
        }
        let claimed = sqlx::query("INSERT INTO batch_summaries (message_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(message_id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1;
        if !claimed {
            return Ok(None);
        }
        let first = &rows[0];
        let mut analyzed = Vec::new();
        let mut failed = Vec::new();
        for r in &rows {
            let name = r
                .try_get::<Option<String>, _>(6)?
                .unwrap_or_else(|| "replay".into());
            if r.try_get::<i64, _>(4)? > 0 {
                let id: String = r.try_get(0)?;
                if !analyzed.contains(&id) {
                    analyzed.push(id);
                }
            } else {
                let why = r
                    .try_get::<Option<String>, _>(7)?
                    .unwrap_or_else(|| "the analysis failed".into());
                failed.push((name, why));
            }
        }
        for r in &refusals {
            failed.push((r.try_get(0)?, r.try_get(1)?));
        }
        Ok(Some(BatchSummary {
            channel_id: first.try_get(1)?,
            private_reply: first.try_get::<i64, _>(5)? == 1,
            analyzed,
            failed,
        }))
    }

    /// Records a failed attempt to send an upload's answer and releases its claim: a transient
    /// failure is owed again after a backoff (unless the upload is older than
    /// [`DELIVERY_MAX_AGE_MS`]); a permanent one is given up at once — marked answered, with the
    /// error kept, so nobody retries it and its result stays in `/replays`.
    pub async fn delivery_failed(
        &self,
        d: &Delivery,
        failure: DeliveryFailure,
        error: &str,
    ) -> Result<DeliveryRetry> {
        let now = now_ms();
        let attempt = d.attempts + 1;
        let give_up =
            failure == DeliveryFailure::Permanent || now - d.created_at > DELIVERY_MAX_AGE_MS;
        let error: String = error.chars().take(500).collect();
        if give_up {
            sqlx::query(
                "UPDATE uploads SET delivered_at = $1, delivery_failed = 1, delivery_error = $2,
                     delivery_attempts = $3, delivering_until = NULL, interaction_token = NULL
                 WHERE upload_id = $4 AND delivered_at IS NULL",
            )
            .bind(now)
            .bind(&error)
            .bind(attempt)
            .bind(&d.upload_id)
            .execute(&self.pool)
            .await?;
            return Ok(DeliveryRetry::GaveUp);
        }
        let at = now + delivery_backoff_ms(attempt);
        // Counted in SQL: two senders failing at once both count.
        sqlx::query(
            "UPDATE uploads SET delivery_attempts = delivery_attempts + 1, next_delivery_at = $1,
                 delivery_error = $2, delivering_until = NULL
             WHERE upload_id = $3 AND delivered_at IS NULL",
        )
        .bind(at)
        .bind(&error)
        .bind(&d.upload_id)
        .execute(&self.pool)
        .await?;
        Ok(DeliveryRetry::At(at))
    }

    /// A file of a multi-file message that never became an upload (refused at intake, or the
    /// queue was full): it counts for the series summary, which says why it failed.
    pub async fn record_batch_refusal(
        &self,
        user: UserId,
        message_id: i64,
        attachment_id: i64,
        file_name: &str,
        reason: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO batch_refusals (message_id, attachment_id, user_id, file_name, reason, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(message_id)
        .bind(attachment_id)
        .bind(user.get())
        .bind(file_name)
        .bind(reason)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes back a file's refusal (its Try again button was pressed): true for exactly one
    /// caller, so a file is retried once however often the button is pressed.
    pub async fn take_batch_refusal(
        &self,
        user: UserId,
        message_id: i64,
        attachment_id: i64,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "DELETE FROM batch_refusals WHERE message_id = $1 AND attachment_id = $2 AND user_id = $3",
        )
        .bind(message_id)
        .bind(attachment_id)
        .bind(user.get())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Whether an upload still waits for its answer and nobody is sending it (status updates
    /// such as "analyzing…" must never overwrite an answer).
    pub async fn is_unanswered(&self, upload_id: &str) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM uploads WHERE upload_id = $1 AND delivered_at IS NULL
               AND (delivering_until IS NULL OR delivering_until < $2)",
        )
        .bind(upload_id)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Gives a claimed upload back at once (sending the answer failed; retried later).
    pub async fn release_delivery(&self, upload_id: &str) -> Result<()> {
        sqlx::query("UPDATE uploads SET delivering_until = NULL WHERE upload_id = $1")
            .bind(upload_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Remembers the bot's status message for an upload, so a restart edits it instead of
    /// posting a second one.
    pub async fn set_reply_message(&self, upload_id: &str, message_id: i64) -> Result<()> {
        sqlx::query("UPDATE uploads SET reply_message_id = $1 WHERE upload_id = $2")
            .bind(message_id)
            .bind(upload_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

async fn save_player(
    tx: &mut sqlx::AnyConnection,
    replay_id: &str,
    r: &Report,
    p: &PlayerReport,
    played_at: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO players (platform, platform_id, last_name, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (platform, platform_id) DO UPDATE SET last_name = excluded.last_name, last_seen = excluded.last_seen",
    )
    .bind(&p.id.platform)
    .bind(&p.id.id)
    .bind(&p.name)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO player_names (platform, platform_id, name, last_seen) VALUES ($1, $2, $3, $4)
         ON CONFLICT (platform, platform_id, name) DO UPDATE SET last_seen = excluded.last_seen",
    )
    .bind(&p.id.platform)
    .bind(&p.id.id)
    .bind(&p.name)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let team = usize::from(p.team.min(1));
    let won = r.metadata.score[team] > r.metadata.score[1 - team];
    let m = |key: &str| crate::benchmarks::Metric::by_key(key).and_then(|m| m.value(p));
    let b = p.boost.as_ref();
    // Not a cached prepared statement (`persistent(false)`): PostgreSQL prepares a statement with
    // the parameter types of its first execution, and sqlx 0.9's Any driver binds a NULL
    // `Option<f64>` as FLOAT4 (`AnyArguments::convert_into` in sqlx-core swaps Real and Double
    // for NULLs), the type its server sends with the statement. A connection whose first row had
    // a NULL metric (a 1v1 player has no team-mate distance; a header-only report has no stats)
    // then rejected every later 8-byte value there: "incorrect binary data format in bind
    // parameter 36". A CAST in the SQL does not help, as the parameter's type comes with it.
    // Prepared per execution, each row's NULLs are typed on their own and assigned to the
    // DOUBLE PRECISION columns. SQLite is unaffected either way.
    sqlx::query(
        "INSERT INTO game_stats (replay_id, platform, platform_id, name, team, won, playlist, map, played_at, duration_s,
            score, goals, assists, saves, shots, demos, mvp, shooting_pct, bcpm, avg_boost_amount, pct_zero_boost,
            pct_full_boost, big_pads, small_pads, boost_stolen, avg_speed_uu_s, pct_supersonic, pct_slow_speed,
            pct_on_ground, pct_low_air, pct_high_air, pct_offensive_third, pct_defensive_third, pct_behind_ball,
            avg_distance_to_ball, avg_distance_to_teammates)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
            $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36)
         ON CONFLICT (replay_id, platform, platform_id) DO UPDATE SET
             name = excluded.name,
             team = excluded.team,
             won = excluded.won,
             playlist = excluded.playlist,
             map = excluded.map,
             played_at = excluded.played_at,
             duration_s = excluded.duration_s,
             score = excluded.score,
             goals = excluded.goals,
             assists = excluded.assists,
             saves = excluded.saves,
             shots = excluded.shots,
             demos = excluded.demos,
             mvp = excluded.mvp,
             shooting_pct = excluded.shooting_pct,
             bcpm = excluded.bcpm,
             avg_boost_amount = excluded.avg_boost_amount,
             pct_zero_boost = excluded.pct_zero_boost,
             pct_full_boost = excluded.pct_full_boost,
             big_pads = excluded.big_pads,
             small_pads = excluded.small_pads,
             boost_stolen = excluded.boost_stolen,
             avg_speed_uu_s = excluded.avg_speed_uu_s,
             pct_supersonic = excluded.pct_supersonic,
             pct_slow_speed = excluded.pct_slow_speed,
             pct_on_ground = excluded.pct_on_ground,
             pct_low_air = excluded.pct_low_air,
             pct_high_air = excluded.pct_high_air,
             pct_offensive_third = excluded.pct_offensive_third,
             pct_defensive_third = excluded.pct_defensive_third,
             pct_behind_ball = excluded.pct_behind_ball,
             avg_distance_to_ball = excluded.avg_distance_to_ball,
             avg_distance_to_teammates = excluded.avg_distance_to_teammates",
    )
    .bind(replay_id)
    .bind(&p.id.platform)
    .bind(&p.id.id)
    .bind(&p.name)
    .bind(i64::from(p.team))
    .bind(i64::from(won))
    .bind(r.metadata.playlist.as_str())
    .bind(r.metadata.map.as_deref())
    .bind(played_at)
    .bind(r.metadata.duration_seconds)
    .bind(i64::from(p.core.score))
    .bind(i64::from(p.core.goals))
    .bind(i64::from(p.core.assists))
    .bind(i64::from(p.core.saves))
    .bind(i64::from(p.core.shots))
    .bind(i64::from(p.core.demos_inflicted))
    .bind(i64::from(p.core.mvp))
    .bind(p.core.shooting_percentage)
    .bind(m("bcpm"))
    .bind(m("avg_boost_amount"))
    .bind(m("pct_zero_boost"))
    .bind(m("pct_full_boost"))
    .bind(b.map(|b| i64::from(b.count_collected_big)))
    .bind(b.map(|b| i64::from(b.count_collected_small)))
    .bind(m("boost_stolen"))
    .bind(m("avg_speed_uu_s"))
    .bind(m("pct_supersonic"))
    .bind(m("pct_slow_speed"))
    .bind(m("pct_on_ground"))
    .bind(m("pct_low_air"))
    .bind(m("pct_high_air"))
    .bind(m("pct_offensive_third"))
    .bind(m("pct_defensive_third"))
    .bind(m("pct_behind_ball"))
    .bind(m("avg_distance_to_ball"))
    .bind(m("avg_distance_to_teammates"))
    .persistent(false)
    .execute(&mut *tx)
    .await?;
    save_mechanics(tx, replay_id, p).await
}

/// Goal times of two copies of one match (seconds on each recording's own clock) may differ by
/// their frame timing; more than this and they are different games.
const GOAL_TIME_TOLERANCE_S: f64 = 1.0;

/// The content two replays of one match must share exactly, as a digest: the match GUID, the
/// players (platform, id, name, team and scoreboard line, sorted), the score, the start time and
/// map, and the goal scorers in order. A copy with one doctored number is another match, never merged into the real one. None for
/// a report without network data or without a GUID: such a replay is only ever its own match.
pub(crate) fn content_key(r: &Report) -> Option<String> {
    use sha2::{Digest, Sha256};
    let guid = r.metadata.match_guid.as_deref()?;
    if !r.quality.network_parsed {
        return None;
    }
    let mut players: Vec<String> = r
        .players
        .iter()
        .map(|p| {
            let c = &p.core;
            format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}/{}/{}/{}/{}",
                p.id.platform,
                p.id.id,
                p.name,
                p.team,
                c.score,
                c.goals,
                c.assists,
                c.saves,
                c.shots
            )
        })
        .collect();
    players.sort();
    let mut h = Sha256::new();
    h.update(guid.as_bytes());
    for p in &players {
        h.update([0x1e]);
        h.update(p.as_bytes());
    }
    h.update(format!("\u{1d}{}-{}", r.metadata.score[0], r.metadata.score[1]).as_bytes());
    // When and where it was played: a copy with another date or map is another game.
    h.update(
        format!(
            "\u{1d}{:?}\u{1d}{:?}",
            r.metadata.started_at_unix, r.metadata.map
        )
        .as_bytes(),
    );
    for (_, scorer, team) in goals(r) {
        h.update(format!("\u{1d}{scorer}/{team}").as_bytes());
    }
    Some(hex::encode(h.finalize()))
}

/// The report's goals in order: (seconds, scorer's id, team).
fn goals(r: &Report) -> Vec<(f64, String, u8)> {
    r.timeline
        .iter()
        .filter(|e| e.kind == crate::report::EventKind::Goal)
        .map(|e| {
            let scorer = e
                .player
                .and_then(|i| r.players.get(i))
                .map_or_else(String::new, |p| p.id.to_string());
            (e.t, scorer, e.team.unwrap_or(u8::MAX))
        })
        .collect()
}

/// Whether two analyzed replays are copies of one match: their content agrees (same GUID,
/// players and platform ids, score, goal scorers) and every goal happened at the same time,
/// within [`GOAL_TIME_TOLERANCE_S`]. Both must have network data.
pub(crate) fn same_match(a: &Report, b: &Report) -> bool {
    let (Some(ka), Some(kb)) = (content_key(a), content_key(b)) else {
        return false;
    };
    let (ga, gb) = (goals(a), goals(b));
    ka == kb
        && ga.len() == gb.len()
        && ga
            .iter()
            .zip(&gb)
            .all(|(x, y)| (x.0 - y.0).abs() <= GOAL_TIME_TOLERANCE_S && x.1 == y.1 && x.2 == y.2)
}

/// A player's mechanics counts in [`MECHANICS`]' order; None when not measured.
fn mechanics_counts(p: &PlayerReport) -> [Option<i64>; 9] {
    let m = p.mechanics.as_ref();
    let get = |f: fn(&crate::report::Mechanics) -> u32| m.map(|m| i64::from(f(m)));
    [
        get(|m| m.flips),
        get(|m| m.wavedashes),
        get(|m| m.half_flips),
        get(|m| m.speedflips),
        get(|m| m.aerials),
        get(|m| m.flip_resets),
        get(|m| m.ceiling_touches),
        get(|m| m.dribbles),
        get(|m| m.flicks),
    ]
}

/// Writes a player's mechanics counts on their stat row and marks it as holding them.
async fn save_mechanics(
    tx: &mut sqlx::AnyConnection,
    replay_id: &str,
    p: &PlayerReport,
) -> Result<()> {
    let sets: Vec<String> = MECHANICS
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = ${}", i + 4))
        .collect();
    let sql = format!(
        "UPDATE game_stats SET mechanics_stored = 1, {}
         WHERE replay_id = $1 AND platform = $2 AND platform_id = $3",
        sets.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(replay_id)
        .bind(&p.id.platform)
        .bind(&p.id.id);
    for v in mechanics_counts(p) {
        q = q.bind(v);
    }
    // Not cached, for the reason given in `save_player` (NULLs typed per execution).
    q.persistent(false).execute(&mut *tx).await?;
    Ok(())
}

impl Store {
    /// Fills the mechanics counts of stat rows written before `game_stats` had them, from the
    /// stored reports, up to `batch` replays at a time; returns how many replays it filled (0:
    /// none are left). Run by the site's sweeper.
    pub async fn backfill_mechanics(&self, batch: i64) -> Result<usize> {
        let ids: Vec<String> = sqlx::query(
            "SELECT DISTINCT replay_id FROM game_stats WHERE mechanics_stored = 0 LIMIT $1",
        )
        .bind(batch.max(1))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
        for id in &ids {
            let report = match self.load_report(id).await {
                Ok(r) => r,
                Err(StorageError::Corrupt(e)) => {
                    tracing::warn!(replay_id = %id, error = %e, "no mechanics: the stored report does not decode");
                    None
                }
                Err(e) => return Err(e),
            };
            let mut tx = self.write_tx().await?;
            for p in report.iter().flat_map(|r| &r.players) {
                save_mechanics(&mut tx, id, p).await?;
            }
            // Rows the report does not explain keep NULL counts, and are not looked at again.
            sqlx::query(
                "UPDATE game_stats SET mechanics_stored = 1 WHERE replay_id = $1 AND mechanics_stored = 0",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(ids.len())
    }
}
