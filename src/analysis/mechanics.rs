//! Mechanics counters (STATS.md §10), driven per frame from the car state and the replicated
//! component signals (jump, double jump, dodge, dodges-refreshed counter).

use super::field::{CEILING_Z, Quat, Vec3, angle_diff};
use crate::report::Mechanics;

/// Component activations seen for one player in one frame.
#[derive(Debug, Default, Clone, Copy)]
pub struct Inputs {
    pub jumped: bool,
    pub double_jumped: bool,
    pub dodged: bool,
    pub flip_reset: bool,
}

#[derive(Debug, Default, Clone)]
pub struct MechState {
    pub counts: Mechanics,
    airborne_since: Option<f64>,
    air_max_z: f32,
    air_boosted: bool,
    air_from_jump: bool,
    last_jump_t: f64,
    dodge: Option<DodgeTrack>,
    on_ceiling: bool,
    dribble_since: Option<f64>,
    dribble_counted: bool,
    dribble_last_seen: f64,
    last_dribble_end: f64,
    pub last_dodge_t: f64,
}

#[derive(Debug, Clone, Copy)]
struct DodgeTrack {
    t: f64,
    start_z: f32,
    start_yaw: f32,
    backward: bool,
    half_flip_done: bool,
    wavedash_done: bool,
}

