//! Soccar field geometry and every stat constant (STATS.md §0 and the sections named below), in
//! one place, each with its source: SA = subtr-actor, RC = rlcoach's reference, CB = carball,
//! BC = ballchasing; "ours" where the value was set against `../shared/groundtruth`.

/// Simple 3-vector in Unreal units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Vec3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

impl Vec3 {
    pub const ZERO: Vec3 = Vec3 {
        x: 0.0,
        y: 0.0,
        z: 0.0,
    };
    pub fn new(x: f32, y: f32, z: f32) -> Self {
        Vec3 { x, y, z }
    }
    pub fn len(self) -> f32 {
        (self.x * self.x + self.y * self.y + self.z * self.z).sqrt()
    }
    pub fn dist(self, o: Vec3) -> f32 {
        Vec3::new(self.x - o.x, self.y - o.y, self.z - o.z).len()
    }
    pub fn dist_xy(self, o: Vec3) -> f32 {
        ((self.x - o.x).powi(2) + (self.y - o.y).powi(2)).sqrt()
    }
    pub fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite() && self.z.is_finite()
    }
}

pub const SIDE_WALL_X: f32 = 4096.0;
pub const BACK_WALL_Y: f32 = 5120.0;
pub const CEILING_Z: f32 = 2044.0;
pub const BALL_RADIUS: f32 = 92.75;
pub const CAR_MAX_SPEED: f32 = 2300.0;
pub const GRAVITY_Z: f32 = -650.0;

/// Speed bands (SA/CB): slow < 1410 ≤ boost speed < 2200 ≤ supersonic.
pub const BOOST_SPEED_MIN: f32 = 1410.0;
pub const SUPERSONIC_MIN: f32 = 2200.0;
/// Height bands: ground ≤ 20 (SA, CB); high air above 840 (CB HEIGHT_1_LIM). SA's 735.5 put
/// 15–30 % too much time in high air on all three ground-truth replays.
pub const GROUND_Z_MAX: f32 = 20.0;
pub const HIGH_AIR_Z_MIN: f32 = 840.0;
/// Powerslide counts only near the ground (SA POWERSLIDE_MAX_Z_THRESHOLD).
pub const POWERSLIDE_Z_MAX: f32 = 40.0;
/// Thirds boundary in normalized y: the field's length split in three (RC 5120/3; CB 1713).
/// SA's 2300 (side-lane pads) disagreed with ballchasing on all three ground-truth replays.
pub const THIRD_BOUNDARY_Y: f32 = BACK_WALL_Y / 3.0;
/// Ball "in a half" neutral band (SA ball_half.rs).
pub const BALL_HALF_NEUTRAL_Y: f32 = 200.0;

/// Boost: 0–255 raw; drain while boosting (SA/CB), pad sizes.
pub const BOOST_MAX_RAW: f32 = 255.0;
pub const BOOST_DRAIN_RAW_PER_S: f32 = 80.0 / 0.93;
pub const BOOST_KICKOFF_RAW: f32 = 85.0;
pub const BIG_PAD_RAW: f32 = 255.0;
pub const SMALL_PAD_RAW: f32 = 255.0 * 0.12;
/// Pad respawn times (STATS.md §3) and the server's tick (120 Hz), in seconds.
pub const BIG_PAD_RESPAWN_S: f64 = 10.0;
pub const SMALL_PAD_RESPAWN_S: f64 = 4.0;
pub const SERVER_TICK_S: f64 = 1.0 / 120.0;
pub const BOOST_ZERO_RAW_MAX: f32 = 1.0;
pub const BOOST_FULL_RAW_MIN: f32 = 254.0;

