//! Per-frame, time-weighted accumulators for the continuous stat families: boost levels, movement,
//! positioning and heatmaps. They see one [`FrameView`] per network frame and keep only sums, so
//! the analysis needs no per-frame storage. Discrete events (pickups, touches, demos) live in
//! `events.rs`.

use super::field::{
    self, BOOST_FULL_RAW_MIN, BOOST_SPEED_MIN, BOOST_ZERO_RAW_MAX, GROUND_Z_MAX, HIGH_AIR_Z_MIN,
    POWERSLIDE_Z_MAX, SUPERSONIC_MIN, THIRD_BOUNDARY_Y, Vec3,
};
use crate::report::{Heatmap, Movement, Positioning};

/// One player's car as seen in one frame.
#[derive(Debug, Clone, Copy)]
pub struct CarView {
    pub pos: Vec3,
    pub vel: Vec3,
    /// Boost level drained between the server's sparse updates: what the car really has.
    pub boost_estimate_raw: f32,
    /// The server's last replicated amount. ballchasing's levels (average, time at 0 and 100)
    /// step with these updates rather than following the drain (checked on `groundtruth/`).
    pub boost_replicated_raw: f32,
    pub boosting: bool,
    pub handbrake: bool,
    pub team: u8,
}

/// Everything the accumulators need about one frame. `dt` is how long this state lasts (the next
/// frame's delta: 0 across cut goal replays), so Σ dt is ballchasing's match duration.
pub struct FrameView<'a> {
    pub dt: f64,
    pub ball: Option<Vec3>,
    /// Indexed by player; None while the player has no car (demolished, not yet spawned, left).
    pub cars: &'a [Option<CarView>],
    /// Team whose player touched the ball last, if any.
    pub possession: Option<u8>,
    /// Kickoff countdown: cars are frozen at their spawns. Counted in time totals (ballchasing's
    /// buckets add up to the match duration) but left out of averages.
    pub frozen: bool,
    /// After a goal until the next kickoff countdown: ballchasing leaves it out of boost levels.
    pub post_goal: bool,
}

pub const HEAT_COLS: usize = 24;
pub const HEAT_ROWS: usize = 16;

#[derive(Debug, Clone)]
pub struct PlayerAcc {
    pub time: f64,
    // boost levels
    boost_integral: f64,
    time_zero: f64,
    time_full: f64,
    bands: [f64; 4],
    pub used_supersonic_raw: f64,
    /// Time outside kickoff countdowns: the base of the averages.
    live_time: f64,
    // movement
    speed_integral: f64,
    max_speed: f32,
    distance: f64,
    last_pos: Option<Vec3>,
    speed_time: [f64; 3],
    height_time: [f64; 3],
    powerslide_time: f64,
    powerslide_count: u32,
    was_sliding: bool,
    // positioning
    dist_ball_integral: f64,
    dist_ball_time: f64,
    dist_ball_poss: (f64, f64),
    dist_ball_no_poss: (f64, f64),
    dist_mates: (f64, f64),
    thirds: [f64; 3],
    halves: [f64; 2],
    behind: f64,
    front: f64,
    most_back: f64,
    most_forward: f64,
    closest: f64,
    farthest: f64,
    heat: Vec<f32>,
}

impl Default for PlayerAcc {
    fn default() -> Self {
        PlayerAcc {
            time: 0.0,
            boost_integral: 0.0,
            live_time: 0.0,
            time_zero: 0.0,
            time_full: 0.0,
            bands: [0.0; 4],
            used_supersonic_raw: 0.0,
            speed_integral: 0.0,
            max_speed: 0.0,
            distance: 0.0,
            last_pos: None,
            speed_time: [0.0; 3],
            height_time: [0.0; 3],
            powerslide_time: 0.0,
            powerslide_count: 0,
            was_sliding: false,
            dist_ball_integral: 0.0,
            dist_ball_time: 0.0,
            dist_ball_poss: (0.0, 0.0),
            dist_ball_no_poss: (0.0, 0.0),
            dist_mates: (0.0, 0.0),
            thirds: [0.0; 3],
            halves: [0.0; 2],
            behind: 0.0,
            front: 0.0,
            most_back: 0.0,
            most_forward: 0.0,
            closest: 0.0,
            farthest: 0.0,
            heat: vec![0.0; HEAT_COLS * HEAT_ROWS],
        }
    }
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part * 100.0 / whole
    } else {
        0.0
    }
}

