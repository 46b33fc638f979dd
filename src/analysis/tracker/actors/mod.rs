//! The actor table: what each live actor id holds (ball, car, car component, PRI, team, pad,
//! game event), the links car → PRI → player and component → car, the ball's replicated state and
//! each boost component's two levels. `signals.rs` decodes attribute updates into slot state and
//! hands everything that concerns another part of the tracker back as a [`Signal`];
//! `players.rs` links PRIs to players.
//!
//! Invariants:
//! - a slot is indexed by actor id (ids above [`MAX_ACTOR_ID`] are ignored); deletes run before
//!   spawns. The replay re-sends every live actor at each ~10 s keyframe, without a delete: a
//!   car, component or PRI re-sent as the same kind keeps its slot (links, levels, state); any
//!   other spawn over a live id clears it first, since the game reuses ids. Each car gets a
//!   spawn number, unique over the replay;
//! - a demolition already replicated by the same actor is not signalled again (keyframes re-send
//!   it) until its holder or its victim is deleted;
//! - `live_cars`, `live_pris` and `live_boost_comps` list exactly the slots of their kind;
//! - a PRI is linked to a player once it has a unique id (bots and split-screen guests: a name
//!   too), and that link never changes; `last_car_player` remembers who drove a car after it is
//!   deleted, until the id spawns again.

mod players;
mod signals;

use boxcars::{ActorId, ObjectId};

use super::PlayerTrack;
use crate::analysis::field::{self, Vec3};
use crate::analysis::objects::{ActorKind, ObjectTable};
use crate::analysis::stats::CarView;
use crate::report::PlayerId;
pub use signals::{Input, PriStat, Signal};

/// Actor ids above this are treated as hostile input and ignored (real replays stay below ~2k).
const MAX_ACTOR_ID: usize = 1 << 16;

#[derive(Default)]
struct CarSlot {
    pri: Option<ActorId>,
    pos: Vec3,
    vel: Vec3,
    rot: field::Quat,
    has_rb: bool,
    handbrake: bool,
    boost_comp: Option<ActorId>,
    dodges_refreshed: Option<i32>,
    /// Which car this is: actor ids are reused, spawns are not.
    spawn: u32,
}

struct CompSlot {
    kind: ActorKind,
    car: Option<ActorId>,
    active: bool,
    /// Our estimate: the server's amount, drained while boosting until the next update.
    boost_raw: Option<f32>,
    boost_at_frame_start: Option<f32>,
    /// The server's last replicated amount (no drain estimate) and its value at frame start.
    boost_replicated: Option<f32>,
    replicated_at_frame_start: Option<f32>,
    /// Set when the amount was replicated during the current frame.
    replicated_this_frame: bool,
    /// Serial number of the last replicated update (tells pickups sharing one update apart).
    update_serial: u32,
}

#[derive(Default)]
struct PriSlot {
    /// Name or team changed since the last `resolve_players`.
    dirty: bool,
    player: Option<usize>,
    unique: Option<PlayerId>,
    name: Option<String>,
    team_actor: Option<ActorId>,
    is_bot: bool,
}

enum Slot {
    Empty,
    Ball,
    Car(Box<CarSlot>),
    Comp(CompSlot),
    Pri(Box<PriSlot>),
    Team(u8),
    GameEvent,
    Pad(usize),
    Other,
}

/// The ball as last replicated.
#[derive(Debug, Clone, Copy, Default)]
pub struct BallState {
    pub pos: Option<Vec3>,
    pub vel: Vec3,
    /// Its rigid body was replicated in the current frame.
    pub updated: bool,
    /// The team that hit it, when the server said so in the current frame.
    pub hit_team: Option<u8>,
}

/// What a pickup needs to know about the car that took it and its boost component.
pub struct PickupCar {
    pub pos: Vec3,
    /// The car's spawn number (unique over the replay, unlike its actor id).
    pub spawn: u32,
    pub comp: Option<ActorId>,
    /// Our estimate and the server's amount when the frame started.
    pub before: Option<f32>,
    pub before_replicated: Option<f32>,
    /// The server's new amount and its serial, when it already arrived in this frame.
    pub after: Option<(f32, u32)>,
    /// That amount did not rise: it may have been sent before the pad granted anything.
    pub after_unrisen: bool,
}

