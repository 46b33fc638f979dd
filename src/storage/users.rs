//! Users, guild settings, identity links (claimed and verified) and privacy (export, delete).
//! The scoping rules are in [`super::scope`].

use std::path::PathBuf;

use serde::Serialize;
use sqlx::Row;

use super::queries::COUNTS_FOR_LINK;
use super::scope::{UserId, Viewer};
use super::{Result, StorageError, Store, now_ms};
use crate::report::PlayerId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuildSettings {
    pub guild_id: i64,
    /// "public" or "private"
    pub reply_mode: String,
    pub auto_analyze_channels: Vec<i64>,
}

impl GuildSettings {
    /// Answers to uploads in this guild go to the uploader alone (ephemeral or DM).
    pub fn private_replies(&self) -> bool {
        self.reply_mode == "private"
    }
}

/// How a user is linked to an in-game identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Picked by the user from a replay they uploaded: counts only their own uploads.
    Claimed,
    /// Proven to be theirs (one owner per identity): counts the games it played in that the user
    /// uploaded or that a verified player of the match the user has played with uploaded.
    Verified,
}

impl LinkState {
    fn from_flag(verified: i64) -> LinkState {
        if verified == 1 {
            LinkState::Verified
        } else {
            LinkState::Claimed
        }
    }
}

/// One of the viewer's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkedIdentity {
    pub player: PlayerId,
    /// The name in the newest game that counts for the user (None when none does yet).
    pub name: Option<String>,
    pub state: LinkState,
}

/// A player in one of the viewer's uploads, and whether the viewer is linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimableIdentity {
    pub player: PlayerId,
    pub name: String,
    pub linked: Option<LinkState>,
}

/// What verifying an identity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyOutcome {
    Verified,
    /// Another user verified it first; nothing changed.
    OwnedByAnother,
    /// Bots, PlayStation names and the like can't be verified.
    NotVerifiable,
}

/// A connected account as Discord's `GET /users/@me/connections` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct DiscordConnection {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub verified: bool,
}

/// What a viewer may know about a user's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub user: UserId,
    /// Others may read this user's games; answers about them may be public.
    pub public: bool,
    pub linked_identities: usize,
}

/// The most games an export carries.
pub const EXPORT_MAX_GAMES: i64 = 10_000;

/// Everything stored about one user, for `/privacy export`.
#[derive(Debug, Clone, Serialize)]
pub struct UserExport {
    pub user_id: UserId,
    pub plan: String,
    pub public_profile: bool,
    pub leaderboard_opt_out: bool,
    pub identities: Vec<LinkedIdentity>,
    pub uploads: Vec<serde_json::Value>,
    /// How many games count for the user; `games` holds the newest `EXPORT_MAX_GAMES` of them.
    pub games_total: i64,
    pub games: Vec<crate::storage::queries::GameRow>,
    /// Games the user took out of their history: the replay each was hidden from, and when.
    pub hidden_games: Vec<serde_json::Value>,
    /// The coach: plan sources, conversations with their messages, notes, token ledger.
    pub coach: CoachExport,
}