/// Roles within a team for one frame: (most back, most forward, closest, farthest) player indices.
fn team_roles(view: &FrameView<'_>, team: u8) -> [Option<usize>; 4] {
    let mut back: Option<(usize, f32)> = None;
    let mut fwd: Option<(usize, f32)> = None;
    let mut close: Option<(usize, f32)> = None;
    let mut far: Option<(usize, f32)> = None;
    for (i, car) in view.cars.iter().enumerate() {
        let Some(car) = car else { continue };
        if car.team != team {
            continue;
        }
        let ny = field::normalized_y(car.pos.y, team);
        if back.is_none_or(|(_, y)| ny < y) {
            back = Some((i, ny));
        }
        if fwd.is_none_or(|(_, y)| ny > y) {
            fwd = Some((i, ny));
        }
        if let Some(ball) = view.ball {
            let d = car.pos.dist(ball);
            if close.is_none_or(|(_, bd)| d < bd) {
                close = Some((i, d));
            }
            if far.is_none_or(|(_, bd)| d > bd) {
                far = Some((i, d));
            }
        }
    }
    [
        back.map(|b| b.0),
        fwd.map(|f| f.0),
        close.map(|c| c.0),
        far.map(|f| f.0),
    ]
}

pub fn accumulate(accs: &mut [PlayerAcc], view: &FrameView<'_>) {
    let dt = view.dt;
    // Roles count only outside the frozen countdown, and only frames that last.
    let roles = if view.frozen || dt <= 0.0 {
        [[None; 4]; 2]
    } else {
        [team_roles(view, 0), team_roles(view, 1)]
    };
    for (i, car) in view.cars.iter().enumerate() {
        let Some(acc) = accs.get_mut(i) else { continue };
        let Some(car) = car else {
            acc.last_pos = None;
            acc.was_sliding = false;
            continue;
        };
        if !car.pos.is_finite() || !car.vel.is_finite() {
            continue;
        }
        // Distance counts every movement between two frames where the car exists, even across a
        // zero-length frame, so it is tracked before the dt check.
        if let Some(last) = acc.last_pos {
            let step = f64::from(car.pos.dist(last));
            // A jump of more than 1000 uu in one frame is a respawn/teleport, not driving.
            if step < 1000.0 {
                acc.distance += step;
            }
        }
        acc.last_pos = Some(car.pos);
        if dt <= 0.0 {
            continue;
        }
        acc.time += dt;

        // Boost levels.
        let raw = car.boost_replicated_raw.clamp(0.0, 255.0);
        if !view.frozen {
            acc.live_time += dt;
            acc.boost_integral += field::raw_to_pct(raw) * dt;
        }
        if !view.post_goal {
            if raw <= BOOST_ZERO_RAW_MAX {
                acc.time_zero += dt;
            }
            if raw >= BOOST_FULL_RAW_MIN {
                acc.time_full += dt;
            }
        }
        let band = ((raw / 63.75) as usize).min(3);
        acc.bands[band] += dt;

        // Movement.
        let speed = car.vel.len();
        acc.max_speed = acc.max_speed.max(speed);
        if !view.frozen {
            acc.speed_integral += f64::from(speed) * dt;
        }
        let sband = if speed < BOOST_SPEED_MIN {
            0
        } else if speed < SUPERSONIC_MIN {
            1
        } else {
            2
        };
        acc.speed_time[sband] += dt;
        if sband == 2 && car.boosting && car.boost_estimate_raw > 0.0 {
            acc.used_supersonic_raw += f64::from(field::BOOST_DRAIN_RAW_PER_S) * dt;
        }
        let hband = if car.pos.z <= GROUND_Z_MAX {
            0
        } else if car.pos.z < HIGH_AIR_Z_MIN {
            1
        } else {
            2
        };
        acc.height_time[hband] += dt;
        // A press counts near the ground (SA's 40 uu); its time only while the wheels are on the
        // ground band, where the handbrake acts (ballchasing's times match this on all ten
        // players, 4 of them 20–35 % high with the 40 uu band).
        let sliding = car.handbrake && car.pos.z <= POWERSLIDE_Z_MAX;
        if car.handbrake && car.pos.z <= GROUND_Z_MAX {
            acc.powerslide_time += dt;
        }
        if sliding && !acc.was_sliding {
            acc.powerslide_count += 1;
        }
        acc.was_sliding = sliding;

        // Positioning.
        let team = car.team;
        let ny = field::normalized_y(car.pos.y, team);
        let third = if ny < -THIRD_BOUNDARY_Y {
            0
        } else if ny > THIRD_BOUNDARY_Y {
            2
        } else {
            1
        };
        acc.thirds[third] += dt;
        acc.halves[usize::from(ny >= 0.0)] += dt;
        if let Some(ball) = view.ball {
            let bny = field::normalized_y(ball.y, team);
            if ny < bny {
                acc.behind += dt;
            } else {
                acc.front += dt;
            }
        }
        if let Some(ball) = view.ball.filter(|_| !view.frozen) {
            let d = f64::from(car.pos.dist(ball));
            acc.dist_ball_integral += d * dt;
            acc.dist_ball_time += dt;
            if view.possession == Some(team) {
                acc.dist_ball_poss.0 += d * dt;
                acc.dist_ball_poss.1 += dt;
            } else if view.possession.is_some() {
                acc.dist_ball_no_poss.0 += d * dt;
                acc.dist_ball_no_poss.1 += dt;
            }
        }
        let mut mate_sum = 0.0;
        let mut mates = 0u32;
        for (j, other) in view.cars.iter().enumerate() {
            if let Some(o) = other
                && j != i
                && o.team == team
            {
                mate_sum += f64::from(car.pos.dist(o.pos));
                mates += 1;
            }
        }
        if mates > 0 {
            acc.dist_mates.0 += mate_sum / f64::from(mates) * dt;
            acc.dist_mates.1 += dt;
        }
        // Roles leave the frozen kickoff countdown out and a lone player holds them all: the duel's
        // ground truth gives both players most back = most forward = its time minus countdowns,
        // and 0925's role times also fall short of its thirds. (The ranked-doubles file's role
        // times sum to its full time; that one file disagrees.)
        let r = &roles[usize::from(team.min(1))];
        if r[0] == Some(i) {
            acc.most_back += dt;
        }
        if r[1] == Some(i) {
            acc.most_forward += dt;
        }
        if r[2] == Some(i) {
            acc.closest += dt;
        }
        if r[3] == Some(i) {
            acc.farthest += dt;
        }

        // Heatmap.
        // Truncation is the floor once negatives are clamped to 0 (and `as` maps NaN to 0).
        let cx = (((car.pos.x + 4096.0) / 8192.0) * HEAT_COLS as f32).max(0.0) as usize;
        let cy = (((car.pos.y + 5120.0) / 10240.0) * HEAT_ROWS as f32).max(0.0) as usize;
        let (cx, cy) = (cx.min(HEAT_COLS - 1), cy.min(HEAT_ROWS - 1));
        acc.heat[cy * HEAT_COLS + cx] += dt as f32;
    }
}

