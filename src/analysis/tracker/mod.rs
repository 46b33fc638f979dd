//! The single pass over network frames. Frames are fed as boxcars decodes them; the `Tracker`
//! routes each to the parts that own the state:
//!
//! - [`actors`] — the actor table: slots by actor id, car ↔ PRI ↔ player links, ball and boost
//!   component state; attribute updates come back as signals for the other parts;
//! - [`phase`] — the phase clock: match clock, countdown / kickoff / live / post-goal, overtime;
//! - [`event_log`] — pickups, touches, demolitions, kickoffs and PRI stat increments;
//! - [`totals`] — the per-frame accumulators: phase, possession and ball-side time, every
//!   player's continuous stats, per-frame ball speed and match time, last defenders;
//! - [`series`] — the 2 Hz chart series.
//!
//! The players themselves (identity, scoreboard counters, mechanics) are the tracker's, indexed
//! by the order they were first seen; every per-player vector is parallel to them.

mod actors;
mod event_log;
mod phase;
mod series;
#[cfg(test)]
mod tests;
mod totals;

use boxcars::{ActorId, Frame};

use super::events::Pickup;
use super::field;
use super::mechanics::{Inputs, MechState};
use super::objects::ObjectTable;
use super::stats::{CarView, PlayerAcc};
use crate::report::{EventKind, PlayerId};
use actors::{ActorTable, Input, PriStat, Signal};
pub use event_log::{DemoEvent, EventLog, KickoffPlayerTrack, KickoffTrack, Moment, StatEvent};
pub use phase::{Phase, PhaseClock, Transition};
pub use series::SeriesSampler;
pub use totals::FrameTotals;

/// The scoreboard counters a player's PRI replicated (their maxima).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PriStats {
    pub goals: u32,
    pub assists: u32,
    pub saves: u32,
    pub shots: u32,
    pub score: u32,
    pub demolishes: u32,
}

impl PriStats {
    fn get_mut(&mut self, stat: PriStat) -> &mut u32 {
        match stat {
            PriStat::Goals => &mut self.goals,
            PriStat::Assists => &mut self.assists,
            PriStat::Saves => &mut self.saves,
            PriStat::Shots => &mut self.shots,
            PriStat::Score => &mut self.score,
            PriStat::Demolishes => &mut self.demolishes,
        }
    }
}

/// What the frame pass found for one player.
pub struct PlayerTrack {
    pub id: PlayerId,
    pub name: String,
    pub team: Option<u8>,
    pub is_bot: bool,
    pub car_body: Option<u32>,
    pub pri_stats: PriStats,
    pub mech: MechState,
    pub demos_taken: u32,
    pub demos_inflicted: u32,
    /// Boost used: every fall of the server's replicated amount, in any phase (raw units).
    pub boost_used_raw: f64,
    /// The last boost level seen, for a car whose boost component is not known yet.
    last_boost: f32,
}

impl PlayerTrack {
    pub(crate) fn new(id: PlayerId, name: String, is_bot: bool) -> Self {
        PlayerTrack {
            id,
            name,
            team: None,
            is_bot,
            car_body: None,
            pri_stats: PriStats::default(),
            mech: MechState::default(),
            demos_taken: 0,
            demos_inflicted: 0,
            boost_used_raw: 0.0,
            last_boost: field::BOOST_KICKOFF_RAW,
        }
    }
}

pub struct Tracker<'a> {
    names: &'a [String],
    actors: ActorTable<'a>,
    pub phase: PhaseClock,
    pub events: EventLog,
    pub totals: FrameTotals,
    pub series: SeriesSampler,
    pub players: Vec<PlayerTrack>,
    pub playlist_id: Option<i32>,
    pub match_guid: Option<String>,
    /// Players are added up to one over this (see `ActorTable::resolve_players`); the frame pass
    /// refuses a replay that brings in more.
    pub max_players: usize,
    /// This frame, per player: component activations, car view and rotation.
    inputs: Vec<Inputs>,
    cars: Vec<Option<CarView>>,
    rots: Vec<field::Quat>,
    /// The last frame processed has not been credited its time yet (see `process`).
    awaiting_credit: bool,
    /// The current frame's delta (the clock of the frame before is `phase.clock` minus this).
    frame_delta: f64,
}

impl<'a> Tracker<'a> {
    pub fn new(
        objects: &'a ObjectTable,
        names: &'a [String],
        object_count: usize,
        net_version: Option<i32>,
        goal_frames: Vec<(usize, u8)>,
    ) -> Self {
        Tracker {
            names,
            actors: ActorTable::new(objects, object_count, net_version),
            phase: PhaseClock::new(),
            events: EventLog::default(),
            totals: FrameTotals::new(goal_frames),
            series: SeriesSampler::default(),
            players: Vec::new(),
            playlist_id: None,
            match_guid: None,
            max_players: crate::analysis::MAX_NETWORK_PLAYERS,
            inputs: Vec::new(),
            cars: Vec::new(),
            rots: Vec::new(),
            awaiting_credit: false,
            frame_delta: 0.0,
        }
    }

