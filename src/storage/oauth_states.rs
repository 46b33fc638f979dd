//! The web login's single-use OAuth `state`: each state is consumed once, in the database, so
//! a replayed callback is refused by every web process and after a restart.

use super::{Result, Store};

impl Store {
    /// Marks the login `state_hash` used at `now_ms`: true the first time, false when it was
    /// used before (a replayed callback). One statement, so two callbacks racing with the same
    /// state get one true between them.
    pub async fn consume_oauth_state(&self, state_hash: &str, now_ms: i64) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO oauth_states_used (state_hash, used_at) VALUES ($1, $2)
             ON CONFLICT (state_hash) DO NOTHING",
        )
        .bind(state_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Forgets states used before `before_ms` (their cookies have expired, so they cannot
    /// come back). Returns how many went.
    pub async fn sweep_oauth_states(&self, before_ms: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM oauth_states_used WHERE used_at < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}