/// Touches (STATS.md §6): a ball velocity change gravity does not explain above this Δv (ours;
/// SA's soft touch is 320), or a `HitTeamNum` update.
pub const TOUCH_MIN_DV: f32 = 250.0;
/// How close the toucher's car must be to the ball (ours; RC uses a car–ball distance < 200),
/// and how close when the server named the hitting team.
pub const TOUCH_REACH: f32 = 320.0;
pub const TOUCH_REACH_HIT_TEAM: f32 = 500.0;
/// One touch per player per 0.2 s (RC's debounce), unless the ball's Δv exceeds this (ours).
pub const TOUCH_DEBOUNCE_S: f64 = 0.2;
pub const TOUCH_HARD_DV: f32 = 500.0;
/// Touch kinds (STATS.md §6): aerial with the ball at or above 300; wall with the car within 150
/// of a side wall and off the floor (above 60, ours); a hard hit at SA's hard-touch Δv of 900.
pub const AERIAL_TOUCH_Z_MIN: f32 = 300.0;
pub const WALL_TOUCH_MARGIN: f32 = 150.0;
pub const WALL_TOUCH_Z_MIN: f32 = 60.0;
pub const HARD_HIT_DV: f32 = 900.0;
/// Passes (RC, STATS.md §6): same-team touches by different players within 2 s with at least
/// 200 uu of forward progress.
pub const PASS_WINDOW_S: f64 = 2.0;
pub const PASS_MIN_PROGRESS: f32 = 200.0;
/// 50/50s (RC, STATS.md §7): opposing touches within 1.2 s, cars within 1000 uu; a third touch
/// within 0.25 s makes it neutral.
pub const CHALLENGE_WINDOW_S: f64 = 1.2;
pub const CHALLENGE_MAX_DIST: f32 = 1000.0;
pub const CHALLENGE_NEUTRAL_S: f64 = 0.25;
/// A pad is stolen when it lies in the opponent's half beyond this normalized y, so the centre
/// pads never count (ours).
pub const STOLEN_PAD_Y_MIN: f32 = 128.0;

/// The server replicates a demolition for a while: one per attacker and victim within 3 s (ours).
pub const DEMO_DEDUPE_S: f64 = 3.0;

/// Kickoffs (STATS.md §8): a kickoff takes its first touch up to 10 s after GO (ours; RC closes
/// its window after 5 s).
pub const KICKOFF_WINDOW_S: f64 = 10.0;
/// Spawn classes (SA): centre |x| ≤ 350, |y| ≥ 4300; off-centre |x| ≤ 900, |y| ≥ 3300;
/// diagonal |x| ≥ 1500, |y| ≤ 3300.
pub const SPAWN_CENTER_X_MAX: f32 = 350.0;
pub const SPAWN_CENTER_Y_MIN: f32 = 4300.0;
pub const SPAWN_OFF_CENTER_X_MAX: f32 = 900.0;
pub const SPAWN_OFF_CENTER_Y_MIN: f32 = 3300.0;
pub const SPAWN_DIAGONAL_X_MIN: f32 = 1500.0;
pub const SPAWN_DIAGONAL_Y_MAX: f32 = 3300.0;
/// Roles (RC): WING if |x| ≥ 1700 and |y| ≤ 3600; CHEAT if |y| ≤ 3200; else BACK.
pub const ROLE_WING_X_MIN: f32 = 1700.0;
pub const ROLE_WING_Y_MAX: f32 = 3600.0;
pub const ROLE_CHEAT_Y_MAX: f32 = 3200.0;
/// Approaches (RC): a speedflip dodged, used ≥ 20 % boost and touched within 2.7 s; a flip or
/// boost kickoff used ≥ 10 %; a fake moved less than 100 uu.
pub const SPEEDFLIP_BOOST_PCT_MIN: f64 = 20.0;
pub const SPEEDFLIP_FIRST_TOUCH_MAX_S: f64 = 2.7;
pub const KICKOFF_BOOST_PCT_MIN: f64 = 10.0;
pub const FAKE_KICKOFF_MOVED_MAX: f32 = 100.0;
/// Outcome (SA): a goal within 12 s of GO is the kickoff's; otherwise the team that touched last
/// within 3 s of the first touch has it (ours).
pub const KICKOFF_GOAL_WINDOW_S: f64 = 12.0;
pub const KICKOFF_SETTLE_S: f64 = 3.0;

/// Goal shot speed (STATS.md §11): the fastest ball in the second before the goal frame (35
/// frames, ours), when at least 500 uu/s.
pub const SHOT_SPEED_FRAMES: usize = 35;
pub const SHOT_SPEED_MIN: f32 = 500.0;

/// Chart series sampling rate (ours).
pub const SERIES_HZ: f64 = 2.0;

pub fn raw_to_pct(raw: f32) -> f64 {
    f64::from(raw) * 100.0 / 255.0
}

