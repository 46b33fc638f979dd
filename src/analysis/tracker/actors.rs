//! The actor table: what each live actor id holds (ball, car, car component, PRI, team, pad,
//! game event), the links car → PRI → player and component → car, the ball's replicated state and
//! each boost component's two levels. It decodes attribute updates into slot state and hands
//! everything that concerns another part of the tracker back as a [`Signal`].
//!
//! Invariants:
//! - a slot is indexed by actor id (ids above [`MAX_ACTOR_ID`] are ignored); deletes run before
//!   spawns, and a spawn over a live id clears it first, since the game reuses ids (every actor
//!   is re-created at each ~10 s keyframe);
//! - `live_cars`, `live_pris` and `live_boost_comps` list exactly the slots of their kind;
//! - a PRI is linked to a player once it has a unique id (bots and split-screen guests: a name
//!   too), and that link never changes; `last_car_player` remembers who drove a car after it is
//!   deleted, until the id spawns again.

use boxcars::{ActorId, Attribute, ObjectId, RemoteId, UniqueId};

use super::PlayerTrack;
use crate::analysis::field::{self, Vec3};
use crate::analysis::objects::{ActorKind, ObjectTable};
use crate::analysis::stats::CarView;
use crate::report::PlayerId;

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

/// A component switched on this frame, or a car's dodge was refreshed (a flip reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Jumped,
    DoubleJumped,
    Dodged,
    FlipReset,
}

/// The scoreboard counters a PRI replicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriStat {
    Goals,
    Assists,
    Saves,
    Shots,
    Score,
    Demolishes,
}

/// What an attribute update means for the rest of the tracker.
pub enum Signal<'u> {
    None,
    Input {
        player: usize,
        input: Input,
    },
    /// A new amount from the server for a boost component.
    ReplicatedBoost {
        comp: ActorId,
        value: f32,
    },
    PriStat {
        player: usize,
        stat: PriStat,
        value: u32,
    },
    Loadout {
        player: usize,
        blue_body: u32,
        orange_body: u32,
    },
    Pickup {
        pad_object: usize,
        instigator: Option<ActorId>,
    },
    Demolish {
        attacker: Option<ActorId>,
        victim: ActorId,
    },
    /// The game event's state name (an index into the replay's name table).
    State(i32),
    BallHasBeenHit(bool),
    Overtime,
    Playlist(i32),
    MatchGuid(&'u str),
}

/// What a pickup needs to know about the car that took it and its boost component.
pub struct PickupCar {
    pub pos: Vec3,
    pub comp: Option<ActorId>,
    /// Our estimate and the server's amount when the frame started.
    pub before: Option<f32>,
    pub before_replicated: Option<f32>,
    /// The server's new amount and its serial, when it already arrived in this frame.
    pub after: Option<(f32, u32)>,
}

pub struct ActorTable<'a> {
    objects: &'a ObjectTable,
    /// Before net version 5 rigid bodies are sent in hundredths of uu (velocities in tenths).
    legacy_scale: bool,
    slots: Vec<Slot>,
    live_cars: Vec<ActorId>,
    /// Last player seen driving each car actor id (kept after delete; reset on spawn).
    last_car_player: Vec<Option<usize>>,
    live_pris: Vec<ActorId>,
    live_boost_comps: Vec<ActorId>,
    ball_id: Option<ActorId>,
    pub ball: BallState,
    /// Per pad object, the last pickup value replicated (u8::MAX: none yet).
    pad_last_value: Vec<u8>,
}

fn scale(v: boxcars::Vector3f, k: f32) -> Vec3 {
    Vec3::new(v.x * k, v.y * k, v.z * k)
}

fn slot_index(id: ActorId) -> Option<usize> {
    usize::try_from(id.0).ok().filter(|i| *i < MAX_ACTOR_ID)
}

