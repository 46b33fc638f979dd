//! The coach's storage: plans (one row per source), conversations and their append-only
//! history, notes, and the token ledger with reserve-then-settle.
//!
//! Budget invariant: `used_tokens + reserved_tokens <= limit` for every (user, period) row after
//! every transaction. A reservation is taken only when it fits (checked and written in one
//! transaction under the row's lock: `BEGIN IMMEDIATE` on SQLite, `FOR UPDATE` on PostgreSQL);
//! settling swaps the reservation for the real usage, clamped to what was reserved (tokens a
//! call used beyond its reservation are our cost, never the user's). A reservation row is
//! removed exactly once — by its settle or by the sweeper, whichever deletes it — and only that
//! transaction moves its tokens out of `reserved_tokens`.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::scope::{UserId, Viewer};
use super::users::ensure_user;
use super::{Backend, Result, StorageError, Store, new_id, now_ms};
use crate::coach::model::{Message, Usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Pro,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Pro => "pro",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        match s.trim().to_ascii_lowercase().as_str() {
            "free" => Some(Tier::Free),
            "pro" => Some(Tier::Pro),
            _ => None,
        }
    }
}

/// Where a plan comes from. The user is Pro when any source grants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanSource {
    /// `rlcoach plan set` (support, friends, tests).
    Operator,
    /// A Stripe subscription.
    Stripe,
    /// A Discord App Subscription entitlement.
    Discord,
}

impl PlanSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanSource::Operator => "operator",
            PlanSource::Stripe => "stripe",
            PlanSource::Discord => "discord",
        }
    }

    pub(super) fn parse(s: &str) -> Option<PlanSource> {
        match s {
            "operator" => Some(PlanSource::Operator),
            "stripe" => Some(PlanSource::Stripe),
            "discord" => Some(PlanSource::Discord),
            _ => None,
        }
    }
}

/// A user's plan as decided from all its sources, and the coach budget period it implies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub tier: Tier,
    /// The source granting Pro (the one lasting longest), None for Free.
    pub source: Option<PlanSource>,
    /// When Pro ends, if a source says so (ms).
    pub ends_at: Option<i64>,
    /// The budget period containing now: the granting source's billing period, else the
    /// calendar month (UTC).
    pub period_start: i64,
    pub period_end: i64,
}

impl Plan {
    pub fn is_pro(&self) -> bool {
        self.tier == Tier::Pro
    }
}

/// The calendar month (UTC) containing `ms`: (start, end) in ms.
pub fn month_bounds(ms: i64) -> (i64, i64) {
    let days = ms.div_euclid(86_400_000);
    let (y, m, _) = civil_from_days(days);
    let start = days_from_civil(y, m, 1);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let end = days_from_civil(ny, nm, 1);
    (start * 86_400_000, end * 86_400_000)
}

/// `YYYY-MM-DD` (UTC) of a ms timestamp.
pub fn date_string(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// ms at the start of a (UTC) day.
pub fn day_start(y: i64, m: u32, d: u32) -> i64 {
    days_from_civil(y, m, d) * 86_400_000
}

// Howard Hinnant's civil-date algorithms (proleptic Gregorian, days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A conversation with the coach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    pub id: String,
    pub user_id: UserId,
    /// The Discord thread or DM channel it lives in; None on the web.
    pub channel_id: Option<i64>,
    /// `ask` or `review`.
    pub kind: String,
    pub title: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One stored message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredMessage {
    pub seq: i64,
    pub message: Message,
    pub usage: Usage,
    pub incomplete: bool,
    pub created_at: i64,
}

/// A message to append: what was sent or received, its usage, whether it was cut off.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message: Message,
    pub usage: Usage,
    pub incomplete: bool,
}

