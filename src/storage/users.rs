//! Users, guild settings, identity links and privacy (export and delete).

use serde::Serialize;
use sqlx::Row;

use super::{Result, StorageError, Store, now_ms};
use crate::report::PlayerId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuildSettings {
    pub guild_id: i64,
    /// "public" or "private"
    pub reply_mode: String,
    pub auto_analyze_channels: Vec<i64>,
}

/// Everything stored about one user, for `/privacy export`.
#[derive(Debug, Clone, Serialize)]
pub struct UserExport {
    pub user_id: i64,
    pub plan: String,
    pub public_profile: bool,
    pub identities: Vec<PlayerId>,
    pub uploads: Vec<serde_json::Value>,
    pub games: Vec<crate::storage::queries::GameRow>,
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

    /// In-game identities the user may claim: players in replays this user uploaded, with the
    /// name last seen, most recent first.
    pub async fn claimable_identities(&self, user_id: i64) -> Result<Vec<(PlayerId, String)>> {
        let rows = sqlx::query(
            "SELECT g.platform, g.platform_id, MAX(g.name), MAX(u.created_at) AS last_upload
             FROM uploads u JOIN game_stats g ON g.replay_id = u.replay_id
             WHERE u.user_id = $1
             GROUP BY g.platform, g.platform_id
             ORDER BY last_upload DESC, g.platform, g.platform_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    PlayerId {
                        platform: r.try_get(0)?,
                        id: r.try_get(1)?,
                    },
                    r.try_get(2)?,
                ))
            })
            .collect()
    }

    /// Links an identity the user has uploaded a replay of; anything else is refused.
    pub async fn link_identity(&self, user_id: i64, player: &PlayerId) -> Result<()> {
        let claimable = self.claimable_identities(user_id).await?;
        if !claimable.iter().any(|(p, _)| p == player) {
            return Err(StorageError::Invalid(
                "You can only link a player who appears in a replay you uploaded.".into(),
            ));
        }
        let mut tx = self.write_tx().await?;
        ensure_user(&mut tx, user_id).await?;
        sqlx::query(
            "INSERT INTO user_identities (user_id, platform, platform_id, linked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(&player.platform)
        .bind(&player.id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn unlink_identity(&self, user_id: i64, player: &PlayerId) -> Result<bool> {
        let r = sqlx::query(
            "DELETE FROM user_identities WHERE user_id = $1 AND platform = $2 AND platform_id = $3",
        )
        .bind(user_id)
        .bind(&player.platform)
        .bind(&player.id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn identities(&self, user_id: i64) -> Result<Vec<PlayerId>> {
        let rows = sqlx::query(
            "SELECT platform, platform_id FROM user_identities WHERE user_id = $1 ORDER BY linked_at, platform, platform_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PlayerId {
                    platform: r.try_get(0)?,
                    id: r.try_get(1)?,
                })
            })
            .collect()
    }

    pub async fn set_public_profile(&self, user_id: i64, public: bool) -> Result<()> {
        self.set_user_flag(
            user_id,
            "UPDATE users SET public_profile = $1 WHERE user_id = $2",
            public,
        )
        .await
    }

    pub async fn set_leaderboard_opt_out(&self, user_id: i64, out: bool) -> Result<()> {
        self.set_user_flag(
            user_id,
            "UPDATE users SET leaderboard_opt_out = $1 WHERE user_id = $2",
            out,
        )
        .await
    }

    /// Creates the user if needed and runs one of the fixed flag updates above.
    async fn set_user_flag(&self, user_id: i64, update: &'static str, value: bool) -> Result<()> {
        let mut tx = self.write_tx().await?;
        ensure_user(&mut tx, user_id).await?;
        sqlx::query(update)
            .bind(i64::from(value))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn is_public(&self, user_id: i64) -> Result<bool> {
        Ok(
            sqlx::query("SELECT public_profile FROM users WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?
                == Some(1),
        )
    }

    /// Everything stored about the user (their own uploads, links, and their games' rows).
    pub async fn export_user(&self, user_id: i64) -> Result<UserExport> {
        let me = super::queries::Viewer {
            user_id,
            guild_id: None,
        };
        let row = sqlx::query("SELECT plan, public_profile FROM users WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        let (plan, public) = match row {
            Some(r) => (r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)? == 1),
            None => ("free".to_string(), false),
        };
        let uploads = sqlx::query(
            "SELECT upload_id, replay_id, guild_id, channel_id, message_id, file_name, created_at
             FROM uploads WHERE user_id = $1 ORDER BY created_at",
        )
        .bind(user_id)
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
        Ok(UserExport {
            user_id,
            plan,
            public_profile: public,
            identities: self.identities(user_id).await?,
            uploads,
            games: self.recent_games(&me, user_id, 10_000, None).await?,
        })
    }

    /// Deletes the user, their links and uploads. Replays nobody else uploaded go too (file,
    /// analysis, stat rows); replays others also uploaded stay for them.
    pub async fn delete_user(&self, user_id: i64) -> Result<usize> {
        let mut tx = self.write_tx().await?;
        let orphans: Vec<String> = sqlx::query(
            "SELECT DISTINCT u.replay_id FROM uploads u WHERE u.user_id = $1
               AND NOT EXISTS (SELECT 1 FROM uploads o WHERE o.replay_id = u.replay_id AND o.user_id <> $1)",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        for q in [
            "DELETE FROM uploads WHERE user_id = $1",
            "DELETE FROM user_identities WHERE user_id = $1",
            "DELETE FROM users WHERE user_id = $1",
        ] {
            sqlx::query(q).bind(user_id).execute(&mut *tx).await?;
        }
        let mut paths = Vec::new();
        for replay in &orphans {
            if let Some(r) = sqlx::query("SELECT file_path FROM replays WHERE replay_id = $1")
                .bind(replay)
                .fetch_optional(&mut *tx)
                .await?
            {
                paths.push(r.try_get::<String, _>(0)?);
            }
            for q in [
                "DELETE FROM game_stats WHERE replay_id = $1",
                "DELETE FROM analyses WHERE replay_id = $1",
                "DELETE FROM jobs WHERE replay_id = $1",
                "DELETE FROM replays WHERE replay_id = $1",
            ] {
                sqlx::query(q).bind(replay).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        for p in paths {
            let _ = tokio::fs::remove_file(p).await;
        }
        Ok(orphans.len())
    }
}