impl PlayerAcc {
    pub fn avg_boost_pct(&self) -> f64 {
        if self.live_time > 0.0 {
            self.boost_integral / self.live_time
        } else {
            0.0
        }
    }
    pub fn boost_times(&self) -> (f64, f64, [f64; 4]) {
        (self.time_zero, self.time_full, self.bands)
    }

    pub fn movement(&self) -> Movement {
        let t = self.time;
        let avg = if self.live_time > 0.0 {
            self.speed_integral / self.live_time
        } else {
            0.0
        };
        Movement {
            avg_speed: avg,
            avg_speed_percentage: avg * 100.0 / f64::from(field::CAR_MAX_SPEED),
            max_speed: f64::from(self.max_speed),
            total_distance: self.distance,
            time_slow_speed: self.speed_time[0],
            percent_slow_speed: pct(self.speed_time[0], t),
            time_boost_speed: self.speed_time[1],
            percent_boost_speed: pct(self.speed_time[1], t),
            time_supersonic_speed: self.speed_time[2],
            percent_supersonic_speed: pct(self.speed_time[2], t),
            time_ground: self.height_time[0],
            percent_ground: pct(self.height_time[0], t),
            time_low_air: self.height_time[1],
            percent_low_air: pct(self.height_time[1], t),
            time_high_air: self.height_time[2],
            percent_high_air: pct(self.height_time[2], t),
            time_powerslide: self.powerslide_time,
            count_powerslide: self.powerslide_count,
            avg_powerslide_duration: if self.powerslide_count > 0 {
                self.powerslide_time / f64::from(self.powerslide_count)
            } else {
                0.0
            },
        }
    }

