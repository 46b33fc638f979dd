//! Fair limits per user (governor, GCRA): replay files, and heavy requests (commands and buttons
//! that read many games or render images). A refusal says when to try again.
//!
//! There is no guild or global limit on intake: a burst of drops from many different users is
//! load, not abuse — it goes into the (bounded) queue with its position shown, and a really full
//! queue answers with a retry button. Discord's own outgoing rate limits are serenity's job.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct RateLimits {
    files: DefaultKeyedRateLimiter<u64>,
    heavy: DefaultKeyedRateLimiter<u64>,
    /// Questions to the coach (on top of the token budget).
    coach: DefaultKeyedRateLimiter<u64>,
    coach_per_hour: u32,
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
    /// `RLCOACH_USER_PER_MIN` replay files per user per minute (default 20, burst
    /// `RLCOACH_USER_BURST` 10: one message can carry Discord's maximum of 10 files), and
    /// `RLCOACH_HEAVY_PER_MIN` heavy requests (default 20, burst `RLCOACH_HEAVY_BURST` 8).
    pub fn from_env() -> RateLimits {
        RateLimits::new(
            per_minute(
                env_u32("RLCOACH_USER_PER_MIN", 20),
                env_u32("RLCOACH_USER_BURST", 10),
            ),
            per_minute(
                env_u32("RLCOACH_HEAVY_PER_MIN", 20),
                env_u32("RLCOACH_HEAVY_BURST", 8),
            ),
        )
    }

    pub fn new(files: Quota, heavy: Quota) -> RateLimits {
        RateLimits::with_coach(files, heavy, env_u32("RLCOACH_COACH_PER_HOUR", 10))
    }

    /// `coach_per_hour` questions to the coach per user per hour, all of them available at once.
    pub fn with_coach(files: Quota, heavy: Quota, coach_per_hour: u32) -> RateLimits {
        let n = NonZeroU32::new(coach_per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
        RateLimits {
            files: RateLimiter::keyed(files),
            heavy: RateLimiter::keyed(heavy),
            coach: RateLimiter::keyed(Quota::per_hour(n).allow_burst(n)),
            coach_per_hour: n.get(),
        }
    }

    /// A question to the coach: Ok, or how long until the next one.
    pub fn coach(&self, user: u64) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        self.coach
            .check_key(&user)
            .map_err(|n| n.wait_time_from(now))
    }

    pub fn coach_per_hour(&self) -> u32 {
        self.coach_per_hour
    }

    /// Takes one token per file: how many of `n` files the user may send now, and, when not
    /// all, how long until the next one would be accepted.
    pub fn files(&self, user: u64, n: usize) -> (usize, Option<Duration>) {
        let now = DefaultClock::default().now();
        for accepted in 0..n {
            if let Err(not_until) = self.files.check_key(&user) {
                return (accepted, Some(not_until.wait_time_from(now)));
            }
        }
        (n, None)
    }

    /// A heavy request (an image button, `/stats`, `/sessions`, `/compare`, `/trends`, an
    /// export): Ok, or how long to wait.
    pub fn heavy(&self, user: u64) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        self.heavy
            .check_key(&user)
            .map_err(|n| n.wait_time_from(now))
    }

    /// Forgets users whose buckets are full again, so memory does not grow with every user
    /// ever seen. Run periodically.
    pub fn prune(&self) {
        for l in [&self.files, &self.heavy, &self.coach] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Users currently tracked.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.files.len() + self.heavy.len() + self.coach.len()
    }
}

/// "Slow down a little: try again in 7 s."
pub fn wait_message(wait: Duration) -> String {
    format!("Slow down a little: try again in {} s.", wait_secs(wait))
}

/// A wait in whole seconds, rounded up and at least 1 (never too early; for `Retry-After`).
pub fn wait_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// "7 s", "4 min", "1 h 5 min".
pub fn human_wait(wait: Duration) -> String {
    let s = wait.as_secs().max(1);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s.div_ceil(60)),
        _ => format!("{} h {} min", s / 3600, (s % 3600).div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_takes_a_token_and_users_are_separate() {
        let l = RateLimits::new(per_minute(60, 10), per_minute(60, 2));
        // One message with 10 files takes the whole burst; the 11th file waits.
        assert_eq!(l.files(1, 10), (10, None));
        let (accepted, wait) = l.files(1, 3);
        assert_eq!(accepted, 0);
        let wait = wait.unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(wait_message(wait).contains("try again in 1 s"));
        assert_eq!(wait_secs(Duration::from_millis(2_100)), 3, "rounded up");
        assert_eq!(wait_secs(Duration::ZERO), 1);
        // Another user is not limited by the first.
        assert_eq!(l.files(2, 4), (4, None));
        // Part of a message can be accepted.
        let (accepted, wait) = l.files(2, 10);
        assert_eq!((accepted, wait.is_some()), (6, true));
    }

    #[test]
    fn heavy_requests_are_limited_per_user() {
        let l = RateLimits::new(per_minute(60, 10), per_minute(60, 2));
        assert!(l.heavy(1).is_ok() && l.heavy(1).is_ok());
        assert!(l.heavy(1).is_err());
        assert!(l.heavy(2).is_ok());
    }

    #[test]
    fn ten_coach_questions_an_hour() {
        let l = RateLimits::with_coach(per_minute(60, 10), per_minute(60, 2), 10);
        for _ in 0..10 {
            assert!(l.coach(1).is_ok());
        }
        let wait = l.coach(1).unwrap_err();
        assert!(wait > Duration::from_secs(5 * 60) && wait <= Duration::from_secs(6 * 60));
        assert_eq!(human_wait(wait), "6 min");
        assert!(l.coach(2).is_ok());
    }

    #[test]
    fn idle_users_are_forgotten() {
        // Quotas that refill within a millisecond: after a short pause every bucket is full.
        let fast = Quota::with_period(Duration::from_micros(100)).unwrap();
        let l = RateLimits::new(fast, fast);
        for user in 0..1000 {
            l.files(user, 1);
            let _ = l.heavy(user);
        }
        assert_eq!(l.tracked(), 2000);
        std::thread::sleep(Duration::from_millis(20));
        l.prune();
        assert_eq!(l.tracked(), 0);
    }
}