impl NewMessage {
    pub fn of(message: Message) -> NewMessage {
        NewMessage {
            message,
            usage: Usage::default(),
            incomplete: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteCategory {
    Strength,
    Weakness,
    Goal,
    Observation,
}

impl NoteCategory {
    pub const ALL: [NoteCategory; 4] = [
        NoteCategory::Strength,
        NoteCategory::Weakness,
        NoteCategory::Goal,
        NoteCategory::Observation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoteCategory::Strength => "strength",
            NoteCategory::Weakness => "weakness",
            NoteCategory::Goal => "goal",
            NoteCategory::Observation => "observation",
        }
    }

    pub fn parse(s: &str) -> Option<NoteCategory> {
        NoteCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == s.trim().to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteSource {
    Coach,
    User,
}

impl NoteSource {
    fn as_str(self) -> &'static str {
        match self {
            NoteSource::Coach => "coach",
            NoteSource::User => "user",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub id: String,
    pub category: NoteCategory,
    pub body: String,
    pub source: NoteSource,
    pub created_at: i64,
}

/// Most notes kept per user; the longest note.
pub const MAX_NOTES: usize = 50;
pub const MAX_NOTE_CHARS: usize = 500;

/// A user's token budget in the current period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BudgetStatus {
    pub period_start: i64,
    pub period_end: i64,
    pub limit: u64,
    pub used: u64,
    pub reserved: u64,
    /// Thinking tokens of the period (our cost; not part of `used`).
    pub thinking: u64,
    pub requests: u64,
}

impl BudgetStatus {
    /// Tokens still available for new calls.
    pub fn left(&self) -> u64 {
        self.limit.saturating_sub(self.used + self.reserved)
    }
}

/// Tokens held for one model call until it is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: String,
    pub user: UserId,
    pub period_start: i64,
    pub tokens: u64,
    /// The output cap the call may use (what was reserved beyond its input).
    pub max_output: u32,
}

/// What settling a call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Tokens charged to the user.
    pub charged: u64,
    /// True exactly once per period: this call took the user past 80 % of the budget.
    pub crossed_warning: bool,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// The viewer's plan now (see [`Plan`]).
    pub async fn plan(&self, viewer: &Viewer) -> Result<Plan> {
        self.plan_of(viewer.user, now_ms()).await
    }

    /// The plan of `user` at `now` — for system work (billing, the operator's `plan show`), not
    /// a read on someone's behalf.
    pub async fn plan_of(&self, user: UserId, now: i64) -> Result<Plan> {
        let rows = sqlx::query(
            "SELECT source, ends_at, period_start, period_end FROM user_plans
             WHERE user_id = $1 AND plan = 'pro' AND (ends_at IS NULL OR ends_at > $2)",
        )
        .bind(user.get())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let (month_start, month_end) = month_bounds(now);
        let mut best: Option<Plan> = None;
        for r in rows {
            let Some(source) = PlanSource::parse(&r.try_get::<String, _>(0)?) else {
                continue;
            };
            let ends_at: Option<i64> = r.try_get(1)?;
            let period = match (
                r.try_get::<Option<i64>, _>(2)?,
                r.try_get::<Option<i64>, _>(3)?,
            ) {
                (Some(s), Some(e)) if s <= now && now < e => (s, e),
                _ => (month_start, month_end),
            };
            let plan = Plan {
                tier: Tier::Pro,
                source: Some(source),
                ends_at,
                period_start: period.0,
                period_end: period.1,
            };
            // The grant lasting longest wins (an open-ended one over any dated one).
            let longer = match (&best, ends_at) {
                (None, _) => true,
                (Some(b), e) => match (b.ends_at, e) {
                    (Some(_), None) => true,
                    (Some(be), Some(e)) => e > be,
                    _ => false,
                },
            };
            if longer {
                best = Some(plan);
            }
        }
        Ok(best.unwrap_or(Plan {
            tier: Tier::Free,
            source: None,
            ends_at: None,
            period_start: month_start,
            period_end: month_end,
        }))
    }

    /// Sets what one source says about a user's plan (the operator's `rlcoach plan set`, and
    /// billing). `ends_at` None: until changed. The billing period, when the source has one,
    /// sets the coach budget period.
    pub async fn set_plan(
        &self,
        user: UserId,
        source: PlanSource,
        tier: Tier,
        ends_at: Option<i64>,
        period: Option<(i64, i64)>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        ensure_user(&mut tx, user.get()).await?;
        write_plan(&mut tx, user, source, tier, ends_at, period).await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- conversations -----

    /// Starts a conversation of the viewer's (in a thread or DM channel, or on the web).
    pub async fn create_conversation(
        &self,
        viewer: &Viewer,
        channel_id: Option<i64>,
        kind: &str,
        title: &str,
    ) -> Result<Conversation> {
        let now = now_ms();
        let conversation = Conversation {
            id: new_id(),
            user_id: viewer.user,
            channel_id,
            kind: kind.to_string(),
            title: title.chars().take(100).collect(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.write_tx().await?;
        ensure_user(&mut tx, viewer.user.get()).await?;
        sqlx::query(
            "INSERT INTO coach_conversations
               (conversation_id, user_id, channel_id, kind, title, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&conversation.id)
        .bind(viewer.user.get())
        .bind(channel_id)
        .bind(&conversation.kind)
        .bind(&conversation.title)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(conversation)
    }

    /// The viewer's conversation living in a Discord channel (thread or DM), if any. Someone
    /// else's conversation reads as none.
    pub async fn conversation_in_channel(
        &self,
        viewer: &Viewer,
        channel_id: i64,
    ) -> Result<Option<Conversation>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CONVERSATION_SELECT} WHERE channel_id = $1 AND user_id = $2"
        )))
        .bind(channel_id)
        .bind(viewer.user.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(conversation_from).transpose()
    }

    /// One of the viewer's conversations by id (someone else's: not found).
    pub async fn conversation(&self, viewer: &Viewer, id: &str) -> Result<Option<Conversation>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CONVERSATION_SELECT} WHERE conversation_id = $1 AND user_id = $2"
        )))
        .bind(id)
        .bind(viewer.user.get())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(conversation_from).transpose()
    }

    /// The viewer's conversations, most recent first.
    pub async fn conversations(&self, viewer: &Viewer, limit: i64) -> Result<Vec<Conversation>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CONVERSATION_SELECT} WHERE user_id = $1 ORDER BY updated_at DESC, conversation_id LIMIT $2"
        )))
        .bind(viewer.user.get())
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(conversation_from)
        .collect()
    }

    /// A conversation's history, oldest first (someone else's: not found).
    pub async fn conversation_messages(
        &self,
        viewer: &Viewer,
        id: &str,
    ) -> Result<Vec<StoredMessage>> {
        self.conversation_messages_page(viewer, id, None).await
    }

    /// All messages oldest first, or (with `newest`) the newest that many, newest first.
    async fn conversation_messages_page(
        &self,
        viewer: &Viewer,
        id: &str,
        newest: Option<i64>,
    ) -> Result<Vec<StoredMessage>> {
        if self.conversation(viewer, id).await?.is_none() {
            return Err(StorageError::NotFound);
        }
        let order = if newest.is_some() { "DESC" } else { "ASC" };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT seq, content, role, input_tokens, output_tokens, thinking_tokens,
                    cache_read_tokens, cache_write_tokens, incomplete, created_at
             FROM coach_messages WHERE conversation_id = $1 ORDER BY seq {order} LIMIT $2"
        )))
        .bind(id)
        .bind(newest.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let content: String = r.try_get(1)?;
            let role: String = r.try_get(2)?;
            let message: Message = serde_json::from_str(&format!(
                "{{\"role\":{},\"content\":{content}}}",
                serde_json::Value::String(role)
            ))
            .map_err(|e| StorageError::Corrupt(format!("coach message: {e}")))?;
            let n = |i: usize| -> Result<u32> {
                Ok(u32::try_from(r.try_get::<i64, _>(i)?).unwrap_or(u32::MAX))
            };
            Ok(StoredMessage {
                seq: r.try_get(0)?,
                message,
                usage: Usage {
                    input_tokens: n(3)?,
                    output_tokens: n(4)?,
                    thinking_tokens: n(5)?,
                    cache_read_input_tokens: n(6)?,
                    cache_creation_input_tokens: n(7)?,
                },
                incomplete: r.try_get::<i64, _>(8)? == 1,
                created_at: r.try_get(9)?,
            })
        })
        .collect()
    }

    /// The newest `limit` messages of one of the viewer's conversations, oldest first.
    pub async fn recent_conversation_messages(
        &self,
        viewer: &Viewer,
        id: &str,
        limit: i64,
    ) -> Result<Vec<StoredMessage>> {
        let mut all = self
            .conversation_messages_page(viewer, id, Some(limit))
            .await?;
        all.reverse();
        Ok(all)
    }

    /// Appends messages to one of the viewer's conversations, in one transaction (an assistant
    /// turn and the tool results that answer it land together or not at all).
    pub async fn append_messages(
        &self,
        viewer: &Viewer,
        conversation_id: &str,
        messages: &[NewMessage],
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let owner = sqlx::query(
            "SELECT user_id FROM coach_conversations WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(viewer.user.get())
        .fetch_optional(&mut *tx)
        .await?;
        if owner.is_none() {
            return Err(StorageError::NotFound);
        }
        let next: i64 = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM coach_messages WHERE conversation_id = $1",
        )
        .bind(conversation_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let now = now_ms();
        for (i, m) in messages.iter().enumerate() {
            let content = serde_json::to_string(&m.message.content)
                .map_err(|e| StorageError::Invalid(e.to_string()))?;
            let role = match m.message.role {
                crate::coach::model::Role::User => "user",
                crate::coach::model::Role::Assistant => "assistant",
            };
            sqlx::query(
                "INSERT INTO coach_messages (conversation_id, seq, role, content, input_tokens,
                    output_tokens, thinking_tokens, cache_read_tokens, cache_write_tokens,
                    incomplete, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(conversation_id)
            .bind(next + i as i64)
            .bind(role)
            .bind(content)
            .bind(i64::from(m.usage.input_tokens))
            .bind(i64::from(m.usage.output_tokens))
            .bind(i64::from(m.usage.thinking_tokens))
            .bind(i64::from(m.usage.cache_read_input_tokens))
            .bind(i64::from(m.usage.cache_creation_input_tokens))
            .bind(i64::from(m.incomplete))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE coach_conversations SET updated_at = $1 WHERE conversation_id = $2")
            .bind(now)
            .bind(conversation_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- notes -----

    /// Adds a note about the viewer. Over [`MAX_NOTES`], the oldest note of the coach's goes.
    pub async fn add_note(
        &self,
        viewer: &Viewer,
        category: NoteCategory,
        body: &str,
        source: NoteSource,
    ) -> Result<Note> {
        let body: String = body.trim().chars().take(MAX_NOTE_CHARS).collect();
        if body.is_empty() {
            return Err(StorageError::Invalid("A note can't be empty.".into()));
        }
        let mut tx = self.write_tx().await?;
        ensure_user(&mut tx, viewer.user.get()).await?;
        let row =
            sqlx::query("SELECT COUNT(*), MAX(created_at) FROM coach_notes WHERE user_id = $1")
                .bind(viewer.user.get())
                .fetch_one(&mut *tx)
                .await?;
        let count: i64 = row.try_get(0)?;
        let newest: Option<i64> = row.try_get(1)?;
        // Later than every note of the user's, even within one millisecond (the coach saves
        // several in one turn): the order notes are listed and rolled over in is the order
        // they were added.
        let note = Note {
            id: new_id()[..12].to_string(),
            category,
            body,
            source,
            created_at: newest.map_or(now_ms(), |n| now_ms().max(n + 1)),
        };
        if count >= MAX_NOTES as i64 {
            if source == NoteSource::User {
                return Err(StorageError::Invalid(format!(
                    "You already have {MAX_NOTES} notes; delete one first (`/notes delete`)."
                )));
            }
            sqlx::query(
                "DELETE FROM coach_notes WHERE note_id IN (SELECT note_id FROM coach_notes
                   WHERE user_id = $1 AND source = 'coach' ORDER BY created_at, note_id LIMIT 1)",
            )
            .bind(viewer.user.get())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO coach_notes (note_id, user_id, category, body, source, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&note.id)
        .bind(viewer.user.get())
        .bind(category.as_str())
        .bind(&note.body)
        .bind(source.as_str())
        .bind(note.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(note)
    }

    /// The viewer's notes, oldest first.
    pub async fn notes(&self, viewer: &Viewer) -> Result<Vec<Note>> {
        sqlx::query(
            "SELECT note_id, category, body, source, created_at FROM coach_notes
             WHERE user_id = $1 ORDER BY created_at, note_id",
        )
        .bind(viewer.user.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Note {
                id: r.try_get(0)?,
                category: NoteCategory::parse(&r.try_get::<String, _>(1)?)
                    .unwrap_or(NoteCategory::Observation),
                body: r.try_get(2)?,
                source: if r.try_get::<String, _>(3)? == "user" {
                    NoteSource::User
                } else {
                    NoteSource::Coach
                },
                created_at: r.try_get(4)?,
            })
        })
        .collect()
    }

    /// Deletes one of the viewer's notes; false when there is no such note of theirs.
    pub async fn delete_note(&self, viewer: &Viewer, id: &str) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM coach_notes WHERE note_id = $1 AND user_id = $2")
                .bind(id.trim())
                .bind(viewer.user.get())
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    // ----- the token ledger -----

    /// The viewer's budget in the current period.
    pub async fn coach_budget(&self, viewer: &Viewer, limit: u64) -> Result<BudgetStatus> {
        let plan = self.plan(viewer).await?;
        self.coach_budget_in(viewer, &plan, limit).await
    }

    /// [`Store::coach_budget`] with the viewer's plan already read (its period is the budget's).
    pub async fn coach_budget_in(
        &self,
        viewer: &Viewer,
        plan: &Plan,
        limit: u64,
    ) -> Result<BudgetStatus> {
        let row = sqlx::query(
            "SELECT used_tokens, reserved_tokens, thinking_tokens, requests FROM coach_usage
             WHERE user_id = $1 AND period_start = $2",
        )
        .bind(viewer.user.get())
        .bind(plan.period_start)
        .fetch_optional(&self.pool)
        .await?;
        let get = |i: usize| -> Result<u64> {
            Ok(match &row {
                Some(r) => to_u64(r.try_get(i)?),
                None => 0,
            })
        };
        Ok(BudgetStatus {
            period_start: plan.period_start,
            period_end: plan.period_end,
            limit,
            used: get(0)?,
            reserved: get(1)?,
            thinking: get(2)?,
            requests: get(3)?,
        })
    }

    /// Reserves tokens for one model call in the period starting `period_start`: `input` (the
    /// estimate of what is sent) plus up to `max_output`, but at least `min_output`. None when
    /// that does not fit in what is left of `limit` (nothing is reserved then).
    pub async fn reserve_tokens(
        &self,
        viewer: &Viewer,
        period_start: i64,
        limit: u64,
        input: u32,
        max_output: u32,
        min_output: u32,
    ) -> Result<Option<Reservation>> {
        let user = viewer.user.get();
        let mut tx = self.write_tx().await?;
        ensure_user(&mut tx, user).await?;
        sqlx::query(
            "INSERT INTO coach_usage (user_id, period_start) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(period_start)
        .execute(&mut *tx)
        .await?;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT used_tokens, reserved_tokens FROM coach_usage
             WHERE user_id = $1 AND period_start = $2{lock}"
        )))
        .bind(user)
        .bind(period_start)
        .fetch_one(&mut *tx)
        .await?;
        let taken = to_u64(row.try_get(0)?) + to_u64(row.try_get(1)?);
        let left = limit.saturating_sub(taken);
        let need = u64::from(input) + u64::from(min_output);
        if left < need {
            return Ok(None);
        }
        let output = (left - u64::from(input)).min(u64::from(max_output));
        let tokens = u64::from(input) + output;
        let reservation = Reservation {
            id: new_id(),
            user: viewer.user,
            period_start,
            tokens,
            max_output: u32::try_from(output).unwrap_or(u32::MAX),
        };
        sqlx::query(
            "UPDATE coach_usage SET reserved_tokens = reserved_tokens + $1, requests = requests + 1
             WHERE user_id = $2 AND period_start = $3",
        )
        .bind(to_i64(tokens))
        .bind(user)
        .bind(period_start)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO coach_reservations (reservation_id, user_id, period_start, tokens, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&reservation.id)
        .bind(user)
        .bind(period_start)
        .bind(to_i64(tokens))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(reservation))
    }

    /// Swaps a reservation for the call's real usage (charged: input + visible output, at most
    /// what was reserved; thinking recorded apart). A reservation the sweeper already released
    /// is charged only as far as the budget still allows.
    pub async fn settle_tokens(
        &self,
        reservation: &Reservation,
        usage: &Usage,
        limit: u64,
    ) -> Result<Settled> {
        let user = reservation.user.get();
        let mut tx = self.write_tx().await?;
        // The reservation row first, the ledger row second: the sweeper takes them in the same
        // order, so the two never deadlock.
        let held = sqlx::query("DELETE FROM coach_reservations WHERE reservation_id = $1")
            .bind(&reservation.id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT used_tokens, reserved_tokens, warned FROM coach_usage
             WHERE user_id = $1 AND period_start = $2{lock}"
        )))
        .bind(user)
        .bind(reservation.period_start)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Settled {
                charged: 0,
                crossed_warning: false,
            });
        };
        let used = to_u64(row.try_get(0)?);
        let reserved = to_u64(row.try_get(1)?);
        let warned = row.try_get::<i64, _>(2)? == 1;
        let (released, cap) = if held {
            (reservation.tokens, reservation.tokens)
        } else {
            (0, limit.saturating_sub(used + reserved))
        };
        let charged = usage.charged().min(cap);
        let now_used = used + charged;
        let crossed_warning = !warned && now_used * 5 >= limit * 4;
        sqlx::query(
            "UPDATE coach_usage SET used_tokens = used_tokens + $1,
                 reserved_tokens = reserved_tokens - $2, thinking_tokens = thinking_tokens + $3,
                 warned = CASE WHEN $4 = 1 THEN 1 ELSE warned END
             WHERE user_id = $5 AND period_start = $6",
        )
        .bind(to_i64(charged))
        .bind(to_i64(released))
        .bind(i64::from(usage.thinking_tokens))
        .bind(i64::from(crossed_warning))
        .bind(user)
        .bind(reservation.period_start)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Settled {
            charged,
            crossed_warning,
        })
    }

    /// Releases reservations older than `older_than_ms` (their call crashed or hung); returns
    /// how many.
    pub async fn release_stale_reservations(&self, older_than_ms: i64) -> Result<usize> {
        let cutoff = now_ms() - older_than_ms;
        let mut tx = self.write_tx().await?;
        let stale = sqlx::query(
            "SELECT reservation_id, user_id, period_start, tokens FROM coach_reservations
             WHERE created_at < $1",
        )
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        let mut released = 0;
        for r in &stale {
            let id: String = r.try_get(0)?;
            // Delete first: only the transaction that removed the row gives its tokens back (a
            // settle or another sweeper may have taken it since the SELECT).
            let taken = sqlx::query("DELETE FROM coach_reservations WHERE reservation_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if !taken {
                continue;
            }
            sqlx::query(
                "UPDATE coach_usage SET reserved_tokens = reserved_tokens - $1
                 WHERE user_id = $2 AND period_start = $3",
            )
            .bind(r.try_get::<i64, _>(3)?)
            .bind(r.try_get::<i64, _>(1)?)
            .bind(r.try_get::<i64, _>(2)?)
            .execute(&mut *tx)
            .await?;
            released += 1;
        }
        tx.commit().await?;
        Ok(released)
    }
}

