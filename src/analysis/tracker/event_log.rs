//! The event log: the discrete events of the frame pass — boost pad pickups (paired with the
//! server's next amount), touches, demolitions, kickoffs and the PRI stat increments — in the
//! order they happened. `events.rs` and `build.rs` turn them into stats afterwards.
//!
//! Invariants:
//! - every list is in frame order, and indices into `pickups` stay valid (nothing is removed);
//! - a pickup waits at most [`PICKUP_AMOUNT_WAIT_S`] for the server's new amount (one frame when
//!   its own frame brought an amount that did not rise), and each replicated update pairs with
//!   the waiting pickups of its component only;
//! - one touch per player per [`field::TOUCH_DEBOUNCE_S`] unless the ball changed violently, and
//!   one demolition per attacker and victim per [`field::DEMO_DEDUPE_S`];
//! - only the last kickoff is open: it takes players at GO and a first touch within
//!   [`field::KICKOFF_WINDOW_S`].

use boxcars::ActorId;

use super::actors::BallState;
use super::phase::Phase;
use crate::analysis::events::{Pickup, Touch};
use crate::analysis::field::{self, Vec3};
use crate::analysis::mechanics::Inputs;
use crate::analysis::stats::CarView;
use crate::report::EventKind;

/// How long a pickup waits for the server's new boost amount before it is taken as unknown.
const PICKUP_AMOUNT_WAIT_S: f64 = 0.25;

/// One player at a kickoff, from GO until the first touch.
#[derive(Debug, Clone, Copy)]
pub struct KickoffPlayerTrack {
    pub player: usize,
    /// Where the car stood at GO.
    pub spawn: Vec3,
    pub boost_at_go_raw: f32,
    /// The largest fall of the boost estimate below its level at GO.
    pub boost_used_raw: f32,
    pub dodged: bool,
    /// The farthest the car got from its spawn.
    pub max_moved: f32,
}

/// Who touched the ball first after GO, and how long after it.
#[derive(Debug, Clone, Copy)]
pub struct FirstTouch {
    pub player: usize,
    pub after_s: f64,
}

pub struct KickoffTrack {
    pub frame: usize,
    pub t: f64,
    pub overtime: bool,
    pub players: Vec<KickoffPlayerTrack>,
    pub first_touch: Option<FirstTouch>,
}

impl KickoffTrack {
    /// Still taking players and a first touch at match time `t`.
    fn open_at(&self, t: f64) -> bool {
        self.first_touch.is_none() && t - self.t < field::KICKOFF_WINDOW_S
    }
}

/// A shot, save or assist credited by the server (a PRI counter went up).
#[derive(Debug, Clone)]
pub struct StatEvent {
    pub t: f64,
    pub frame: usize,
    pub kind: EventKind,
    pub player: usize,
    pub ball_pos: Option<Vec3>,
    pub ball_speed: Option<f32>,
}

#[derive(Debug, Clone)]
pub struct DemoEvent {
    pub t: f64,
    pub frame: usize,
    pub attacker: Option<usize>,
    pub victim: usize,
    pub pos: Vec3,
}

/// The frame being sampled: its index, match time and phase.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub frame: usize,
    pub t: f64,
    pub phase: Phase,
}

/// A pickup whose new replicated amount has not arrived yet.
struct AwaitingAmount {
    comp: ActorId,
    pickup: usize,
    since_clock: f64,
    /// The pickup already holds an amount of its own frame that did not rise; an update in the
    /// next frame replaces it (the server's grant landed one tick later), a later one does not.
    replace_until_frame: Option<usize>,
}

#[derive(Default)]
pub struct EventLog {
    pub pickups: Vec<Pickup>,
    awaiting_amount: Vec<AwaitingAmount>,
    boost_updates: u32,
    pub touches: Vec<Touch>,
    /// Match time of each player's last touch (debounce).
    last_touch_t: Vec<f64>,
    pub kickoffs: Vec<KickoffTrack>,
    pub stat_events: Vec<StatEvent>,
    pub demos: Vec<DemoEvent>,
}

impl EventLog {
    /// Records a pickup at `at` (clock, frame). When the server's new amount has not arrived yet
    /// and the car has a boost component, the pickup waits for it (returns true). When the
    /// amount of its own frame did not rise (`unrisen`), an update in the next frame replaces it.
    pub fn pickup(
        &mut self,
        pickup: Pickup,
        comp: Option<ActorId>,
        at: (f64, usize),
        unrisen: bool,
    ) -> bool {
        let waits = pickup.replicated_after.is_none();
        self.pickups.push(pickup);
        let Some(comp) = comp.filter(|_| waits || unrisen) else {
            return false;
        };
        self.awaiting_amount.push(AwaitingAmount {
            comp,
            pickup: self.pickups.len() - 1,
            since_clock: at.0,
            replace_until_frame: (!waits).then_some(at.1 + 1),
        });
        waits
    }

    /// The serial number of the next replicated boost update.
    pub fn next_boost_serial(&mut self) -> u32 {
        self.boost_updates += 1;
        self.boost_updates
    }