/// y as seen from `team`: positive means toward the opponent's goal (blue defends −y).
pub fn normalized_y(y: f32, team: u8) -> f32 {
    if team == 0 { y } else { -y }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadSize {
    Big,
    Small,
}

impl PadSize {
    /// The boost a pad of this size grants (raw, 0–255).
    pub fn grant_raw(self) -> f32 {
        match self {
            PadSize::Big => BIG_PAD_RAW,
            PadSize::Small => SMALL_PAD_RAW,
        }
    }

    /// How long a pad of this size takes to come back, in seconds.
    pub fn respawn_s(self) -> f64 {
        match self {
            PadSize::Big => BIG_PAD_RESPAWN_S,
            PadSize::Small => SMALL_PAD_RESPAWN_S,
        }
    }
}

pub struct Pad {
    pub x: f32,
    pub y: f32,
    pub size: PadSize,
}

/// The 34 Soccar pads (SA `boost_pad_locations.rs`; STATS.md §0).
pub fn soccar_pads() -> &'static [Pad] {
    use PadSize::{Big, Small};
    const fn p(x: f32, y: f32, size: PadSize) -> Pad {
        Pad { x, y, size }
    }
    static PADS: [Pad; 34] = [
        p(-3072.0, -4096.0, Big),
        p(3072.0, -4096.0, Big),
        p(-3072.0, 4096.0, Big),
        p(3072.0, 4096.0, Big),
        p(-3584.0, 0.0, Big),
        p(3584.0, 0.0, Big),
        p(0.0, -4240.0, Small),
        p(0.0, 4240.0, Small),
        p(-1792.0, -4184.0, Small),
        p(1792.0, -4184.0, Small),
        p(-1792.0, 4184.0, Small),
        p(1792.0, 4184.0, Small),
        p(-940.0, -3308.0, Small),
        p(940.0, -3308.0, Small),
        p(-940.0, 3308.0, Small),
        p(940.0, 3308.0, Small),
        p(0.0, -2816.0, Small),
        p(0.0, 2816.0, Small),
        p(-3584.0, -2484.0, Small),
        p(3584.0, -2484.0, Small),
        p(-3584.0, 2484.0, Small),
        p(3584.0, 2484.0, Small),
        p(-1788.0, -2300.0, Small),
        p(1788.0, -2300.0, Small),
        p(-1788.0, 2300.0, Small),
        p(1788.0, 2300.0, Small),
        p(-2048.0, -1036.0, Small),
        p(2048.0, -1036.0, Small),
        p(-2048.0, 1036.0, Small),
        p(2048.0, 1036.0, Small),
        p(0.0, -1024.0, Small),
        p(0.0, 1024.0, Small),
        p(-1024.0, 0.0, Small),
        p(1024.0, 0.0, Small),
    ];
    &PADS
}

/// The pickup match radius (SA: small 450, big 1000).
pub const BIG_PAD_MATCH_RADIUS: f32 = 1000.0;
pub const SMALL_PAD_MATCH_RADIUS: f32 = 450.0;

/// Index of the pad nearest to a car position, if within the pickup match radius.
pub fn nearest_pad(pos: Vec3) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, pad) in soccar_pads().iter().enumerate() {
        let d = ((pos.x - pad.x).powi(2) + (pos.y - pad.y).powi(2)).sqrt();
        let limit = match pad.size {
            PadSize::Big => BIG_PAD_MATCH_RADIUS,
            PadSize::Small => SMALL_PAD_MATCH_RADIUS,
        };
        if d <= limit && best.is_none_or(|(_, bd)| d < bd) {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
}

/// A car's rotation as replicated; the yaw (an `atan2`) is computed only when a mechanic asks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quat {
    pub x: f32,
    pub y: f32,
    pub z: f32,
    pub w: f32,
}

impl Quat {
    pub const IDENTITY: Quat = Quat {
        x: 0.0,
        y: 0.0,
        z: 0.0,
        w: 1.0,
    };
    pub fn yaw(self) -> f32 {
        yaw_of(self.x, self.y, self.z, self.w)
    }
}

/// Yaw (radians) of a unit quaternion.
pub fn yaw_of(qx: f32, qy: f32, qz: f32, qw: f32) -> f32 {
    (2.0 * (qw * qz + qx * qy)).atan2(1.0 - 2.0 * (qy * qy + qz * qz))
}

/// Smallest signed difference between two angles.
pub fn angle_diff(a: f32, b: f32) -> f32 {
    let mut d = a - b;
    while d > std::f32::consts::PI {
        d -= std::f32::consts::TAU;
    }
    while d < -std::f32::consts::PI {
        d += std::f32::consts::TAU;
    }
    d
}