    pub fn positioning(&self, has_mates: bool) -> Positioning {
        let t = self.time;
        let avg = |(s, w): (f64, f64)| if w > 0.0 { s / w } else { 0.0 };
        let side = self.behind + self.front;
        Positioning {
            avg_distance_to_ball: avg((self.dist_ball_integral, self.dist_ball_time)),
            avg_distance_to_ball_possession: avg(self.dist_ball_poss),
            avg_distance_to_ball_no_possession: avg(self.dist_ball_no_poss),
            avg_distance_to_mates: has_mates.then(|| avg(self.dist_mates)),
            time_defensive_third: self.thirds[0],
            percent_defensive_third: pct(self.thirds[0], t),
            time_neutral_third: self.thirds[1],
            percent_neutral_third: pct(self.thirds[1], t),
            time_offensive_third: self.thirds[2],
            percent_offensive_third: pct(self.thirds[2], t),
            time_defensive_half: self.halves[0],
            percent_defensive_half: pct(self.halves[0], t),
            time_offensive_half: self.halves[1],
            percent_offensive_half: pct(self.halves[1], t),
            time_behind_ball: self.behind,
            percent_behind_ball: pct(self.behind, side),
            time_infront_ball: self.front,
            percent_infront_ball: pct(self.front, side),
            // A lone player holds every role in their team, as ballchasing counts it (its 1v1
            // reports give most back = most forward = closest = farthest).
            time_most_back: Some(self.most_back),
            time_most_forward: Some(self.most_forward),
            time_closest_to_ball: self.closest,
            time_farthest_from_ball: self.farthest,
        }
    }

