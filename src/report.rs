//! The analysis report: a versioned, documented serde schema that every consumer (CLI, cards,
//! storage, bot, coach, web) reads. Units: distances in Unreal units (uu), speeds in uu/s, times in
//! seconds, boost amounts on ballchasing's 0–100 scale, percentages 0–100.
//!
//! A stat family that the replay cannot support (header-only parse, non-Soccar mode) is `None`
//! and the reason is listed in [`Quality::warnings`]; it is never filled with a guess.

use serde::{Deserialize, Serialize};

pub use crate::playlist::Playlist;

/// Bumped whenever a field changes meaning or is removed; additions keep the version.
pub const REPORT_SCHEMA_VERSION: u32 = 1;
/// Stored with every analysis so a newer analyzer can re-run stored replays (`rlcoach
/// reanalyze`). Bump the suffix whenever a stat's value changes for the same file.
/// a2: dribble detection tolerates replication lag; role times skip countdowns, lone players.
/// a5: bpm is boost used per minute (was collected per minute, now bcpm).
/// a6: pads retaken at their respawn instant, re-sent cars and demolitions, whole small-pad
/// grants (boost counts and amounts; mechanics lost after a re-send).
pub const ANALYZER_VERSION: &str = concat!("rlcoach-", env!("CARGO_PKG_VERSION"), "+a6");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema_version: u32,
    pub analyzer_version: String,
    pub metadata: Metadata,
    pub quality: Quality,
    /// Index 0 = blue, 1 = orange.
    pub teams: Vec<TeamReport>,
    pub players: Vec<PlayerReport>,
    pub kickoffs: Vec<Kickoff>,
    pub timeline: Vec<TimelineEvent>,
    /// Sampled time series for charts (2 Hz); empty for header-only reports.
    pub series: Series,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    /// sha256 of the replay file, hex.
    pub replay_id: String,
    pub match_guid: Option<String>,
    pub replay_name: Option<String>,
    /// Header `Date` as written by the game (local time of the recorder), e.g. `2025-09-25 14-33-19`.
    pub date: Option<String>,
    /// Unix seconds from the header `MatchStartEpoch`, when present.
    pub started_at_unix: Option<i64>,
    pub map: Option<String>,
    pub match_type: Option<String>,
    /// DUEL, DOUBLES, STANDARD, CHAOS, PRIVATE, ... or UNKNOWN.
    pub playlist: Playlist,
    pub team_size: u8,
    /// Σ of network frame deltas (what ballchasing calls `duration`); header seconds when header-only.
    pub duration_seconds: f64,
    pub overtime: bool,
    pub overtime_seconds: f64,
    pub forfeit: bool,
    /// Final score, [blue, orange].
    pub score: [u32; 2],
    pub game_version: Option<String>,
    pub major_version: i32,
    pub minor_version: i32,
    pub net_version: Option<i32>,
    pub recorded_frame_hz: Option<f64>,
    pub total_frames: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Quality {
    pub parser: String,
    /// Network frames were decoded; false means a header-only report.
    pub network_parsed: bool,
    /// Standard Soccar field and pads; false for Hoops, Dropshot, Snow Day, Rumble...
    pub mode_supported: bool,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlayerId {
    /// steam, epic, psn, xbox, switch, splitscreen, bot, unknown
    pub platform: String,
    pub id: String,
}

impl std::fmt::Display for PlayerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlayerReport {
    pub id: PlayerId,
    pub name: String,
    /// 0 = blue, 1 = orange (the team the player finished on).
    pub team: u8,
    pub is_bot: bool,
    pub car_id: Option<u32>,
    pub car_name: Option<String>,
    /// Seconds this player had a car on the field (demolished time excluded).
    pub time_played: f64,
    pub core: Core,
    pub boost: Option<Boost>,
    pub movement: Option<Movement>,
    pub positioning: Option<Positioning>,
    pub touches: Option<Touches>,
    pub challenges: Option<Challenges>,
    pub kickoffs: Option<PlayerKickoffs>,
    pub mechanics: Option<Mechanics>,
    pub heatmap: Option<Heatmap>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Core {
    pub score: u32,
    pub goals: u32,
    pub assists: u32,
    pub saves: u32,
    pub shots: u32,
    pub shooting_percentage: f64,
    pub demos_inflicted: u32,
    pub demos_taken: u32,
    pub mvp: bool,
    pub shots_against: u32,
    pub goals_against: u32,
    pub goals_against_while_last_defender: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Boost {
    /// Boost used per minute (ballchasing's BPM): every fall of the server's replicated amount,
    /// over countdown + waiting + live time.
    pub bpm: f64,
    /// Boost collected per minute over the same time (ballchasing's BCPM; the rank benchmarks'
    /// `bcpm`). Absent from reports stored before it existed (read as 0 until re-analysed).
    #[serde(default)]
    pub bcpm: f64,
    pub avg_amount: f64,
    pub amount_collected: f64,
    pub amount_collected_big: f64,
    pub amount_collected_small: f64,
    pub count_collected_big: u32,
    pub count_collected_small: u32,
    pub amount_stolen: f64,
    pub amount_stolen_big: f64,
    pub amount_stolen_small: f64,
    pub count_stolen_big: u32,
    pub count_stolen_small: u32,
    pub amount_overfill: f64,
    pub amount_overfill_stolen: f64,
    pub amount_used_while_supersonic: f64,
    pub time_zero_boost: f64,
    pub percent_zero_boost: f64,
    pub time_full_boost: f64,
    pub percent_full_boost: f64,
    pub time_boost_0_25: f64,
    pub time_boost_25_50: f64,
    pub time_boost_50_75: f64,
    pub time_boost_75_100: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Movement {
    pub avg_speed: f64,
    pub avg_speed_percentage: f64,
    pub max_speed: f64,
    pub total_distance: f64,
    pub time_slow_speed: f64,
    pub percent_slow_speed: f64,
    pub time_boost_speed: f64,
    pub percent_boost_speed: f64,
    pub time_supersonic_speed: f64,
    pub percent_supersonic_speed: f64,
    pub time_ground: f64,
    pub percent_ground: f64,
    pub time_low_air: f64,
    pub percent_low_air: f64,
    pub time_high_air: f64,
    pub percent_high_air: f64,
    pub time_powerslide: f64,
    pub count_powerslide: u32,
    pub avg_powerslide_duration: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Positioning {
    pub avg_distance_to_ball: f64,
    pub avg_distance_to_ball_possession: f64,
    pub avg_distance_to_ball_no_possession: f64,
    /// None for a team of one.
    pub avg_distance_to_mates: Option<f64>,
    pub time_defensive_third: f64,
    pub percent_defensive_third: f64,
    pub time_neutral_third: f64,
    pub percent_neutral_third: f64,
    pub time_offensive_third: f64,
    pub percent_offensive_third: f64,
    pub time_defensive_half: f64,
    pub percent_defensive_half: f64,
    pub time_offensive_half: f64,
    pub percent_offensive_half: f64,
    pub time_behind_ball: f64,
    pub percent_behind_ball: f64,
    pub time_infront_ball: f64,
    pub percent_infront_ball: f64,
    /// Time as the team's rearmost player; a lone player is always it (ballchasing counts it so).
    /// Kept optional for older stored reports, which left it out for teams of one.
    pub time_most_back: Option<f64>,
    pub time_most_forward: Option<f64>,
    pub time_closest_to_ball: f64,
    pub time_farthest_from_ball: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Touches {
    pub count: u32,
    pub aerial: u32,
    pub wall: u32,
    pub hard_hits: u32,
    pub passes_completed: u32,
    pub passes_received: u32,
    pub turnovers: u32,
    pub takeaways: u32,
    pub avg_touch_speed: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Challenges {
    pub contests: u32,
    pub wins: u32,
    pub losses: u32,
    pub neutral: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct PlayerKickoffs {
    pub count: u32,
    pub as_go: u32,
    pub first_touches: u32,
    pub avg_time_to_first_touch: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Mechanics {
    pub jumps: u32,
    pub double_jumps: u32,
    pub flips: u32,
    pub wavedashes: u32,
    pub half_flips: u32,
    pub speedflips: u32,
    pub aerials: u32,
    pub flip_resets: u32,
    pub ceiling_touches: u32,
    pub dribbles: u32,
    pub flicks: u32,
}

/// 24 × 16 occupancy grid over x ±4096 (columns) and y ±5120 (rows), row-major from
/// y = −5120 (blue goal) upward, each cell the share of the player's counted time (sums to 1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Heatmap {
    pub cols: u32,
    pub rows: u32,
    pub cells: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TeamReport {
    pub color: String,
    pub core: Core,
    pub boost: Option<Boost>,
    pub movement: Option<Movement>,
    pub positioning: Option<Positioning>,
    pub time_ball_possession: Option<f64>,
    pub time_ball_in_own_side: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Kickoff {
    /// Seconds from the first kickoff.
    pub t: f64,
    pub frame: usize,
    pub overtime: bool,
    /// Seconds from "GO" to the first touch; None if nobody touched.
    pub time_to_first_touch: Option<f64>,
    pub first_touch_player: Option<usize>,
    /// FIRST_POSSESSION_BLUE/ORANGE, NEUTRAL, GOAL_FOR_BLUE/ORANGE.
    pub outcome: KickoffOutcome,
    pub players: Vec<KickoffPlayer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KickoffPlayer {
    /// Index into `Report::players`.
    pub player: usize,
    /// CENTER, OFF_CENTER, DIAGONAL or UNKNOWN (by spawn position).
    pub spawn: SpawnClass,
    /// GO, CHEAT, WING or BACK.
    pub role: KickoffRole,
    pub boost_used: f64,
    pub approach: KickoffApproach,
}

/// Where a car started a kickoff (STATS.md §8, SA's classes).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpawnClass {
    Center,
    OffCenter,
    Diagonal,
    Unknown,
}

/// A player's job at a kickoff (STATS.md §8, RC's roles).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KickoffRole {
    /// The player of the team closest to the centre.
    Go,
    Cheat,
    Wing,
    Back,
}

/// How a player went at a kickoff.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KickoffApproach {
    Speedflip,
    StandardFlip,
    StandardBoost,
    Delay,
    FakeStationary,
    Standard,
}

/// Who came out of a kickoff with the ball, or scored soon after it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KickoffOutcome {
    GoalForBlue,
    GoalForOrange,
    FirstPossessionBlue,
    FirstPossessionOrange,
    Neutral,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TimelineEvent {
    /// Seconds from the first kickoff, on the match clock (Σ frame deltas).
    pub t: f64,
    pub frame: usize,
    /// GOAL, SHOT, SAVE, ASSIST, DEMO, KICKOFF, CHALLENGE
    pub kind: EventKind,
    pub player: Option<usize>,
    pub team: Option<u8>,
    /// Kind-specific details (speeds in uu/s, locations in uu).
    pub data: serde_json::Value,
}

/// What a timeline event is; serialized as GOAL, SHOT, SAVE, ….
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    Goal,
    Shot,
    Save,
    Assist,
    Demo,
    Kickoff,
    Challenge,
}

impl EventKind {
    /// The serialized name (the timeline is ordered by it within a frame).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Goal => "GOAL",
            EventKind::Shot => "SHOT",
            EventKind::Save => "SAVE",
            EventKind::Assist => "ASSIST",
            EventKind::Demo => "DEMO",
            EventKind::Kickoff => "KICKOFF",
            EventKind::Challenge => "CHALLENGE",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Series {
    pub hz: f64,
    pub t: Vec<f32>,
    /// Per player (same order as `players`), boost 0–100; NaN-free: −1 when the car is absent.
    pub boost: Vec<Vec<f32>>,
    /// Per player speed in uu/s, −1 when absent.
    pub speed: Vec<Vec<f32>>,
    /// Running score [blue, orange] at each sample.
    pub score: Vec<[u8; 2]>,
}

impl Report {
    /// Brings a report stored by an older analyzer up to today's fields where the old values
    /// allow it exactly, until `rlcoach reanalyze` replaces it: before `+a5`, `bpm` held boost
    /// collected per minute, which is now `bcpm`.
    pub fn upgrade_stored(&mut self) {
        let revision = self
            .analyzer_version
            .rsplit_once("+a")
            .and_then(|(_, r)| r.parse::<u32>().ok());
        if revision.is_some_and(|r| r < 5) {
            let players = self.players.iter_mut().map(|p| &mut p.boost);
            let teams = self.teams.iter_mut().map(|t| &mut t.boost);
            for b in players.chain(teams).flatten() {
                b.bcpm = b.bpm;
            }
        }
    }

    pub fn player_index_by_name(&self, name: &str) -> Option<usize> {
        let wanted = name.trim().to_lowercase();
        self.players
            .iter()
            .position(|p| p.name.trim().to_lowercase() == wanted)
    }
}