/// Writes one source's row of a user's plan inside a transaction (the user row exists).
pub(super) async fn write_plan(
    tx: &mut sqlx::AnyConnection,
    user: UserId,
    source: PlanSource,
    tier: Tier,
    ends_at: Option<i64>,
    period: Option<(i64, i64)>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_plans (user_id, source, plan, ends_at, period_start, period_end, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id, source) DO UPDATE SET plan = excluded.plan,
             ends_at = excluded.ends_at, period_start = excluded.period_start,
             period_end = excluded.period_end, updated_at = excluded.updated_at",
    )
    .bind(user.get())
    .bind(source.as_str())
    .bind(tier.as_str())
    .bind(ends_at)
    .bind(period.map(|p| p.0))
    .bind(period.map(|p| p.1))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

const CONVERSATION_SELECT: &str = "SELECT conversation_id, user_id, channel_id, kind, title,
    created_at, updated_at FROM coach_conversations";

fn conversation_from(r: &sqlx::any::AnyRow) -> Result<Conversation> {
    Ok(Conversation {
        id: r.try_get(0)?,
        user_id: UserId::from_db(r.try_get(1)?),
        channel_id: r.try_get(2)?,
        kind: r.try_get(3)?,
        title: r.try_get(4)?,
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        // 2026-12-02T00:20Z
        let ms = 1_796_170_800_000;
        let (s, e) = month_bounds(ms);
        assert_eq!(date_string(s), "2026-12-01");
        assert_eq!(date_string(e), "2027-01-01");
        assert_eq!(date_string(ms), "2026-12-02");
        let (s, e) = month_bounds(days_from_civil(2028, 2, 29) * 86_400_000 + 5);
        assert_eq!(
            (date_string(s), date_string(e)),
            ("2028-02-01".into(), "2028-03-01".into())
        );
        assert_eq!(date_string(0), "1970-01-01");
    }
}