    pub fn heatmap(&self) -> Heatmap {
        let total: f32 = self.heat.iter().sum();
        let cells = if total > 0.0 {
            self.heat.iter().map(|c| c / total).collect()
        } else {
            self.heat.clone()
        };
        Heatmap {
            cols: HEAT_COLS as u32,
            rows: HEAT_ROWS as u32,
            cells,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn car(pos: Vec3, speed: f32, replicated: f32, estimate: f32) -> CarView {
        CarView {
            pos,
            vel: Vec3::new(0.0, speed, 0.0),
            boost_estimate_raw: estimate,
            boost_replicated_raw: replicated,
            boosting: false,
            handbrake: false,
            team: 0,
        }
    }

    fn run(frames: &[(f64, CarView, bool)]) -> PlayerAcc {
        let mut accs = vec![PlayerAcc::default()];
        for (dt, c, post_goal) in frames {
            let cars = [Some(*c)];
            let view = FrameView {
                dt: *dt,
                ball: Some(Vec3::new(0.0, 0.0, 93.0)),
                cars: &cars,
                possession: None,
                frozen: false,
                post_goal: *post_goal,
            };
            accumulate(&mut accs, &view);
        }
        accs.remove(0)
    }

    #[test]
    fn boost_levels_step_with_replicated_updates_and_leave_post_goal_out() {
        let p = Vec3::new(0.0, -2000.0, 17.0);
        // 2 s full (replicated 255 while the estimate drains), 1 s empty, then 1 s empty after a goal.
        let acc = run(&[
            (2.0, car(p, 0.0, 255.0, 180.0), false),
            (1.0, car(p, 0.0, 0.0, 0.0), false),
            (1.0, car(p, 0.0, 0.0, 0.0), true),
        ]);
        let (zero, full, bands) = acc.boost_times();
        assert_eq!((zero, full), (1.0, 2.0));
        // The average runs over all non-countdown time: (2·100 + 2·0) / 4.
        assert!((acc.avg_boost_pct() - 50.0).abs() < 1e-9);
        assert_eq!(bands, [2.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn movement_bands_and_powerslide() {
        let ground = Vec3::new(0.0, 0.0, 17.0);
        let low = Vec3::new(0.0, 0.0, 30.0);
        let high = Vec3::new(0.0, 0.0, 900.0);
        let mut slide = car(ground, 1000.0, 85.0, 85.0);
        slide.handbrake = true;
        let mut slide_low = slide;
        slide_low.pos = low;
        let acc = run(&[
            (1.0, car(ground, 1000.0, 85.0, 85.0), false), // slow, ground
            (1.0, car(ground, 2000.0, 85.0, 85.0), false), // boost speed
            (1.0, car(high, 2250.0, 85.0, 85.0), false),   // supersonic, high air
            (0.5, slide, false),                           // one press, 0.5 s on the ground
            (0.5, slide_low, false),                       // same press, wheels just off: no time
            (0.5, car(ground, 1000.0, 85.0, 85.0), false),
            (0.5, slide_low, false), // a second press near the ground: counted, no time
        ]);
        let m = acc.movement();
        assert_eq!(
            (
                m.time_slow_speed,
                m.time_boost_speed,
                m.time_supersonic_speed
            ),
            (3.0, 1.0, 1.0)
        );
        assert_eq!(
            (m.time_ground, m.time_low_air, m.time_high_air),
            (3.0, 1.0, 1.0)
        );
        assert_eq!((m.count_powerslide, m.time_powerslide), (2, 0.5));
        // 1000·3 + 2000 + 2250 over 5 s.
        assert!((m.avg_speed - 7250.0 / 5.0).abs() < 1e-6);
    }

    #[test]
    fn positioning_halves_thirds_and_ball_side() {
        // Blue (team 0) defends −y; the ball sits at the centre.
        let acc = run(&[
            (
                1.0,
                car(Vec3::new(0.0, -3000.0, 17.0), 0.0, 0.0, 0.0),
                false,
            ), // defensive third, behind
            (2.0, car(Vec3::new(0.0, 1000.0, 17.0), 0.0, 0.0, 0.0), false), // neutral, offensive half
            (1.0, car(Vec3::new(0.0, 4000.0, 17.0), 0.0, 0.0, 0.0), false), // offensive third, in front
        ]);
        let pos = acc.positioning(false);
        assert_eq!(
            (
                pos.time_defensive_third,
                pos.time_neutral_third,
                pos.time_offensive_third
            ),
            (1.0, 2.0, 1.0)
        );
        assert_eq!(
            (pos.time_defensive_half, pos.time_offensive_half),
            (1.0, 3.0)
        );
        assert_eq!((pos.time_behind_ball, pos.time_infront_ball), (1.0, 3.0));
        assert_eq!(
            pos.time_most_back,
            Some(4.0),
            "a lone player holds every role"
        );
        // 3-D distances to the ball at (0, 0, 93): ≈ 3001, 1003 (twice), 4001.
        assert!((pos.avg_distance_to_ball - (3001.0 + 2.0 * 1003.0 + 4001.0) / 4.0).abs() < 1.0);
    }
}
