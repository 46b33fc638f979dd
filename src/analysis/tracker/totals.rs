//! The per-frame accumulators: each frame's counted time goes to its phase, to the team in
//! possession and the half the ball is in, and to every player's continuous stats
//! (`stats::accumulate`); each frame also leaves its match time and ball speed, and a goal
//! frame its conceding team's last defender.
//!
//! Invariants:
//! - a frame is credited once, with the next frame's delta (the last one with 0), after the
//!   frame's state is complete: Σ `phase_time` is the match duration;
//! - `frame_t` and `ball_speed` have one entry per frame processed;
//! - `accs` is parallel to the tracker's players.

use super::phase::Phase;
use crate::analysis::field::{self, Vec3};
use crate::analysis::stats::{self, CarView, FrameView, PlayerAcc};

pub struct FrameTotals {
    /// Continuous-stat accumulators, parallel to the tracker's players.
    pub accs: Vec<PlayerAcc>,
    /// Σ dt per phase, indexed by [`Phase::index`].
    pub phase_time: [f64; 4],
    /// The team whose player touched the ball last (cleared at each kickoff countdown).
    pub possession: Option<u8>,
    pub possession_time: [f64; 2],
    /// Live time with the ball in each team's half (outside the neutral band).
    pub ball_side_time: [f64; 2],
    /// Ball speed at each frame (for goal shot speeds); NaN-free, 0 when unknown.
    pub ball_speed: Vec<f32>,
    /// Match time (from the first kickoff) of each frame.
    pub frame_t: Vec<f32>,
    /// Per header goal, in frame order: the conceding team's rearmost player, if it had a car.
    pub last_defenders: Vec<Option<usize>>,
    /// Header goal frames not reached yet, with the scoring team, in frame order.
    goal_frames: std::collections::VecDeque<(usize, u8)>,
}

impl FrameTotals {
    pub fn new(goal_frames: Vec<(usize, u8)>) -> Self {
        FrameTotals {
            accs: Vec::new(),
            phase_time: [0.0; 4],
            possession: None,
            possession_time: [0.0; 2],
            ball_side_time: [0.0; 2],
            ball_speed: Vec::new(),
            frame_t: Vec::new(),
            last_defenders: Vec::new(),
            goal_frames: goal_frames.into(),
        }
    }

    /// Sized once for `frames` frames instead of grown by doubling.
    pub fn reserve_frames(&mut self, frames: usize) {
        self.ball_speed.reserve_exact(frames);
        self.frame_t.reserve_exact(frames);
    }

    pub fn record_frame(&mut self, t: f64, ball_pos: Option<Vec3>, ball_vel: Vec3) {
        self.ball_speed.push(if ball_pos.is_some() {
            ball_vel.len()
        } else {
            0.0
        });
        self.frame_t.push(t as f32);
    }

    /// At each header goal frame reached (header frame indices are network frame indices): the
    /// conceding team's car farthest back.
    pub fn last_defenders(&mut self, frame: usize, cars: &[Option<CarView>]) {
        while let Some(&(goal_frame, scoring_team)) = self.goal_frames.front() {
            if goal_frame > frame {
                break;
            }
            self.goal_frames.pop_front();
            let conceding = 1 - scoring_team.min(1);
            let mut best: Option<(usize, f32)> = None;
            for (p, v) in cars.iter().enumerate() {
                if let Some(v) = v
                    && v.team == conceding
                {
                    let ny = field::normalized_y(v.pos.y, conceding);
                    if best.is_none_or(|(_, by)| ny < by) {
                        best = Some((p, ny));
                    }
                }
            }
            self.last_defenders.push(best.map(|b| b.0));
        }
    }

    /// Counted time of the frame last sampled, `dt` long: phase, possession and ball-side time
    /// and every per-player accumulator.
    pub fn credit(&mut self, dt: f64, phase: Phase, ball: Option<Vec3>, cars: &[Option<CarView>]) {
        self.phase_time[phase.index()] += dt;
        if phase == Phase::Active {
            if let Some(team) = self.possession {
                self.possession_time[usize::from(team)] += dt;
            }
            if let Some(b) = ball {
                if b.y < -field::BALL_HALF_NEUTRAL_Y {
                    self.ball_side_time[0] += dt;
                } else if b.y > field::BALL_HALF_NEUTRAL_Y {
                    self.ball_side_time[1] += dt;
                }
            }
        }
        let view = FrameView {
            dt,
            ball,
            cars,
            possession: self.possession,
            frozen: phase == Phase::Countdown,
            post_goal: phase == Phase::PostGoal,
        };
        stats::accumulate(&mut self.accs, &view);
    }
}