pub struct ActorTable<'a> {
    objects: &'a ObjectTable,
    /// Before net version 5 rigid bodies are sent in hundredths of uu (velocities in tenths).
    legacy_scale: bool,
    slots: Vec<Slot>,
    live_cars: Vec<ActorId>,
    /// Last player seen driving each car actor id (kept after delete; reset when a new car takes
    /// the id, not when the same car is re-sent).
    last_car_player: Vec<Option<usize>>,
    live_pris: Vec<ActorId>,
    live_boost_comps: Vec<ActorId>,
    ball_id: Option<ActorId>,
    pub ball: BallState,
    /// Per pad object, the last pickup value replicated (u8::MAX: none yet).
    pad_last_value: Vec<u8>,
    /// Cars spawned so far (each car's `spawn`).
    car_spawns: u32,
    /// Per actor id, the demolition it last replicated (attacker, victim): the replay re-sends
    /// live actors with their attributes, and a re-sent demolition is not a new one. Cleared
    /// when the holder is deleted (on every replay seen, the holder is the victim's car).
    demolitions: Vec<Option<(Option<ActorId>, ActorId)>>,
}

fn scale(v: boxcars::Vector3f, k: f32) -> Vec3 {
    Vec3::new(v.x * k, v.y * k, v.z * k)
}

fn slot_index(id: ActorId) -> Option<usize> {
    usize::try_from(id.0).ok().filter(|i| *i < MAX_ACTOR_ID)
}

impl<'a> ActorTable<'a> {
    pub fn new(objects: &'a ObjectTable, object_count: usize, net_version: Option<i32>) -> Self {
        ActorTable {
            objects,
            legacy_scale: net_version.is_none_or(|v| v < 5),
            slots: Vec::new(),
            live_cars: Vec::new(),
            last_car_player: Vec::new(),
            live_pris: Vec::new(),
            live_boost_comps: Vec::new(),
            ball_id: None,
            ball: BallState::default(),
            pad_last_value: vec![u8::MAX; object_count],
            car_spawns: 0,
            demolitions: Vec::new(),
        }
    }

    fn slot(&self, id: ActorId) -> &Slot {
        slot_index(id)
            .and_then(|i| self.slots.get(i))
            .unwrap_or(&Slot::Empty)
    }

    fn slot_mut(&mut self, id: ActorId) -> Option<&mut Slot> {
        slot_index(id).and_then(|i| self.slots.get_mut(i))
    }

    fn comp_mut(&mut self, id: ActorId) -> Option<&mut CompSlot> {
        match self.slot_mut(id) {
            Some(Slot::Comp(c)) => Some(c),
            _ => None,
        }
    }

    pub fn car_player(&self, car: ActorId) -> Option<usize> {
        let Slot::Car(c) = self.slot(car) else {
            return None;
        };
        let Slot::Pri(p) = self.slot(c.pri?) else {
            return None;
        };
        p.player
    }

    /// Like `car_player`, but also answers for a car deleted earlier in this frame.
    pub fn car_player_or_last(&self, car: ActorId) -> Option<usize> {
        self.car_player(car).or_else(|| {
            slot_index(car)
                .and_then(|i| self.last_car_player.get(i))
                .copied()
                .flatten()
        })
    }

    fn comp_player(&self, comp: ActorId) -> Option<usize> {
        let Slot::Comp(c) = self.slot(comp) else {
            return None;
        };
        self.car_player(c.car?)
    }

    /// Where a car is now (the origin when the actor is not a car).
    pub fn car_pos(&self, car: ActorId) -> Vec3 {
        match self.slot(car) {
            Slot::Car(c) => c.pos,
            _ => Vec3::ZERO,
        }
    }