/// The coach's part of an export.
#[derive(Debug, Clone, Serialize)]
pub struct CoachExport {
    pub plan: super::coach::Plan,
    pub conversations: Vec<ConversationExport>,
    pub notes: Vec<super::coach::Note>,
    /// Per budget period: (period start ms, tokens charged, thinking tokens, requests).
    pub usage: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConversationExport {
    pub conversation: super::coach::Conversation,
    pub messages: Vec<super::coach::StoredMessage>,
}

pub(super) async fn ensure_user(tx: &mut sqlx::AnyConnection, user_id: i64) -> Result<()> {
    sqlx::query("INSERT INTO users (user_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub(super) async fn ensure_guild(tx: &mut sqlx::AnyConnection, guild_id: i64) -> Result<()> {
    sqlx::query("INSERT INTO guilds (guild_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(guild_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

impl Store {
    pub async fn guild_settings(&self, guild_id: i64) -> Result<GuildSettings> {
        let mode = sqlx::query("SELECT reply_mode FROM guilds WHERE guild_id = $1")
            .bind(guild_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
            .unwrap_or_else(|| "public".into());
        let channels = sqlx::query(
            "SELECT channel_id FROM guild_channels WHERE guild_id = $1 AND auto_analyze = 1 ORDER BY channel_id",
        )
        .bind(guild_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<Vec<i64>, _>>()?;
        Ok(GuildSettings {
            guild_id,
            reply_mode: mode,
            auto_analyze_channels: channels,
        })
    }

    pub async fn set_auto_analyze(&self, guild_id: i64, channel_id: i64, on: bool) -> Result<()> {
        let mut tx = self.write_tx().await?;
        ensure_guild(&mut tx, guild_id).await?;
        sqlx::query(
            "INSERT INTO guild_channels (guild_id, channel_id, auto_analyze) VALUES ($1, $2, $3)
             ON CONFLICT (guild_id, channel_id) DO UPDATE SET auto_analyze = excluded.auto_analyze",
        )
        .bind(guild_id)
        .bind(channel_id)
        .bind(i64::from(on))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn is_auto_analyze(&self, guild_id: i64, channel_id: i64) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM guild_channels WHERE guild_id = $1 AND channel_id = $2 AND auto_analyze = 1",
        )
        .bind(guild_id)
        .bind(channel_id)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    pub async fn set_reply_mode(&self, guild_id: i64, private: bool) -> Result<()> {
        let mut tx = self.write_tx().await?;
        ensure_guild(&mut tx, guild_id).await?;
        sqlx::query("UPDATE guilds SET reply_mode = $1 WHERE guild_id = $2")
            .bind(if private { "private" } else { "public" })
            .bind(guild_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// In-game identities the viewer may claim: players in replays the viewer uploaded, with
    /// their name in the newest of those replays and the viewer's link to each, most recent first. Identities verified
    /// by another user are left out (they can't be claimed).
    pub async fn claimable_identities(&self, viewer: &Viewer) -> Result<Vec<ClaimableIdentity>> {
        let rows = sqlx::query(
            "SELECT g.platform, g.platform_id,
                    (SELECT g2.name FROM uploads u2 JOIN game_stats g2 ON g2.replay_id = u2.replay_id
                     WHERE u2.user_id = $1 AND g2.platform = g.platform AND g2.platform_id = g.platform_id
                     ORDER BY g2.played_at DESC, u2.created_at DESC LIMIT 1),
                    MAX(u.created_at) AS last_upload, MAX(i.verified)
             FROM uploads u JOIN game_stats g ON g.replay_id = u.replay_id
             LEFT JOIN user_identities i
               ON i.user_id = u.user_id AND i.platform = g.platform AND i.platform_id = g.platform_id
             WHERE u.user_id = $1
               AND NOT EXISTS (SELECT 1 FROM user_identities o
                               WHERE o.platform = g.platform AND o.platform_id = g.platform_id
                                 AND o.verified = 1 AND o.user_id <> u.user_id)
             GROUP BY g.platform, g.platform_id
             ORDER BY last_upload DESC, g.platform, g.platform_id",
        )
        .bind(viewer.user.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimableIdentity {
                    player: PlayerId {
                        platform: r.try_get(0)?,
                        id: r.try_get(1)?,
                    },
                    name: r.try_get(2)?,
                    linked: r.try_get::<Option<i64>, _>(4)?.map(LinkState::from_flag),
                })
            })
            .collect()
    }

    /// Claims an identity for the viewer: it must appear in a replay the viewer uploaded, and
    /// nobody else may have verified it. A claimed link counts only the viewer's own uploads.
    /// Linking an identity the viewer already verified changes nothing.
    pub async fn link_identity(&self, viewer: &Viewer, player: &PlayerId) -> Result<LinkState> {
        let mut tx = self.write_tx().await?;
        self.lock_identity(&mut tx, player).await?;
        if verified_owner(&mut tx, player)
            .await?
            .is_some_and(|o| o != viewer.user)
        {
            tx.rollback().await?;
            return Err(StorageError::Invalid(CLAIMED_BY_ANOTHER.into()));
        }
        let in_my_uploads = sqlx::query(
            "SELECT 1 FROM uploads u JOIN game_stats g ON g.replay_id = u.replay_id
             WHERE u.user_id = $1 AND g.platform = $2 AND g.platform_id = $3 LIMIT 1",
        )
        .bind(viewer.user.get())
        .bind(&player.platform)
        .bind(&player.id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if !in_my_uploads {
            tx.rollback().await?;
            return Err(StorageError::Invalid(
                "You can only link a player who appears in a replay you uploaded.".into(),
            ));
        }
        ensure_user(&mut tx, viewer.user.get()).await?;
        sqlx::query(
            "INSERT INTO user_identities (user_id, platform, platform_id, linked_at, verified)
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING",
        )
        .bind(viewer.user.get())
        .bind(&player.platform)
        .bind(&player.id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let state = link_state(&mut tx, viewer.user, player).await?;
        tx.commit().await?;
        Ok(state.unwrap_or(LinkState::Claimed))
    }

    /// Marks an identity as proven to be the viewer's (e.g. a Discord connected account with
    /// the same platform id). From then on it counts the games it played in that the viewer
    /// uploaded or that a verified player of the match uploaded (see [`super::scope`]), and
    /// belongs to the viewer alone: other users' claims on it are removed.
    pub async fn verify_identity(
        &self,
        viewer: &Viewer,
        player: &PlayerId,
    ) -> Result<VerifyOutcome> {
        if !is_verifiable(player) {
            return Ok(VerifyOutcome::NotVerifiable);
        }
        let mut tx = self.write_tx().await?;
        self.lock_identity(&mut tx, player).await?;
        if verified_owner(&mut tx, player)
            .await?
            .is_some_and(|o| o != viewer.user)
        {
            tx.rollback().await?;
            return Ok(VerifyOutcome::OwnedByAnother);
        }
        ensure_user(&mut tx, viewer.user.get()).await?;
        sqlx::query(
            "DELETE FROM user_identities WHERE platform = $1 AND platform_id = $2 AND user_id <> $3",
        )
        .bind(&player.platform)
        .bind(&player.id)
        .bind(viewer.user.get())
        .execute(&mut *tx)
        .await?;
        let now = now_ms();
        let upsert = sqlx::query(
            "INSERT INTO user_identities (user_id, platform, platform_id, linked_at, verified, verified_at)
             VALUES ($1, $2, $3, $4, 1, $4)
             ON CONFLICT (user_id, platform, platform_id) DO UPDATE SET verified = 1,
                 verified_at = COALESCE(user_identities.verified_at, excluded.verified_at)",
        )
        .bind(viewer.user.get())
        .bind(&player.platform)
        .bind(&player.id)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match upsert {
            Ok(_) => {}
            // Another user verified it at the same moment (the one-owner unique index).
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                return Ok(VerifyOutcome::OwnedByAnother);
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(VerifyOutcome::Verified)
    }

    /// Verifies every identity that one of the user's Discord connected accounts proves (only
    /// connections Discord itself marks verified); returns what happened to each.
    pub async fn verify_connections(
        &self,
        viewer: &Viewer,
        connections: &[DiscordConnection],
    ) -> Result<Vec<(PlayerId, VerifyOutcome)>> {
        let mut out = Vec::new();
        for c in connections.iter().filter(|c| c.verified) {
            if let Some(player) = identity_from_connection(&c.kind, &c.id) {
                let outcome = self.verify_identity(viewer, &player).await?;
                out.push((player, outcome));
            }
        }
        Ok(out)
    }

    pub async fn unlink_identity(&self, viewer: &Viewer, player: &PlayerId) -> Result<bool> {
        let r = sqlx::query(
            "DELETE FROM user_identities WHERE user_id = $1 AND platform = $2 AND platform_id = $3",
        )
        .bind(viewer.user.get())
        .bind(&player.platform)
        .bind(&player.id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// The viewer's own linked identities, with the link's state and the name in the newest game
    /// that counts for the viewer (never a name seen only in someone else's private upload).
    pub async fn identities(&self, viewer: &Viewer) -> Result<Vec<LinkedIdentity>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT i.platform, i.platform_id, i.verified,
                    (SELECT g.name FROM game_stats g
                     WHERE g.platform = i.platform AND g.platform_id = i.platform_id
                       AND {COUNTS_FOR_LINK}
                     ORDER BY g.played_at DESC, g.replay_id LIMIT 1)
                 FROM user_identities i
                 WHERE i.user_id = $1 ORDER BY i.linked_at, i.platform, i.platform_id"
        )))
        .bind(viewer.user.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LinkedIdentity {
                    player: PlayerId {
                        platform: r.try_get(0)?,
                        id: r.try_get(1)?,
                    },
                    state: LinkState::from_flag(r.try_get(2)?),
                    name: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Serialises claims and verifications of one identity until the transaction ends: on
    /// PostgreSQL (READ COMMITTED) a claim checked before a verification committed would
    /// otherwise survive it, and two verifications deleting each other's claims could deadlock.
    /// SQLite's write transactions are serial already (`BEGIN IMMEDIATE`).
    async fn lock_identity(&self, tx: &mut sqlx::AnyConnection, player: &PlayerId) -> Result<()> {
        if self.backend == super::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("identity:{}:{}", player.platform, player.id))
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// What the viewer may know of `target`'s profile: refused when it is private and not the
    /// viewer's own.
    pub async fn profile(&self, viewer: &Viewer, target: UserId) -> Result<Profile> {
        let public = self.is_public(target).await?;
        if viewer.user != target && !public {
            return Err(StorageError::Forbidden);
        }
        let linked: i64 = sqlx::query("SELECT COUNT(*) FROM user_identities WHERE user_id = $1")
            .bind(target.get())
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(Profile {
            user: target,
            public,
            linked_identities: usize::try_from(linked).unwrap_or(0),
        })
    }

    pub async fn set_public_profile(&self, viewer: &Viewer, public: bool) -> Result<()> {
        self.set_user_flag(
            viewer.user,
            "UPDATE users SET public_profile = $1 WHERE user_id = $2",
            public,
        )
        .await
    }

    pub async fn set_leaderboard_opt_out(&self, viewer: &Viewer, out: bool) -> Result<()> {
        self.set_user_flag(
            viewer.user,
            "UPDATE users SET leaderboard_opt_out = $1 WHERE user_id = $2",
            out,
        )
        .await
    }

    /// Whether the viewer left guild leaderboards.
    pub async fn leaderboard_opt_out(&self, viewer: &Viewer) -> Result<bool> {
        Ok(
            sqlx::query("SELECT leaderboard_opt_out FROM users WHERE user_id = $1")
                .bind(viewer.user.get())
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?
                == Some(1),
        )
    }

    /// Creates the user if needed and runs one of the fixed flag updates above.
    async fn set_user_flag(&self, user: UserId, update: &'static str, value: bool) -> Result<()> {
        let mut tx = self.write_tx().await?;
        ensure_user(&mut tx, user.get()).await?;
        sqlx::query(update)
            .bind(i64::from(value))
            .bind(user.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn is_public(&self, user: UserId) -> Result<bool> {
        Ok(
            sqlx::query("SELECT public_profile FROM users WHERE user_id = $1")
                .bind(user.get())
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?
                == Some(1),
        )
    }

    /// Everything stored about the viewer: their settings, links, uploads and games (up to
    /// `EXPORT_MAX_GAMES`; `games_total` says how many there are).
    pub async fn export_user(&self, viewer: &Viewer) -> Result<UserExport> {
        let me = Viewer::user(viewer.user);
        let row =
            sqlx::query("SELECT public_profile, leaderboard_opt_out FROM users WHERE user_id = $1")
                .bind(me.user.get())
                .fetch_optional(&self.pool)
                .await?;
        let (public, opt_out) = match row {
            Some(r) => (r.try_get::<i64, _>(0)? == 1, r.try_get::<i64, _>(1)? == 1),
            None => (false, false),
        };
        let uploads = sqlx::query(
            "SELECT upload_id, replay_id, guild_id, channel_id, message_id, file_name, created_at
             FROM uploads WHERE user_id = $1 ORDER BY created_at",
        )
        .bind(me.user.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| -> Result<serde_json::Value> {
            Ok(serde_json::json!({
                "upload_id": r.try_get::<String, _>(0)?,
                "replay_id": r.try_get::<String, _>(1)?,
                "guild_id": r.try_get::<Option<i64>, _>(2)?,
                "channel_id": r.try_get::<Option<i64>, _>(3)?,
                "message_id": r.try_get::<Option<i64>, _>(4)?,
                "file_name": r.try_get::<Option<String>, _>(5)?,
                "created_at_ms": r.try_get::<i64, _>(6)?,
            }))
        })
        .collect::<Result<Vec<_>>>()?;
        let games_total = self.count_games(me.user).await?;
        let mut conversations = Vec::new();
        for conversation in self.conversations(&me, 1000).await? {
            let messages = self.conversation_messages(&me, &conversation.id).await?;
            conversations.push(ConversationExport {
                conversation,
                messages,
            });
        }
        let usage = sqlx::query(
            "SELECT period_start, used_tokens, thinking_tokens, requests FROM coach_usage
             WHERE user_id = $1 ORDER BY period_start",
        )
        .bind(me.user.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| -> Result<serde_json::Value> {
            Ok(serde_json::json!({
                "period_start_ms": r.try_get::<i64, _>(0)?,
                "tokens_charged": r.try_get::<i64, _>(1)?,
                "thinking_tokens": r.try_get::<i64, _>(2)?,
                "requests": r.try_get::<i64, _>(3)?,
            }))
        })
        .collect::<Result<Vec<_>>>()?;
        let plan = self.plan(&me).await?;
        let coach = CoachExport {
            plan: plan.clone(),
            conversations,
            notes: self.notes(&me).await?,
            usage,
        };
        Ok(UserExport {
            coach,
            user_id: me.user,
            plan: plan.tier.as_str().to_string(),
            public_profile: public,
            leaderboard_opt_out: opt_out,
            identities: self.identities(&me).await?,
            uploads,
            games_total,
            games: self
                .recent_games(&me, me.user, EXPORT_MAX_GAMES, None)
                .await?,
            hidden_games: self
                .hidden_games(&me, 1000)
                .await?
                .into_iter()
                .map(|(replay_id, at)| serde_json::json!({"replay_id": replay_id, "hidden_at_ms": at}))
                .collect(),
        })
    }

    /// Deletes everything of the viewer: their uploads, links, hidden games, settings and series
    /// summaries; replays only they uploaded (these very bytes: a copy of the same match is
    /// another replay) go too, and other copies of such a match are re-keyed by a surviving copy (file, analysis, stat rows, job, and the names of
    /// players seen only there). Replays others also uploaded stay theirs. Returns how many
    /// replays were removed. Coach conversations and notes go; the token ledger (counts only)
    /// and plan rows (billing records) stay, so a deletion neither resets a period's budget nor
    /// forgets a paid subscription.
    pub async fn delete_user(&self, viewer: &Viewer) -> Result<usize> {
        let user = viewer.user.get();
        let mut tx = self.write_tx().await?;
        let orphans: Vec<String> = sqlx::query(
            "SELECT DISTINCT u.replay_id FROM uploads u WHERE u.user_id = $1
               AND NOT EXISTS (SELECT 1 FROM uploads o WHERE o.replay_id = u.replay_id AND o.user_id <> $1)",
        )
        .bind(user)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        for q in [
            "DELETE FROM batch_summaries WHERE message_id IN
               (SELECT message_id FROM uploads WHERE user_id = $1 AND message_id IS NOT NULL)",
            "DELETE FROM batch_refusals WHERE user_id = $1",
            "DELETE FROM coach_messages WHERE conversation_id IN
               (SELECT conversation_id FROM coach_conversations WHERE user_id = $1)",
            "DELETE FROM coach_conversations WHERE user_id = $1",
            "DELETE FROM coach_notes WHERE user_id = $1",
            "DELETE FROM hidden_games WHERE user_id = $1",
            "DELETE FROM uploads WHERE user_id = $1",
            "DELETE FROM user_identities WHERE user_id = $1",
            "DELETE FROM web_sessions WHERE user_id = $1",
            "DELETE FROM users WHERE user_id = $1",
        ] {
            sqlx::query(q).bind(user).execute(&mut *tx).await?;
        }
        let mut files = Vec::new();
        let mut seen_players: Vec<(String, String)> = Vec::new();
        for replay in &orphans {
            if let Some(r) = sqlx::query("SELECT file_path FROM replays WHERE replay_id = $1")
                .bind(replay)
                .fetch_optional(&mut *tx)
                .await?
            {
                files.push(PathBuf::from(r.try_get::<String, _>(0)?));
            }
            for r in
                sqlx::query("SELECT platform, platform_id FROM game_stats WHERE replay_id = $1")
                    .bind(replay)
                    .fetch_all(&mut *tx)
                    .await?
            {
                seen_players.push((r.try_get(0)?, r.try_get(1)?));
            }
            for q in [
                "DELETE FROM game_stats WHERE replay_id = $1",
                "DELETE FROM analyses WHERE replay_id = $1",
                "DELETE FROM jobs WHERE replay_id = $1",
                "DELETE FROM replays WHERE replay_id = $1",
            ] {
                sqlx::query(q).bind(replay).execute(&mut *tx).await?;
            }
            rekey_match(&mut tx, replay).await?;
        }
        seen_players.sort();
        seen_players.dedup();
        for (platform, id) in &seen_players {
            for q in [
                "DELETE FROM player_names WHERE platform = $1 AND platform_id = $2
                   AND NOT EXISTS (SELECT 1 FROM game_stats g WHERE g.platform = $1 AND g.platform_id = $2)",
                "DELETE FROM players WHERE platform = $1 AND platform_id = $2
                   AND NOT EXISTS (SELECT 1 FROM game_stats g WHERE g.platform = $1 AND g.platform_id = $2)",
                // Survivors keep the name of their newest remaining game, not one from the
                // deleted replays.
                "UPDATE players SET last_name = (SELECT g.name FROM game_stats g
                     WHERE g.platform = $1 AND g.platform_id = $2 ORDER BY g.played_at DESC, g.replay_id LIMIT 1)
                 WHERE platform = $1 AND platform_id = $2",
            ] {
                sqlx::query(q)
                    .bind(platform)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        // Files are moved aside before the commit (a submit of the same bytes right after it
        // writes a fresh file that must not be removed) and removed after it.
        let aside = super::files::set_aside(&files).await;
        match tx.commit().await {
            Ok(()) => super::files::remove_all(&aside).await,
            Err(e) => {
                super::files::restore(&aside).await;
                return Err(e.into());
            }
        }
        Ok(orphans.len())
    }

    /// How many games count for `user` (see [`super::scope`]).
    async fn count_games(&self, user: UserId) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) {}", super::queries::USER_GAMES);
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.get())
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}

/// After replay `gone` is deleted: other copies of its match were keyed by its id, and others'
/// hides name it. The match takes the id of its oldest surviving copy (nothing keeps the deleted
/// replay's id), hides follow, and hides of a match with no copy left go.
async fn rekey_match(tx: &mut sqlx::AnyConnection, gone: &str) -> Result<()> {
    let survivor: Option<String> =
        sqlx::query("SELECT MIN(replay_id) FROM game_stats WHERE match_key = $1")
            .bind(gone)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
    if let Some(new) = &survivor {
        for q in [
            "UPDATE game_stats SET match_key = $2 WHERE match_key = $1",
            // A user with a hide under both keys keeps one.
            "DELETE FROM hidden_games WHERE match_key = $1
               AND user_id IN (SELECT h.user_id FROM hidden_games h WHERE h.match_key = $2)",
            "UPDATE hidden_games SET match_key = $2 WHERE match_key = $1",
        ] {
            sqlx::query(q)
                .bind(gone)
                .bind(new)
                .execute(&mut *tx)
                .await?;
        }
    }
    for q in [
        "DELETE FROM hidden_games WHERE match_key = $1",
        "DELETE FROM hidden_games WHERE replay_id = $1
           AND NOT EXISTS (SELECT 1 FROM game_stats g WHERE g.match_key = hidden_games.match_key)",
        "UPDATE hidden_games SET replay_id =
             (SELECT MIN(g.replay_id) FROM game_stats g WHERE g.match_key = hidden_games.match_key)
         WHERE replay_id = $1",
    ] {
        sqlx::query(q).bind(gone).execute(&mut *tx).await?;
    }
    Ok(())
}

const CLAIMED_BY_ANOTHER: &str =
    "That player's account is verified as belonging to someone else, so it can't be linked to you.";

/// The owner of a verified identity, if any.
async fn verified_owner(tx: &mut sqlx::AnyConnection, player: &PlayerId) -> Result<Option<UserId>> {
    Ok(sqlx::query(
        "SELECT user_id FROM user_identities WHERE platform = $1 AND platform_id = $2 AND verified = 1",
    )
    .bind(&player.platform)
    .bind(&player.id)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| r.try_get::<i64, _>(0))
    .transpose()?
    .map(UserId::from_db))
}

async fn link_state(
    tx: &mut sqlx::AnyConnection,
    user: UserId,
    player: &PlayerId,
) -> Result<Option<LinkState>> {
    Ok(sqlx::query(
        "SELECT verified FROM user_identities WHERE user_id = $1 AND platform = $2 AND platform_id = $3",
    )
    .bind(user.get())
    .bind(&player.platform)
    .bind(&player.id)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| r.try_get::<i64, _>(0))
    .transpose()?
    .map(LinkState::from_flag))
}

/// Whether an identity can ever be proven to be someone's: only platform accounts with a stable
/// id that a Discord connection can show (Steam, Epic, Xbox). Bots, split-screen guests,
/// PlayStation players (keyed by their display name in replays) and anything keyed by a name can
/// be claimed for one's own uploads, never verified.
pub fn is_verifiable(player: &PlayerId) -> bool {
    matches!(player.platform.as_str(), "steam" | "epic" | "xbox")
        && !player.id.is_empty()
        && !player.id.contains('#')
}

/// The replay identity a Discord connected account stands for (`type` and `id` as Discord's
/// `/users/@me/connections` gives them), if it is one replays can carry.
pub fn identity_from_connection(kind: &str, id: &str) -> Option<PlayerId> {
    let id = id.trim();
    let player = match kind {
        "steam" if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => PlayerId {
            platform: "steam".into(),
            id: id.to_string(),
        },
        "epicgames" if !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) => PlayerId {
            platform: "epic".into(),
            id: id.to_ascii_lowercase(),
        },
        // Discord gives the XUID in decimal; replays carry it as 16 hex digits.
        "xbox" => PlayerId {
            platform: "xbox".into(),
            id: format!("{:016x}", id.parse::<u64>().ok()?),
        },
        _ => return None,
    };
    is_verifiable(&player).then_some(player)
}