    /// A new amount from the server is the "after" of the component's pickups still waiting;
    /// pickups that waited too long stop waiting.
    pub fn boost_replicated(&mut self, comp: ActorId, value: f32, serial: u32, at: (f64, usize)) {
        let (clock, frame) = at;
        let pickups = &mut self.pickups;
        self.awaiting_amount.retain(|w| {
            if clock - w.since_clock > PICKUP_AMOUNT_WAIT_S
                || w.replace_until_frame.is_some_and(|f| frame > f)
            {
                return false;
            }
            if w.comp != comp {
                return true;
            }
            if let Some(p) = pickups.get_mut(w.pickup) {
                p.replicated_after = Some((value, serial));
            }
            false
        });
    }

    /// A demolition, unless it repeats one already logged (the server replicates it for a
    /// while). Returns whether it counted.
    pub fn demolish(&mut self, demo: DemoEvent) -> bool {
        let repeated = self.demos.iter().rev().take(8).any(|d| {
            d.victim == demo.victim
                && d.attacker == demo.attacker
                && demo.t - d.t < field::DEMO_DEDUPE_S
        });
        if !repeated {
            self.demos.push(demo);
        }
        !repeated
    }

    pub fn stat(&mut self, event: StatEvent) {
        self.stat_events.push(event);
    }

    /// "GO": a kickoff opens; its players are taken at this frame.
    pub fn start_kickoff(&mut self, frame: usize, t: f64, overtime: bool) {
        self.kickoffs.push(KickoffTrack {
            frame,
            t,
            overtime,
            players: Vec::new(),
            first_touch: None,
        });
    }

    /// Touches: a ball velocity change not explained by gravity, or a HitTeamNum update,
    /// attributed to the nearest car (of the hitting team when known). Returns the toucher and
    /// the ball speed it added.
    pub fn detect_touch(
        &mut self,
        at: Moment,
        ball: &BallState,
        prev_ball_vel: Vec3,
        delta: f64,
        cars: &[Option<CarView>],
    ) -> Option<(usize, f32)> {
        let Moment { frame, t, phase } = at;
        let bpos = ball.pos?;
        if !ball.updated {
            return None;
        }
        let expected = Vec3::new(
            prev_ball_vel.x,
            prev_ball_vel.y,
            prev_ball_vel.z + field::GRAVITY_Z * delta as f32,
        );
        let dv = ball.vel.dist(expected);
        let hit_team = ball.hit_team;
        let changed = dv > field::TOUCH_MIN_DV || hit_team.is_some();
        if !changed {
            return None;
        }
        let reach = if hit_team.is_some() {
            field::TOUCH_REACH_HIT_TEAM
        } else {
            field::TOUCH_REACH
        };
        let mut best: Option<(usize, f32)> = None;
        for (p, v) in cars.iter().enumerate() {
            let Some(v) = v else { continue };
            if hit_team.is_some_and(|team| team != v.team) {
                continue;
            }
            let d = v.pos.dist(bpos);
            if d <= reach && best.is_none_or(|(_, bd)| d < bd) {
                best = Some((p, d));
            }
        }
        let (p, _) = best?;
        let last = self
            .last_touch_t
            .get(p)
            .copied()
            .unwrap_or(f64::NEG_INFINITY);
        let counts = t - last >= field::TOUCH_DEBOUNCE_S || dv > field::TOUCH_HARD_DV;
        if !counts {
            return None;
        }
        if self.last_touch_t.len() <= p {
            self.last_touch_t.resize(p + 1, f64::NEG_INFINITY);
        }
        self.last_touch_t[p] = t;
        let car = cars[p];
        self.touches.push(Touch {
            t,
            frame,
            player: p,
            team: car.map(|v| v.team).unwrap_or(0),
            ball_pos: bpos,
            ball_speed_after: ball.vel.len(),
            ball_dv: dv,
            car_pos: car.map(|v| v.pos).unwrap_or(bpos),
        });
        if let Some(k) = self.kickoffs.last_mut()
            && k.open_at(t)
            && matches!(phase, Phase::KickoffWaiting | Phase::Active)
        {
            k.first_touch = Some(FirstTouch {
                player: p,
                after_s: t - k.t,
            });
        }
        Some((p, ball.vel.len() - prev_ball_vel.len()))
    }

    /// The open kickoff: spawn positions at GO, then boost use, dodges and distance moved.
    pub fn track_kickoff(
        &mut self,
        t: f64,
        frame: usize,
        cars: &[Option<CarView>],
        inputs: &[Inputs],
    ) {
        let Some(k) = self.kickoffs.last_mut().filter(|k| k.open_at(t)) else {
            return;
        };
        if k.players.is_empty() && k.frame == frame {
            for (p, v) in cars.iter().enumerate() {
                if let Some(v) = v {
                    k.players.push(KickoffPlayerTrack {
                        player: p,
                        spawn: v.pos,
                        boost_at_go_raw: v.boost_estimate_raw,
                        boost_used_raw: 0.0,
                        dodged: false,
                        max_moved: 0.0,
                    });
                }
            }
        }
        for entry in k.players.iter_mut() {
            if let Some(v) = cars.get(entry.player).copied().flatten() {
                entry.boost_used_raw =
                    (entry.boost_at_go_raw - v.boost_estimate_raw).max(entry.boost_used_raw);
                entry.dodged |= inputs[entry.player].dodged;
                entry.max_moved = entry.max_moved.max(v.pos.dist(entry.spawn));
            }
        }
    }
}