    /// Start of a frame: the ball's per-frame flags clear; every boost component drains the
    /// estimate of a boosting car and remembers its levels before this frame's updates (a
    /// pickup compares against them).
    pub fn start_frame(&mut self, delta: f32) {
        self.ball.updated = false;
        self.ball.hit_team = None;
        for id in &self.live_boost_comps {
            if let Some(Slot::Comp(c)) = slot_index(*id).and_then(|i| self.slots.get_mut(i)) {
                if c.active
                    && let Some(b) = c.boost_raw.as_mut()
                {
                    *b = (*b - field::BOOST_DRAIN_RAW_PER_S * delta).max(0.0);
                }
                c.boost_at_frame_start = c.boost_raw;
                c.replicated_at_frame_start = c.boost_replicated;
                c.replicated_this_frame = false;
            }
        }
    }

    pub fn delete(&mut self, id: ActorId) {
        if let Some(d) = slot_index(id).and_then(|i| self.demolitions.get_mut(i)) {
            *d = None;
        }
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        let old = std::mem::replace(slot, Slot::Empty);
        match old {
            Slot::Car(_) => self.live_cars.retain(|c| *c != id),
            Slot::Pri(_) => self.live_pris.retain(|c| *c != id),
            Slot::Comp(c) if c.kind == ActorKind::BoostComponent => {
                self.live_boost_comps.retain(|c| *c != id)
            }
            Slot::Ball if self.ball_id == Some(id) => self.ball_id = None,
            _ => {}
        }
    }