    /// Applies one frame. A frame's state lasts until the next frame, so its counted time is the
    /// next frame's delta: the previous frame is credited here, before this one changes anything,
    /// and the last one by [`Tracker::finish`]. Frames can thus be fed as they are decoded.
    pub fn process(&mut self, index: usize, frame: &Frame) {
        let delta = f64::from(frame.delta.max(0.0));
        if self.awaiting_credit {
            self.credit(delta);
        }
        self.phase.advance(delta);
        self.frame_delta = delta;
        self.inputs.fill(Inputs::default());
        self.actors.start_frame(frame.delta.max(0.0));

        for id in &frame.deleted_actors {
            self.actors.delete(*id);
        }
        for new in &frame.new_actors {
            self.actors.spawn(new.actor_id, new.object_id);
        }
        let prev_ball_vel = self.actors.ball.vel;
        for upd in &frame.updated_actors {
            let signal = self
                .actors
                .update(upd.actor_id, upd.object_id, &upd.attribute);
            self.apply(index, signal);
        }
        let added = self
            .actors
            .resolve_players(&mut self.players, self.max_players);
        for _ in 0..added {
            self.inputs.push(Inputs::default());
            self.totals.accs.push(PlayerAcc::default());
            self.cars.push(None);
            self.rots.push(field::Quat::default());
        }
        self.actors
            .car_views(&mut self.players, &mut self.cars, &mut self.rots);
        self.sample(index, prev_ball_vel, delta);
        self.awaiting_credit = true;
    }

    /// Credits the last frame (nothing follows it, so it lasts no time).
    pub fn finish(&mut self) {
        if std::mem::take(&mut self.awaiting_credit) {
            self.credit(0.0);
        }
    }

    /// Routes what an attribute update meant to the part that owns it.
    fn apply(&mut self, frame: usize, signal: Signal<'_>) {
        match signal {
            Signal::None => {}
            Signal::Input { player, input } => {
                if let Some(i) = self.inputs.get_mut(player) {
                    match input {
                        Input::Jumped => i.jumped = true,
                        Input::DoubleJumped => i.double_jumped = true,
                        Input::Dodged => i.dodged = true,
                        Input::FlipReset => i.flip_reset = true,
                    }
                }
            }
            Signal::ReplicatedBoost { comp, value } => {
                let serial = self.events.next_boost_serial();
                if let Some((player, fall)) = self.actors.replicate_boost(comp, value, serial)
                    && let Some(track) = self.players.get_mut(player)
                {
                    track.boost_used_raw += f64::from(fall);
                }
                self.events
                    .boost_replicated(comp, value, serial, (self.phase.clock, frame));
            }
            Signal::PriStat {
                player,
                stat,
                value,
            } => self.pri_stat(frame, player, stat, value),
            Signal::Loadout {
                player,
                blue_body,
                orange_body,
            } => {
                if let Some(track) = self.players.get_mut(player) {
                    let orange = track.team == Some(1);
                    track.car_body = Some(if orange { orange_body } else { blue_body });
                }
            }
            Signal::Pickup {
                pad_object,
                instigator,
                respawn_seen,
            } => self.pickup(frame, pad_object, instigator, respawn_seen),
            Signal::Demolish { attacker, victim } => self.demolish(frame, attacker, victim),
            Signal::State(n) => {
                let name = usize::try_from(n)
                    .ok()
                    .and_then(|i| self.names.get(i))
                    .map(String::as_str)
                    .unwrap_or("");
                match self.phase.set_state(name) {
                    Transition::None => {}
                    Transition::Countdown => {
                        self.actors.reset_boost_for_kickoff();
                        self.totals.possession = None;
                    }
                    Transition::Go => {
                        let t = self.phase.match_t();
                        self.events.start_kickoff(frame, t, self.phase.overtime);
                    }
                }
            }
            Signal::BallHasBeenHit(hit) => self.phase.ball_has_been_hit(hit),
            Signal::Overtime => self.phase.start_overtime(),
            Signal::Playlist(id) => self.playlist_id = Some(id),
            Signal::MatchGuid(guid) => self.match_guid = Some(guid.to_string()),
        }
    }

