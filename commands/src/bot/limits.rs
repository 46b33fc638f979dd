//! Rate limits on replay intake and heavy commands: per user, per guild and global (governor,
//! GCRA). A refusal says when to try again.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct RateLimits {
    user: DefaultKeyedRateLimiter<u64>,
    guild: DefaultKeyedRateLimiter<u64>,
    global: DefaultDirectRateLimiter,
}

fn per_minute(n: u32, burst: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN))
}

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl RateLimits {
    /// `RLCOACH_USER_PER_MIN` (default 10, burst 5), `RLCOACH_GUILD_PER_MIN` (60, burst 20),
    /// `RLCOACH_GLOBAL_PER_MIN` (600, burst 100).
    pub fn from_env() -> RateLimits {
        RateLimits::new(
            per_minute(
                env_u32("RLCOACH_USER_PER_MIN", 10),
                env_u32("RLCOACH_USER_BURST", 5),
            ),
            per_minute(
                env_u32("RLCOACH_GUILD_PER_MIN", 60),
                env_u32("RLCOACH_GUILD_BURST", 20),
            ),
            per_minute(
                env_u32("RLCOACH_GLOBAL_PER_MIN", 600),
                env_u32("RLCOACH_GLOBAL_BURST", 100),
            ),
        )
    }

    pub fn new(user: Quota, guild: Quota, global: Quota) -> RateLimits {
        RateLimits {
            user: RateLimiter::keyed(user),
            guild: RateLimiter::keyed(guild),
            global: RateLimiter::direct(global),
        }
    }

    /// Ok, or how long to wait. Checks the user first so one user cannot drain the guild's
    /// or the global budget.
    pub fn check(&self, user: u64, guild: Option<u64>) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        self.user
            .check_key(&user)
            .map_err(|n| n.wait_time_from(now))?;
        if let Some(g) = guild {
            self.guild
                .check_key(&g)
                .map_err(|n| n.wait_time_from(now))?;
        }
        self.global.check().map_err(|n| n.wait_time_from(now))?;
        Ok(())
    }
}

/// "Slow down a little: try again in 7 s."
pub fn wait_message(wait: Duration) -> String {
    format!(
        "Slow down a little: try again in {} s.",
        wait.as_secs().max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_budget_is_separate_per_user() {
        let l = RateLimits::new(
            per_minute(60, 2),
            per_minute(600, 100),
            per_minute(6000, 1000),
        );
        assert!(l.check(1, Some(9)).is_ok());
        assert!(l.check(1, Some(9)).is_ok());
        let wait = l.check(1, Some(9)).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(l.check(2, Some(9)).is_ok(), "another user is not limited");
        assert!(wait_message(wait).contains("try again in 1 s"));
    }
}