impl MechState {
    /// `ball_speed_gain` is the ball's speed change this frame when this player touched it.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call per frame with the frame's facts"
    )]
    pub fn update(
        &mut self,
        t: f64,
        pos: Vec3,
        vel: Vec3,
        rot: Quat,
        boosting: bool,
        inputs: Inputs,
        ball: Option<(Vec3, Vec3)>,
        ball_speed_gain: Option<f32>,
    ) {
        let c = &mut self.counts;
        let grounded = pos.z <= 25.0 && vel.z.abs() < 300.0;
        if inputs.jumped {
            c.jumps += 1;
            self.last_jump_t = t;
        }
        if inputs.double_jumped {
            c.double_jumps += 1;
        }
        if inputs.flip_reset {
            c.flip_resets += 1;
        }
        if inputs.dodged {
            c.flips += 1;
            self.last_dodge_t = t;
            let yaw = rot.yaw();
            let fwd = Vec3::new(yaw.cos(), yaw.sin(), 0.0);
            let along = vel.x * fwd.x + vel.y * fwd.y;
            self.dodge = Some(DodgeTrack {
                t,
                start_z: pos.z,
                start_yaw: yaw,
                backward: along < -150.0,
                half_flip_done: false,
                wavedash_done: false,
            });
        }
        if let Some(d) = &mut self.dodge {
            let since = t - d.t;
            if since > 1.2 {
                self.dodge = None;
            } else {
                // Wavedash: a dodge started just above the ground that lands almost at once.
                if !d.wavedash_done && d.start_z < 80.0 && grounded && (0.03..=0.2).contains(&since)
                {
                    d.wavedash_done = true;
                    c.wavedashes += 1;
                }
                // Half-flip: a backward dodge whose heading turns around within 1 s.
                if !d.half_flip_done
                    && d.backward
                    && angle_diff(rot.yaw(), d.start_yaw).abs() > 2.5
                    && since <= 1.0
                {
                    d.half_flip_done = true;
                    c.half_flips += 1;
                }
            }
        }

        // Aerials: an airborne stretch that left via a jump, reached 300 uu and used boost.
        if !grounded && pos.z > 25.0 {
            if self.airborne_since.is_none() {
                self.airborne_since = Some(t);
                self.air_max_z = pos.z;
                self.air_boosted = false;
                self.air_from_jump = t - self.last_jump_t < 0.5;
            }
            self.air_max_z = self.air_max_z.max(pos.z);
            self.air_boosted |= boosting;
        } else if let Some(since) = self.airborne_since.take()
            && self.air_from_jump
            && self.air_boosted
            && self.air_max_z >= 300.0
            && t - since >= 0.5
        {
            c.aerials += 1;
        }

        // Ceiling: entering the ceiling band.
        let ceiling = pos.z >= CEILING_Z - 60.0;
        if ceiling && !self.on_ceiling {
            c.ceiling_touches += 1;
        }
        self.on_ceiling = ceiling;

        // Dribble: the ball riding on the car (STATS.md: within ~100 uu in xy, up to ~180 above
        // the roof) for 0.5 s. Car and ball positions are replicated on different frames, so at
        // speed they lag each other by up to a frame or two: the xy tolerance grows with speed,
        // the ball must move with the car, and dropouts shorter than 0.2 s don't break a carry.
        if let Some((bpos, bvel)) = ball {
            let above = bpos.z - pos.z;
            let speed_xy = vel.dist_xy(Vec3::ZERO);
            let rel_xy = bvel.dist_xy(vel);
            let carrying = pos.z < 60.0
                && (80.0..=250.0).contains(&above)
                && bpos.dist_xy(pos) <= 100.0 + speed_xy * 0.07
                && rel_xy < 600.0;
            if carrying {
                self.dribble_last_seen = t;
                let since = *self.dribble_since.get_or_insert(t);
                if !self.dribble_counted && t - since >= 0.5 {
                    c.dribbles += 1;
                    self.dribble_counted = true;
                }
            } else if self.dribble_since.is_some() && t - self.dribble_last_seen > 0.2 {
                self.dribble_since = None;
                if self.dribble_counted {
                    self.last_dribble_end = t;
                }
                self.dribble_counted = false;
            }
        }
        // Flick: a hard touch (ball speed +500) within 0.3 s of a dodge, right after a dribble.
        if let Some(gain) = ball_speed_gain
            && gain >= 500.0
            && t - self.last_dodge_t <= 0.3
            && (self.dribble_counted || t - self.last_dribble_end <= 0.5)
        {
            c.flicks += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A car driving at 1200 uu/s with the ball on its roof, positions sampled with the ball
    /// one frame behind on every other frame (as replication does), for `secs`.
    fn carry(secs: f64) -> u32 {
        let mut m = MechState::default();
        let v = Vec3::new(0.0, 1200.0, 0.0);
        let dt = 1.0 / 30.0;
        let frames = (secs / dt) as usize;
        for i in 0..frames {
            let t = i as f64 * dt;
            let car = Vec3::new(0.0, -2000.0 + 1200.0 * t as f32, 17.0);
            let lag = if i % 2 == 0 {
                0.0
            } else {
                1200.0 * dt as f32 * 2.0
            };
            let ball = Vec3::new(0.0, car.y + 30.0 - lag, 17.0 + 130.0);
            m.update(
                t,
                car,
                v,
                Quat::IDENTITY,
                false,
                Inputs::default(),
                Some((ball, v)),
                None,
            );
        }
        // Then the ball leaves.
        for i in 0..20 {
            let t = secs + i as f64 * dt;
            let car = Vec3::new(0.0, 0.0, 17.0);
            m.update(
                t,
                car,
                v,
                Quat::IDENTITY,
                false,
                Inputs::default(),
                Some((Vec3::new(0.0, 2000.0, 500.0), v)),
                None,
            );
        }
        m.counts.dribbles
    }

    #[test]
    fn a_ball_carried_for_a_second_is_one_dribble_despite_replication_lag() {
        assert_eq!(carry(1.0), 1);
        assert_eq!(carry(0.3), 0, "too short");
    }

    #[test]
    fn a_ball_passing_over_the_car_is_not_a_dribble() {
        let mut m = MechState::default();
        let car_v = Vec3::new(0.0, 1000.0, 0.0);
        let ball_v = Vec3::new(0.0, -1500.0, 0.0);
        for i in 0..30 {
            let t = f64::from(i) / 30.0;
            let car = Vec3::new(0.0, 1000.0 * t as f32, 17.0);
            let ball = Vec3::new(0.0, car.y + 20.0, 150.0);
            m.update(
                t,
                car,
                car_v,
                Quat::IDENTITY,
                false,
                Inputs::default(),
                Some((ball, ball_v)),
                None,
            );
        }
        assert_eq!(m.counts.dribbles, 0);
    }

    const DT: f64 = 1.0 / 30.0;

    fn yawed(yaw: f32) -> Quat {
        Quat {
            x: 0.0,
            y: 0.0,
            z: (yaw / 2.0).sin(),
            w: (yaw / 2.0).cos(),
        }
    }

    /// One frame of a car with no ball around.
    fn step(m: &mut MechState, i: u32, pos: Vec3, vel: Vec3, yaw: f32, boost: bool, inp: Inputs) {
        let t = f64::from(i) * DT;
        m.update(t, pos, vel, yawed(yaw), boost, inp, None, None);
    }

    const NONE: Inputs = Inputs {
        jumped: false,
        double_jumped: false,
        dodged: false,
        flip_reset: false,
    };
    const JUMP: Inputs = Inputs {
        jumped: true,
        ..NONE
    };
    const DODGE: Inputs = Inputs {
        dodged: true,
        ..NONE
    };

    /// A wavedash is a dodge just above the ground that lands within 0.2 s; the same dodge high
    /// up is only a flip.
    #[test]
    fn a_dodge_that_lands_at_once_is_a_wavedash() {
        let mut m = MechState::default();
        let v = Vec3::new(0.0, 1000.0, 0.0);
        step(&mut m, 0, Vec3::new(0.0, 0.0, 17.0), v, 0.0, false, JUMP);
        step(&mut m, 1, Vec3::new(0.0, 30.0, 60.0), v, 0.0, false, DODGE);
        step(&mut m, 2, Vec3::new(0.0, 60.0, 30.0), v, 0.0, false, NONE);
        step(&mut m, 3, Vec3::new(0.0, 90.0, 17.0), v, 0.0, false, NONE);
        assert_eq!((m.counts.flips, m.counts.wavedashes), (1, 1));

        let mut m = MechState::default();
        step(&mut m, 0, Vec3::new(0.0, 0.0, 400.0), v, 0.0, false, DODGE);
        for i in 1..30 {
            let z = 400.0 - 12.0 * i as f32;
            step(&mut m, i, Vec3::new(0.0, 0.0, z), v, 0.0, false, NONE);
        }
        assert_eq!((m.counts.flips, m.counts.wavedashes), (1, 0));
    }

    /// A half-flip is a backward dodge after which the car faces the other way within 1 s.
    #[test]
    fn a_backward_dodge_that_turns_around_is_a_half_flip() {
        let half_flip = |turn: f32| {
            let mut m = MechState::default();
            // Facing +x, rolling backwards at 500 uu/s.
            let v = Vec3::new(-500.0, 0.0, 0.0);
            step(&mut m, 0, Vec3::new(0.0, 0.0, 17.0), v, 0.0, false, JUMP);
            step(&mut m, 1, Vec3::new(0.0, 0.0, 50.0), v, 0.0, false, DODGE);
            for i in 2..20 {
                let yaw = turn * (i - 1) as f32 / 18.0;
                step(&mut m, i, Vec3::new(0.0, 0.0, 60.0), v, yaw, false, NONE);
            }
            m.counts.half_flips
        };
        assert_eq!(half_flip(std::f32::consts::PI), 1);
        assert_eq!(half_flip(1.0), 0, "turned only 57 degrees");
    }

    /// An aerial leaves the ground by a jump, boosts, reaches 300 uu and stays up 0.5 s; a jump
    /// without boost, or a boosted hop that stays low, is not one.
    #[test]
    fn aerials_need_a_jump_boost_height_and_time() {
        let flight = |boost: bool, peak: f32| {
            let mut m = MechState::default();
            let up = Vec3::new(0.0, 0.0, 800.0);
            step(
                &mut m,
                0,
                Vec3::new(0.0, 0.0, 17.0),
                Vec3::ZERO,
                0.0,
                false,
                JUMP,
            );
            for i in 1..=30 {
                let z = 17.0 + (peak - 17.0) * (i as f32 / 30.0);
                step(&mut m, i, Vec3::new(0.0, 0.0, z), up, 0.0, boost, NONE);
            }
            step(
                &mut m,
                31,
                Vec3::new(0.0, 0.0, 17.0),
                Vec3::ZERO,
                0.0,
                false,
                NONE,
            );
            m.counts.aerials
        };
        assert_eq!(flight(true, 600.0), 1);
        assert_eq!(flight(false, 600.0), 0, "no boost");
        assert_eq!(flight(true, 200.0), 0, "too low");
    }
}