    /// A PRI counter went up: its new maximum, and a timeline event per shot, save or assist.
    fn pri_stat(&mut self, frame: usize, player: usize, stat: PriStat, value: u32) {
        let t = self.phase.match_t();
        let ball = self.actors.ball;
        let Some(track) = self.players.get_mut(player) else {
            return;
        };
        let counter = track.pri_stats.get_mut(stat);
        let prev = *counter;
        if value <= prev {
            return;
        }
        *counter = value;
        let kind = match stat {
            PriStat::Assists => EventKind::Assist,
            PriStat::Saves => EventKind::Save,
            PriStat::Shots => EventKind::Shot,
            _ => return,
        };
        for _ in prev..value.min(prev + 5) {
            self.events.stat(StatEvent {
                t,
                frame,
                kind,
                player,
                ball_pos: ball.pos,
                ball_speed: ball.pos.map(|_| ball.vel.len()),
            });
        }
    }

    fn pickup(
        &mut self,
        frame: usize,
        pad_object: usize,
        instigator: Option<ActorId>,
        respawn_seen: bool,
    ) {
        let Some(car) = instigator else { return };
        let Some(taken) = self.actors.pickup_car(car) else {
            return;
        };
        let Some(player) = self.actors.car_player(car) else {
            return;
        };
        let Some(track) = self.players.get(player) else {
            return;
        };
        let Some(team) = track.team else { return };
        let before = taken.before.unwrap_or(track.last_boost);
        let pickup = Pickup {
            player,
            team,
            pad_object,
            replicated_before_raw: taken.before_replicated.unwrap_or(before),
            replicated_after: taken.after,
            car_pos: taken.pos,
            car_spawn: taken.spawn,
            clock: self.phase.clock,
            previous_frame_clock: self.phase.clock - self.frame_delta,
            respawn_seen,
        };
        // When the server's new amount has not arrived yet, the pickup waits for it, and the pad
        // is credited now (provisional size from the nearest pad) so the estimate stays right
        // meanwhile. When it already arrived in this frame, that amount stands, unless it did not
        // rise: then an update in the next frame replaces it (the grant landed a tick later).
        let at = (self.phase.clock, frame);
        if !self
            .events
            .pickup(pickup, taken.comp, at, taken.after_unrisen)
        {
            return;
        }
        let Some(comp) = taken.comp else { return };
        let gain =
            field::nearest_pad(taken.pos).map_or(0.0, |i| field::soccar_pads()[i].size.grant_raw());
        self.actors
            .set_boost_estimate(comp, (before + gain).min(field::BOOST_MAX_RAW));
    }

    fn demolish(&mut self, frame: usize, attacker: Option<ActorId>, victim: ActorId) {
        let Some(victim_player) = self.actors.car_player_or_last(victim) else {
            return;
        };
        // Demos without an attacker (post-match clean-up, self-destruct) are not counted.
        let Some(attacker_player) = attacker.and_then(|a| self.actors.car_player_or_last(a)) else {
            return;
        };
        let counted = self.events.demolish(DemoEvent {
            t: self.phase.match_t(),
            frame,
            attacker: Some(attacker_player),
            victim: victim_player,
            pos: self.actors.car_pos(victim),
        });
        if !counted {
            return;
        }
        if let Some(v) = self.players.get_mut(victim_player) {
            v.demos_taken += 1;
        }
        if let Some(a) = self.players.get_mut(attacker_player) {
            a.demos_inflicted += 1;
        }
    }

    /// Everything read from the frame's finished state, in order: per-frame record, touches,
    /// the open kickoff, mechanics, last defenders at goal frames, the chart series.
    fn sample(&mut self, frame: usize, prev_ball_vel: field::Vec3, delta: f64) {
        let t = self.phase.match_t();
        let ball = self.actors.ball;
        self.totals.record_frame(t, ball.pos, ball.vel);
        let at = Moment {
            frame,
            t,
            phase: self.phase.phase,
        };
        let touch = self
            .events
            .detect_touch(at, &ball, prev_ball_vel, delta, &self.cars);
        if let Some((p, _)) = touch
            && self.phase.phase != Phase::PostGoal
        {
            self.totals.possession = self.cars[p].map(|v| v.team).or(Some(0));
        }
        self.events
            .track_kickoff(t, frame, &self.cars, &self.inputs);
        for (p, track) in self.players.iter_mut().enumerate() {
            let Some(v) = self.cars[p] else { continue };
            let gain = touch.filter(|(tp, _)| *tp == p).map(|(_, g)| g);
            let ball_state = ball.pos.map(|b| (b, ball.vel));
            track.mech.update(
                t,
                v.pos,
                v.vel,
                self.rots[p],
                v.boosting,
                self.inputs[p],
                ball_state,
                gain,
            );
        }
        self.totals.last_defenders(frame, &self.cars);
        if self.phase.first_kickoff_clock.is_some() {
            self.series.sample(t, &self.cars);
        }
    }

    fn credit(&mut self, dt: f64) {
        self.totals
            .credit(dt, self.phase.phase, self.actors.ball.pos, &self.cars);
    }
}