pub fn player_id(u: &UniqueId, name: Option<&str>) -> PlayerId {
    let (platform, id) = match &u.remote_id {
        RemoteId::Steam(id) => ("steam", id.to_string()),
        RemoteId::Epic(id) => ("epic", id.clone()),
        RemoteId::PlayStation(ps) => ("ps4", ps.name.clone()),
        RemoteId::PsyNet(p) => ("psynet", p.online_id.to_string()),
        RemoteId::Xbox(id) => ("xbox", format!("{id:016x}")),
        RemoteId::Switch(s) => ("switch", s.online_id.to_string()),
        RemoteId::QQ(id) => ("qq", id.to_string()),
        RemoteId::SplitScreen(id) => ("splitscreen", id.to_string()),
        _ => ("unknown", String::new()),
    };
    let empty = id.is_empty() || id == "0" || platform == "splitscreen" || platform == "unknown";
    if empty {
        // Bots and split-screen guests share a platform id: tell them apart by name.
        return PlayerId {
            platform: if platform == "splitscreen" {
                "splitscreen"
            } else {
                "bot"
            }
            .into(),
            id: name.unwrap_or("").to_string(),
        };
    }
    let id = if u.local_id > 0 {
        format!("{id}#{}", u.local_id)
    } else {
        id
    };
    PlayerId {
        platform: platform.into(),
        id,
    }
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
        // An id can be re-spawned without a delete: clear list membership first.
        self.delete(id);
        let kind = self.objects.kind(object);
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
                Slot::Car(Box::default())
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

    /// Applies one attribute update to the actor's slot; what other parts must hear of comes
    /// back as a [`Signal`].
    pub fn update<'u>(&mut self, id: ActorId, object: ObjectId, attr: &'u Attribute) -> Signal<'u> {
        let a = &self.objects.attrs;
        let o = Some(object);
        let legacy = self.legacy_scale;
        // Demolitions arrive on a car that may already be deleted in this frame: read them by
        // attribute, whatever the slot holds now.
        match attr {
            Attribute::DemolishExtended(d) if o == a.demolish_extended => {
                let attacker = d.attacker.active.then_some(d.attacker.actor);
                return Signal::Demolish {
                    attacker,
                    victim: d.victim.actor,
                };
            }
            Attribute::Demolish(d) if o == a.demolish || o == a.demolish_goal_explosion => {
                let attacker = d.attacker_flag.then_some(d.attacker);
                return Signal::Demolish {
                    attacker,
                    victim: d.victim,
                };
            }
            Attribute::DemolishFx(d) if o == a.demolish_fx => {
                let attacker = d.attacker_flag.then_some(d.attacker);
                return Signal::Demolish {
                    attacker,
                    victim: d.victim,
                };
            }
            _ => {}
        }
        let Some(slot) = slot_index(id).and_then(|i| self.slots.get_mut(i)) else {
            return Signal::None;
        };
        match (slot, attr) {
            (Slot::Ball, Attribute::RigidBody(rb)) if o == a.rigid_body => {
                let (pk, vk) = if legacy { (100.0, 10.0) } else { (1.0, 1.0) };
                self.ball.pos = Some(scale(rb.location, pk));
                self.ball.vel = rb
                    .linear_velocity
                    .map(|v| scale(v, vk))
                    .unwrap_or(Vec3::ZERO);
                self.ball.updated = true;
            }
            (Slot::Ball, Attribute::Byte(team)) if o == a.hit_team_num => {
                self.ball.hit_team = Some((*team).min(1));
            }
            (Slot::Car(car), Attribute::RigidBody(rb)) if o == a.rigid_body => {
                let (pk, vk) = if legacy { (100.0, 10.0) } else { (1.0, 1.0) };
                car.pos = scale(rb.location, pk);
                car.vel = rb
                    .linear_velocity
                    .map(|v| scale(v, vk))
                    .unwrap_or(Vec3::ZERO);
                let q = rb.rotation;
                car.rot = field::Quat {
                    x: q.x,
                    y: q.y,
                    z: q.z,
                    w: q.w,
                };
                car.has_rb = true;
            }
            (Slot::Car(car), Attribute::ActiveActor(act)) if o == a.pawn_pri => {
                car.pri = act.active.then_some(act.actor);
            }
            (Slot::Car(car), Attribute::Boolean(b)) if o == a.handbrake => car.handbrake = *b,
            (Slot::Car(car), Attribute::Int(n)) if o == a.dodges_refreshed => {
                let prev = car.dodges_refreshed.replace(*n);
                if let Some(prev) = prev
                    && *n > prev
                    && let Some(player) = self.car_player(id)
                {
                    return Signal::Input {
                        player,
                        input: Input::FlipReset,
                    };
                }
            }
            (Slot::Comp(c), Attribute::ActiveActor(act)) if o == a.component_vehicle => {
                c.car = act.active.then_some(act.actor);
                if c.kind == ActorKind::BoostComponent
                    && let Some(car) = c.car
                    && let Some(Slot::Car(cs)) = slot_index(car).and_then(|i| self.slots.get_mut(i))
                {
                    cs.boost_comp = Some(id);
                }
            }
            (Slot::Comp(c), Attribute::Byte(v)) if o == a.component_active => {
                let active = v % 2 == 1;
                let started = active && !c.active;
                c.active = active;
                let input = match c.kind {
                    ActorKind::JumpComponent => Input::Jumped,
                    ActorKind::DoubleJumpComponent => Input::DoubleJumped,
                    ActorKind::DodgeComponent => Input::Dodged,
                    _ => return Signal::None,
                };
                if started && let Some(player) = self.comp_player(id) {
                    return Signal::Input { player, input };
                }
            }
            (Slot::Comp(_), Attribute::ReplicatedBoost(b)) if o == a.replicated_boost => {
                return Signal::ReplicatedBoost {
                    comp: id,
                    value: f32::from(b.boost_amount),
                };
            }
            (Slot::Comp(_), Attribute::Byte(b)) if o == a.replicated_boost_amount => {
                return Signal::ReplicatedBoost {
                    comp: id,
                    value: f32::from(*b),
                };
            }
            (Slot::Pri(p), Attribute::String(name)) if o == a.pri_name => {
                p.name = Some(name.clone());
                p.dirty = true;
            }
            (Slot::Pri(p), Attribute::UniqueId(u)) if o == a.pri_unique_id => {
                p.unique = Some(player_id(u, p.name.as_deref()));
                p.dirty = true;
            }
            (Slot::Pri(p), Attribute::ActiveActor(act)) if o == a.pri_team => {
                p.team_actor = act.active.then_some(act.actor);
                p.dirty = true;
            }
            (Slot::Pri(p), Attribute::Boolean(b)) if o == a.pri_bot => p.is_bot = *b,
            (Slot::Pri(p), Attribute::TeamLoadout(l)) if o == a.pri_loadouts => {
                if let Some(player) = p.player {
                    return Signal::Loadout {
                        player,
                        blue_body: l.blue.body,
                        orange_body: l.orange.body,
                    };
                }
            }
            (Slot::Pri(p), Attribute::Int(v)) => {
                let stat = if o == a.pri_goals {
                    PriStat::Goals
                } else if o == a.pri_assists {
                    PriStat::Assists
                } else if o == a.pri_saves {
                    PriStat::Saves
                } else if o == a.pri_shots {
                    PriStat::Shots
                } else if o == a.pri_score {
                    PriStat::Score
                } else if o == a.pri_demolishes {
                    PriStat::Demolishes
                } else {
                    return Signal::None;
                };
                if let Some(player) = p.player {
                    let value = u32::try_from(*v).unwrap_or(0);
                    return Signal::PriStat {
                        player,
                        stat,
                        value,
                    };
                }
            }
            (Slot::Pad(obj), Attribute::PickupNew(pk)) if o == a.pickup_new => {
                let obj = *obj;
                let last = self.pad_last_value.get(obj).copied().unwrap_or(u8::MAX);
                if let Some(v) = self.pad_last_value.get_mut(obj) {
                    *v = pk.picked_up;
                }
                if pk.picked_up != u8::MAX && pk.picked_up != last {
                    return Signal::Pickup {
                        pad_object: obj,
                        instigator: pk.instigator,
                    };
                }
            }
            (Slot::Pad(obj), Attribute::Pickup(pk)) if o == a.pickup => {
                let obj = *obj;
                let value = u8::from(pk.picked_up);
                let last = self.pad_last_value.get(obj).copied().unwrap_or(u8::MAX);
                if let Some(v) = self.pad_last_value.get_mut(obj) {
                    *v = value;
                }
                if pk.picked_up && last != 1 {
                    return Signal::Pickup {
                        pad_object: obj,
                        instigator: pk.instigator,
                    };
                }
            }
            (Slot::GameEvent, Attribute::Int(n)) if o == a.state_name => return Signal::State(*n),
            (Slot::GameEvent, Attribute::Boolean(b)) if o == a.ball_has_been_hit => {
                return Signal::BallHasBeenHit(*b);
            }
            (Slot::GameEvent, Attribute::Boolean(true)) if o == a.overtime => {
                return Signal::Overtime;
            }
            (Slot::GameEvent | Slot::Other, Attribute::Int(n)) if o == a.playlist => {
                return Signal::Playlist(*n);
            }
            (Slot::GameEvent | Slot::Other, Attribute::String(s))
                if o == a.match_guid && !s.is_empty() =>
            {
                return Signal::MatchGuid(s);
            }
            _ => {}
        }
        Signal::None
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
        Some(PickupCar {
            pos: c.pos,
            comp: c.boost_comp,
            before,
            before_replicated,
            after,
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

    /// Links new PRIs to players (adding a player the first time an identity is seen) and copies
    /// names and teams that changed. Returns how many players were added.
    pub fn resolve_players(&mut self, players: &mut Vec<PlayerTrack>) -> usize {
        let before = players.len();
        for idx in 0..self.live_pris.len() {
            let pri_id = self.live_pris[idx];
            let team_actor = match self.slot(pri_id) {
                Slot::Pri(p) if p.dirty || p.player.is_none() => p.team_actor,
                _ => continue,
            };
            let team = team_actor.and_then(|t| match self.slot(t) {
                Slot::Team(n) => Some(*n),
                _ => None,
            });
            let Some(Slot::Pri(p)) = self.slot_mut(pri_id) else {
                continue;
            };
            if p.player.is_none() {
                let Some(mut uid) = p.unique.clone() else {
                    continue;
                };
                if matches!(uid.platform.as_str(), "bot" | "splitscreen") {
                    let Some(name) = p.name.clone() else { continue };
                    uid.id = name;
                }
                let name = p.name.clone().unwrap_or_default();
                let found = players.iter().position(|t| t.id == uid);
                p.player = Some(found.unwrap_or_else(|| {
                    players.push(PlayerTrack::new(uid, name, p.is_bot));
                    players.len() - 1
                }));
            }
            let Some(player) = p.player else {
                continue;
            };
            // Done until the name or team changes again, unless the team actor is not there yet.
            if team_actor.is_none() || team.is_some() {
                p.dirty = false;
            }
            if let Some(track) = players.get_mut(player) {
                if team.is_some() {
                    track.team = team;
                }
                if let Some(name) = &p.name
                    && !name.is_empty()
                {
                    track.name = name.clone();
                }
            }
        }
        players.len() - before
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
