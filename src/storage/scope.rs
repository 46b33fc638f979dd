//! Who is asking, and what they may read.
//!
//! Every read of user data in `Store`'s API takes the [`Viewer`] asking, so a front end cannot
//! read a user's games or a replay without saying who asks (the unscoped report loader is
//! private to `storage`). A `Viewer` is an assertion of identity: front ends build it only from
//! an authenticated Discord user (the interaction's author, later the web session). The
//! delivery bookkeeping (`pending_deliveries`, `claim_batch_summary`) is system work, not a read
//! on a user's behalf; `Store::pool` is for administration and tests. The rules, enforced in SQL
//! by the storage module:
//!
//! - **A replay is its bytes.** A `.replay` is unsigned (anyone can edit its header and re-seal
//!   its CRCs), so a file proves only its own bytes: identical bytes (sha256) are one replay, two
//!   different files are two replays whatever match GUID they claim, and an upload points at the
//!   replay made from the bytes it sent.
//! - **A user's games** are the games of their linked identities. A *claimed* link (made from a
//!   replay the user uploaded) counts only replays that user uploaded; a *verified* link (the
//!   identity proven to be theirs; one owner per identity) also counts replays uploaded by
//!   someone who is themselves a verified player of that match, both being in the replay's
//!   network data (`game_stats.in_network`), and whom the user has played with (that player's
//!   car is in a replay the user uploaded) — never a file that merely names the identity: every
//!   byte of a file can be rewritten. Copies of one match whose content agrees (`match_key`) count
//!   once; a game the user hid counts nowhere for them. Others read a user's games only when
//!   that user made their profile public.
//! - **A replay** (its full report: everyone's scoreboard and charts) is readable by the people
//!   who uploaded those bytes, by the verified owners of identities that played in it when it
//!   counts for them (above), and by anyone in the channel where its answer was posted publicly.
//!   Anything else is "not found".
//! - A guild leaderboard is readable only from inside that guild, and lists only public
//!   profiles (and the viewer).

use serde::Serialize;

/// A Discord user id (a snowflake, stored as BIGINT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(i64);

impl UserId {
    /// From a Discord snowflake (they are below 2^63; anything larger is clamped, never wraps).
    pub fn from_discord(id: u64) -> UserId {
        UserId(i64::try_from(id).unwrap_or(i64::MAX))
    }

    /// From a stored value.
    pub fn from_db(id: i64) -> UserId {
        UserId(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// The snowflake, for Discord calls.
    pub fn discord(self) -> u64 {
        u64::try_from(self.0).unwrap_or(0).max(1)
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Who is asking, and from where (Discord ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user: UserId,
    /// The guild the question was asked in; None in DMs and on the web.
    pub guild_id: Option<i64>,
    /// The channel the question was asked in (a button under a public answer is clicked in the
    /// channel the answer was posted in); None on the web.
    pub channel_id: Option<i64>,
}

impl Viewer {
    /// A user asking privately (a DM, the web site): no channel grants anything.
    pub fn user(user: UserId) -> Viewer {
        Viewer {
            user,
            guild_id: None,
            channel_id: None,
        }
    }

    /// A user asking in a channel (guild None for a DM channel).
    pub fn in_channel(user: UserId, guild_id: Option<i64>, channel_id: i64) -> Viewer {
        Viewer {
            user,
            guild_id,
            channel_id: Some(channel_id),
        }
    }
}