    pub fn spawn(&mut self, id: ActorId, object: ObjectId) {
        let Some(i) = slot_index(id) else { return };
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || Slot::Empty);
        }
        // The replay re-sends its live actors now and then, without a delete: the same car,
        // component or PRI, whose links (car → PRI, component → car) may come later in the
        // frame or not at all. It keeps what it holds.
        let kind = self.objects.kind(object);
        let same = match (&self.slots[i], kind) {
            (Slot::Car(_), ActorKind::Car) | (Slot::Pri(_), ActorKind::Pri) => true,
            (Slot::Comp(c), k) => c.kind == k,
            _ => false,
        };
        if same {
            return;
        }
        // Another actor under a reused id: clear list membership first.
        self.delete(id);
        let slot = match kind {
            ActorKind::Ball => {
                self.ball_id = Some(id);
                Slot::Ball
            }
            ActorKind::Car => {
                self.live_cars.push(id);
                if let Some(slot) = self.last_car_player.get_mut(i) {
                    *slot = None;
                }
                self.car_spawns += 1;
                Slot::Car(Box::new(CarSlot {
                    spawn: self.car_spawns,
                    ..CarSlot::default()
                }))
            }
            ActorKind::BoostComponent
            | ActorKind::JumpComponent
            | ActorKind::DoubleJumpComponent
            | ActorKind::DodgeComponent => {
                if kind == ActorKind::BoostComponent {
                    self.live_boost_comps.push(id);
                }
                Slot::Comp(CompSlot {
                    kind,
                    car: None,
                    active: false,
                    boost_raw: None,
                    boost_at_frame_start: None,
                    boost_replicated: None,
                    replicated_at_frame_start: None,
                    replicated_this_frame: false,
                    update_serial: 0,
                })
            }
            ActorKind::Pri => {
                self.live_pris.push(id);
                Slot::Pri(Box::default())
            }
            ActorKind::Team(t) => Slot::Team(t),
            ActorKind::GameEvent => Slot::GameEvent,
            ActorKind::BoostPad => Slot::Pad(usize::try_from(object.0).unwrap_or(0)),
            ActorKind::Other => Slot::Other,
        };
        self.slots[i] = slot;
    }

    /// The car that took a pad, with its boost component's levels; None when the instigator is
    /// not a live car.
    pub fn pickup_car(&self, car: ActorId) -> Option<PickupCar> {
        let Slot::Car(c) = self.slot(car) else {
            return None;
        };
        let (before, before_replicated, after) = match c.boost_comp.map(|b| self.slot(b)) {
            Some(Slot::Comp(bc)) => (
                bc.boost_at_frame_start,
                bc.replicated_at_frame_start,
                // The server's new amount may already have arrived in this frame.
                bc.replicated_this_frame
                    .then_some(bc.boost_replicated.map(|v| (v, bc.update_serial)))
                    .flatten(),
            ),
            _ => (None, None, None),
        };
        let after_unrisen = after.is_some_and(|(v, _)| before_replicated.is_some_and(|b| v <= b));
        Some(PickupCar {
            pos: c.pos,
            spawn: c.spawn,
            comp: c.boost_comp,
            before,
            before_replicated,
            after,
            after_unrisen,
        })
    }

    /// Sets a component's estimate (a pad credited before the server's amount arrives).
    pub fn set_boost_estimate(&mut self, comp: ActorId, raw: f32) {
        if let Some(c) = self.comp_mut(comp) {
            c.boost_raw = Some(raw);
        }
    }

    /// A new amount from the server, with the update's serial. Returns the player whose car the
    /// component belongs to and how far the amount fell (0 when it did not; a new component
    /// starts from nothing, so a kickoff reset is not a fall).
    pub fn replicate_boost(
        &mut self,
        comp: ActorId,
        value: f32,
        serial: u32,
    ) -> Option<(usize, f32)> {
        let fall = match self.slot(comp) {
            Slot::Comp(c) => c
                .boost_replicated
                .filter(|before| value < *before)
                .and_then(|before| {
                    Some((c.car.and_then(|car| self.car_player(car))?, before - value))
                }),
            _ => None,
        };
        if let Some(c) = self.comp_mut(comp) {
            c.boost_raw = Some(value);
            c.boost_replicated = Some(value);
            c.replicated_this_frame = true;
            c.update_serial = serial;
        }
        fall
    }

    /// Every kickoff starts from 33 % boost; the server confirms shortly after.
    pub fn reset_boost_for_kickoff(&mut self) {
        for id in &self.live_boost_comps {
            if let Some(Slot::Comp(c)) = slot_index(*id).and_then(|i| self.slots.get_mut(i)) {
                c.boost_raw = Some(field::BOOST_KICKOFF_RAW);
                c.boost_replicated = Some(field::BOOST_KICKOFF_RAW);
            }
        }
    }

    /// This frame's view of every driven car with a rigid body, per player (`views` and `rots`
    /// are indexed by player and cleared first). A car whose boost component is unknown keeps
    /// its player's last level.
    pub fn car_views(
        &mut self,
        players: &mut [PlayerTrack],
        views: &mut [Option<CarView>],
        rots: &mut [field::Quat],
    ) {
        for v in views.iter_mut() {
            *v = None;
        }
        for idx in 0..self.live_cars.len() {
            let car_id = self.live_cars[idx];
            let Some(player) = self.car_player(car_id) else {
                continue;
            };
            let Slot::Car(car) = self.slot(car_id) else {
                continue;
            };
            if !car.has_rb {
                continue;
            }
            let boost = car.boost_comp.and_then(|b| match self.slot(b) {
                Slot::Comp(c) => Some((c.boost_raw, c.boost_replicated, c.active)),
                _ => None,
            });
            let Some(track) = players.get_mut(player) else {
                continue;
            };
            let Some(team) = track.team else { continue };
            let (raw, replicated, boosting) = match boost {
                Some((raw, replicated, active)) => {
                    let raw = raw.unwrap_or(track.last_boost);
                    (raw, replicated.unwrap_or(raw), active)
                }
                None => (track.last_boost, track.last_boost, false),
            };
            views[player] = Some(CarView {
                pos: car.pos,
                vel: car.vel,
                boost_estimate_raw: raw,
                boost_replicated_raw: replicated,
                boosting,
                handbrake: car.handbrake,
                team,
            });
            rots[player] = car.rot;
            track.last_boost = raw;
            if let Some(i) = slot_index(car_id) {
                if self.last_car_player.len() <= i {
                    self.last_car_player.resize(i + 1, None);
                }
                self.last_car_player[i] = Some(player);
            }
        }
    }
}
