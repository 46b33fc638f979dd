//! The single pass over network frames. It follows actors (deleting before spawning, since ids are
//! reused), links car → PRI → player and component → car, estimates boost between sparse updates,
//! and feeds per-frame views to the accumulators and discrete events to `events.rs`.

use boxcars::{ActorId, Attribute, Frame, ObjectId, RemoteId, UniqueId};

use super::events::{Pickup, Touch};
use super::field::{self, Vec3};
use super::mechanics::{Inputs, MechState};
use super::objects::{ActorKind, ObjectTable};
use super::stats::{self, CarView, FrameView, PlayerAcc};
use crate::report::PlayerId;

/// Actor ids above this are treated as hostile input and ignored (real replays stay below ~2k).
const MAX_ACTOR_ID: usize = 1 << 16;
const TOUCH_DEBOUNCE_S: f64 = 0.2;
const DEMO_DEDUPE_S: f64 = 3.0;
const SERIES_HZ: f64 = 2.0;
/// How long a pickup waits for the server's new boost amount before it is taken as unknown.
const PICKUP_AMOUNT_WAIT_S: f64 = 0.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Countdown,
    KickoffWaiting,
    Active,
    PostGoal,
}

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

/// What the frame pass found for one player.
pub struct PlayerTrack {
    pub id: PlayerId,
    pub name: String,
    pub team: Option<u8>,
    pub is_bot: bool,
    pub car_body: Option<u32>,
    /// Max of the replicated PRI counters: goals, assists, saves, shots, score, demolishes.
    pub pri_stats: [u32; 6],
    pub mech: MechState,
    pub demos_taken: u32,
    pub demos_inflicted: u32,
    /// Boost used: every fall of the server's replicated amount, in any phase (raw units).
    pub boost_used_raw: f64,
    last_boost: f32,
    last_touch_t: f64,
}

pub struct KickoffTrack {
    pub frame: usize,
    pub t: f64,
    pub overtime: bool,
    /// Per player: spawn position, boost at GO, boost used, dodged, max distance moved.
    pub players: Vec<(usize, Vec3, f32, f32, bool, f32)>,
    pub first_touch: Option<(usize, f64)>,
}

#[derive(Debug, Clone)]
pub struct StatEvent {
    pub t: f64,
    pub frame: usize,
    pub kind: &'static str,
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

pub struct Tracker<'a> {
    objects: &'a ObjectTable,
    names: &'a [String],
    legacy_scale: bool,
    slots: Vec<Slot>,
    live_cars: Vec<ActorId>,
    /// Last player seen driving each car actor id (kept after delete; reset on spawn).
    last_car_player: Vec<Option<usize>>,
    live_pris: Vec<ActorId>,
    live_boost_comps: Vec<ActorId>,
    ball: Option<ActorId>,
    ball_pos: Option<Vec3>,
    ball_vel: Vec3,
    ball_updated: bool,
    hit_team_update: Option<u8>,
    pad_last_value: Vec<u8>,
    pub players: Vec<PlayerTrack>,
    /// Continuous-stat accumulators, parallel to `players`.
    pub accs: Vec<PlayerAcc>,
    pub phase: Phase,
    pub overtime: bool,
    pub overtime_start_t: Option<f64>,
    pub playlist_id: Option<i32>,
    pub match_guid: Option<String>,
    ball_has_been_hit: bool,
    /// Σ frame delta up to the current frame.
    pub clock: f64,
    pub first_kickoff_clock: Option<f64>,
    /// Σ dt per phase: countdown, kickoff waiting, active, post-goal.
    pub phase_time: [f64; 4],
    pub pickups: Vec<Pickup>,
    /// Pickups whose new replicated amount has not arrived yet: (boost component, pickup, clock).
    awaiting_amount: Vec<(ActorId, usize, f64)>,
    boost_updates: u32,
    pub touches: Vec<Touch>,
    pub kickoffs: Vec<KickoffTrack>,
    pub stat_events: Vec<StatEvent>,
    pub demos: Vec<DemoEvent>,
    pub possession: Option<u8>,
    pub possession_time: [f64; 2],
    pub ball_side_time: [f64; 2],
    /// Ball speed at each frame (for goal shot speeds); NaN-free, 0 when unknown.
    pub ball_speed: Vec<f32>,
    /// Match time (from the first kickoff) of each frame.
    pub frame_t: Vec<f32>,
    /// Car positions of each team's last defender at header goal frames: frame → player.
    pub last_defender_at: Vec<(usize, Option<usize>)>,
    goal_frames: Vec<(usize, u8)>,
    pub series_t: Vec<f32>,
    pub series_boost: Vec<Vec<f32>>,
    pub series_speed: Vec<Vec<f32>>,
    next_sample: f64,
    /// The last frame processed has not been credited its time yet (see `process`).
    awaiting_credit: bool,
    inputs: Vec<Inputs>,
    car_views: Vec<Option<CarView>>,
    rots: Vec<field::Quat>,
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

impl<'a> Tracker<'a> {
    pub fn new(
        objects: &'a ObjectTable,
        names: &'a [String],
        object_count: usize,
        net_version: Option<i32>,
        goal_frames: Vec<(usize, u8)>,
    ) -> Self {
        Tracker {
            objects,
            names,
            legacy_scale: net_version.is_none_or(|v| v < 5),
            slots: Vec::new(),
            live_cars: Vec::new(),
            last_car_player: Vec::new(),
            live_pris: Vec::new(),
            live_boost_comps: Vec::new(),
            ball: None,
            ball_pos: None,
            ball_vel: Vec3::ZERO,
            ball_updated: false,
            hit_team_update: None,
            pad_last_value: vec![u8::MAX; object_count],
            players: Vec::new(),
            accs: Vec::new(),
            phase: Phase::Active,
            overtime: false,
            overtime_start_t: None,
            playlist_id: None,
            match_guid: None,
            ball_has_been_hit: true,
            clock: 0.0,
            first_kickoff_clock: None,
            phase_time: [0.0; 4],
            pickups: Vec::new(),
            awaiting_amount: Vec::new(),
            boost_updates: 0,
            touches: Vec::new(),
            kickoffs: Vec::new(),
            stat_events: Vec::new(),
            demos: Vec::new(),
            possession: None,
            possession_time: [0.0; 2],
            ball_side_time: [0.0; 2],
            ball_speed: Vec::new(),
            frame_t: Vec::new(),
            last_defender_at: Vec::new(),
            goal_frames,
            series_t: Vec::new(),
            series_boost: Vec::new(),
            series_speed: Vec::new(),
            next_sample: 0.0,
            awaiting_credit: false,
            inputs: Vec::new(),
            car_views: Vec::new(),
            rots: Vec::new(),
        }
    }

    /// Match time of the current frame, from the first kickoff.
    pub fn match_t(&self) -> f64 {
        (self.clock - self.first_kickoff_clock.unwrap_or(0.0)).max(0.0)
    }

    fn slot(&self, id: ActorId) -> &Slot {
        slot_index(id)
            .and_then(|i| self.slots.get(i))
            .unwrap_or(&Slot::Empty)
    }

    fn slot_mut(&mut self, id: ActorId) -> Option<&mut Slot> {
        slot_index(id).and_then(|i| self.slots.get_mut(i))
    }

    fn car_player(&self, car: ActorId) -> Option<usize> {
        let Slot::Car(c) = self.slot(car) else {
            return None;
        };
        let Slot::Pri(p) = self.slot(c.pri?) else {
            return None;
        };
        p.player
    }

    /// Like `car_player`, but also answers for a car deleted earlier in this frame.
    fn car_player_or_last(&self, car: ActorId) -> Option<usize> {
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

    /// Applies one frame. A frame's state lasts until the next frame, so its counted time is the
    /// next frame's delta: the previous frame is credited here, before this one changes anything,
    /// and the last one by [`Tracker::finish`]. Frames can thus be fed as they are decoded.
    pub fn process(&mut self, index: usize, frame: &Frame) {
        let delta = f64::from(frame.delta.max(0.0));
        if self.awaiting_credit {
            self.credit(delta);
        }
        self.clock += delta;
        self.ball_updated = false;
        self.hit_team_update = None;
        for i in self.inputs.iter_mut() {
            *i = Inputs::default();
        }
        self.start_boost_frame(frame.delta.max(0.0));

        for id in &frame.deleted_actors {
            self.delete(*id);
        }
        for new in &frame.new_actors {
            self.spawn(new.actor_id, new.object_id);
        }
        let prev_ball_vel = self.ball_vel;
        for upd in &frame.updated_actors {
            self.update(index, upd.actor_id, upd.object_id, &upd.attribute);
        }
        self.resolve_players();
        self.sample(index, prev_ball_vel, delta);
        self.awaiting_credit = true;
    }

    /// Credits the last frame (nothing follows it, so it lasts no time).
    pub fn finish(&mut self) {
        if std::mem::take(&mut self.awaiting_credit) {
            self.credit(0.0);
        }
    }

    /// Start of a frame for every boost component: drain the estimate of a boosting car, and
    /// remember the levels before this frame's updates (a pickup compares against them).
    fn start_boost_frame(&mut self, delta: f32) {
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

    fn delete(&mut self, id: ActorId) {
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
            Slot::Ball if self.ball == Some(id) => self.ball = None,
            _ => {}
        }
    }

    fn spawn(&mut self, id: ActorId, object: ObjectId) {
        let Some(i) = slot_index(id) else { return };
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || Slot::Empty);
        }
        // An id can be re-spawned without a delete: clear list membership first.
        self.delete(id);
        let kind = self.objects.kind(object);
        let slot = match kind {
            ActorKind::Ball => {
                self.ball = Some(id);
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

    fn update(&mut self, frame: usize, id: ActorId, object: ObjectId, attr: &Attribute) {
        let a = &self.objects.attrs;
        let o = Some(object);
        let legacy = self.legacy_scale;
        // Demolitions arrive on a car that may already be deleted in this frame: read them by
        // attribute, whatever the slot holds now.
        match attr {
            Attribute::DemolishExtended(d) if o == a.demolish_extended => {
                let attacker = d.attacker.active.then_some(d.attacker.actor);
                return self.demolish(frame, attacker, d.victim.actor);
            }
            Attribute::Demolish(d) if o == a.demolish || o == a.demolish_goal_explosion => {
                let attacker = d.attacker_flag.then_some(d.attacker);
                return self.demolish(frame, attacker, d.victim);
            }
            Attribute::DemolishFx(d) if o == a.demolish_fx => {
                let attacker = d.attacker_flag.then_some(d.attacker);
                return self.demolish(frame, attacker, d.victim);
            }
            _ => {}
        }
        let Some(slot) = slot_index(id).and_then(|i| self.slots.get_mut(i)) else {
            return;
        };
        match (slot, attr) {
            (Slot::Ball, Attribute::RigidBody(rb)) if o == a.rigid_body => {
                let (pk, vk) = if legacy { (100.0, 10.0) } else { (1.0, 1.0) };
                self.ball_pos = Some(scale(rb.location, pk));
                self.ball_vel = rb
                    .linear_velocity
                    .map(|v| scale(v, vk))
                    .unwrap_or(Vec3::ZERO);
                self.ball_updated = true;
            }
            (Slot::Ball, Attribute::Byte(team)) if o == a.hit_team_num => {
                self.hit_team_update = Some((*team).min(1));
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
                    && let Some(p) = self.car_player(id)
                    && let Some(i) = self.inputs.get_mut(p)
                {
                    i.flip_reset = true;
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
                let kind = c.kind;
                if started
                    && let Some(p) = self.comp_player(id)
                    && let Some(i) = self.inputs.get_mut(p)
                {
                    match kind {
                        ActorKind::JumpComponent => i.jumped = true,
                        ActorKind::DoubleJumpComponent => i.double_jumped = true,
                        ActorKind::DodgeComponent => i.dodged = true,
                        _ => {}
                    }
                }
            }
            (Slot::Comp(_), Attribute::ReplicatedBoost(b)) if o == a.replicated_boost => {
                self.replicated_boost(id, f32::from(b.boost_amount));
            }
            (Slot::Comp(_), Attribute::Byte(b)) if o == a.replicated_boost_amount => {
                self.replicated_boost(id, f32::from(*b));
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
                if let Some(pl) = p.player
                    && let Some(track) = self.players.get_mut(pl)
                {
                    let body = if track.team == Some(1) {
                        l.orange.body
                    } else {
                        l.blue.body
                    };
                    track.car_body = Some(body);
                }
            }
            (Slot::Pri(p), Attribute::Int(v)) => {
                let idx = if o == a.pri_goals {
                    0
                } else if o == a.pri_assists {
                    1
                } else if o == a.pri_saves {
                    2
                } else if o == a.pri_shots {
                    3
                } else if o == a.pri_score {
                    4
                } else if o == a.pri_demolishes {
                    5
                } else {
                    return;
                };
                let Some(pl) = p.player else { return };
                let v = u32::try_from(*v).unwrap_or(0);
                self.pri_stat(frame, pl, idx, v);
            }
            (Slot::Pad(obj), Attribute::PickupNew(pk)) if o == a.pickup_new => {
                let obj = *obj;
                let last = self.pad_last_value.get(obj).copied().unwrap_or(u8::MAX);
                if let Some(v) = self.pad_last_value.get_mut(obj) {
                    *v = pk.picked_up;
                }
                if pk.picked_up != u8::MAX && pk.picked_up != last {
                    self.pickup(obj, pk.instigator);
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
                    self.pickup(obj, pk.instigator);
                }
            }
            (Slot::GameEvent, Attribute::Int(n)) if o == a.state_name => {
                let name = usize::try_from(*n)
                    .ok()
                    .and_then(|i| self.names.get(i))
                    .map(String::as_str)
                    .unwrap_or("");
                self.set_state(frame, name);
            }
            (Slot::GameEvent, Attribute::Boolean(b)) if o == a.ball_has_been_hit => {
                self.ball_has_been_hit = *b;
                if self.phase == Phase::KickoffWaiting && *b {
                    self.phase = Phase::Active;
                }
            }
            (Slot::GameEvent, Attribute::Boolean(true)) if o == a.overtime && !self.overtime => {
                self.overtime = true;
                self.overtime_start_t = Some(self.clock);
            }
            (Slot::GameEvent | Slot::Other, Attribute::Int(n)) if o == a.playlist => {
                self.playlist_id = Some(*n);
            }
            (Slot::GameEvent | Slot::Other, Attribute::String(s))
                if o == a.match_guid && !s.is_empty() =>
            {
                self.match_guid = Some(s.clone());
            }
            _ => {}
        }
    }

    fn set_state(&mut self, frame: usize, name: &str) {
        let next = match name {
            "Countdown" => Phase::Countdown,
            "Active" => {
                if self.ball_has_been_hit {
                    Phase::Active
                } else {
                    Phase::KickoffWaiting
                }
            }
            "PostGoalScored" => Phase::PostGoal,
            _ => self.phase,
        };
        if next == Phase::Countdown && self.phase != Phase::Countdown {
            // Every kickoff starts from 33 % boost; the server confirms shortly after.
            for id in &self.live_boost_comps {
                if let Some(Slot::Comp(c)) = slot_index(*id).and_then(|i| self.slots.get_mut(i)) {
                    c.boost_raw = Some(field::BOOST_KICKOFF_RAW);
                    c.boost_replicated = Some(field::BOOST_KICKOFF_RAW);
                }
            }
            self.possession = None;
        }
        if name == "Active" && self.phase == Phase::Countdown {
            // "GO": a kickoff starts now. The ball has not been hit yet whatever the flag says.
            self.ball_has_been_hit = false;
            if self.first_kickoff_clock.is_none() {
                self.first_kickoff_clock = Some(self.clock);
            }
            let t = self.match_t();
            self.kickoffs.push(KickoffTrack {
                frame,
                t,
                overtime: self.overtime,
                players: Vec::new(),
                first_touch: None,
            });
            self.phase = Phase::KickoffWaiting;
            return;
        }
        self.phase = next;
    }

    fn pri_stat(&mut self, frame: usize, player: usize, idx: usize, value: u32) {
        let t = self.match_t();
        let ball_pos = self.ball_pos;
        let ball_speed = ball_pos.map(|_| self.ball_vel.len());
        let Some(track) = self.players.get_mut(player) else {
            return;
        };
        let prev = track.pri_stats[idx];
        if value <= prev {
            return;
        }
        track.pri_stats[idx] = value;
        let kind = match idx {
            1 => "ASSIST",
            2 => "SAVE",
            3 => "SHOT",
            _ => return,
        };
        for _ in prev..value.min(prev + 5) {
            self.stat_events.push(StatEvent {
                t,
                frame,
                kind,
                player,
                ball_pos,
                ball_speed,
            });
        }
    }

    fn pickup(&mut self, pad_object: usize, instigator: Option<ActorId>) {
        let Some(car) = instigator else { return };
        let Slot::Car(c) = self.slot(car) else { return };
        let pos = c.pos;
        let comp = c.boost_comp;
        let (before, before_replicated, after) = match comp.map(|b| self.slot(b)) {
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
        let Some(player) = self.car_player(car) else {
            return;
        };
        let Some(track) = self.players.get(player) else {
            return;
        };
        let Some(team) = track.team else { return };
        let before = before.unwrap_or(track.last_boost);
        self.pickups.push(Pickup {
            player,
            team,
            pad_object,
            boost_before_raw: before,
            replicated_before_raw: before_replicated.unwrap_or(before),
            replicated_after: after,
            car_pos: pos,
        });
        // When the server's new amount has not arrived yet, the pickup waits for it, and the pad
        // is credited now (provisional size from the nearest pad) so the estimate stays right
        // meanwhile. When it already arrived in this frame, that amount stands.
        if after.is_some() {
            return;
        }
        let Some(comp) = comp else { return };
        self.awaiting_amount
            .push((comp, self.pickups.len() - 1, self.clock));
        let gain = match field::nearest_pad(pos).map(|i| field::soccar_pads()[i].size) {
            Some(field::PadSize::Big) => field::BIG_PAD_RAW,
            Some(field::PadSize::Small) => field::SMALL_PAD_RAW,
            None => 0.0,
        };
        if let Some(Slot::Comp(bc)) = self.slot_mut(comp) {
            bc.boost_raw = Some((before + gain).min(field::BOOST_MAX_RAW));
        }
    }

    /// A new amount from the server: it is the level from now on, and the "after" of pickups
    /// still waiting for it (the server sends it with the pickup or a few frames later).
    fn replicated_boost(&mut self, comp: ActorId, value: f32) {
        self.boost_updates += 1;
        let serial = self.boost_updates;
        // A fall is boost used. A new component (kickoff, respawn) starts from nothing, so the
        // kickoff reset is not a fall.
        if let Slot::Comp(c) = self.slot(comp)
            && let Some(before) = c.boost_replicated
            && value < before
            && let Some(player) = c.car.and_then(|car| self.car_player(car))
            && let Some(track) = self.players.get_mut(player)
        {
            track.boost_used_raw += f64::from(before - value);
        }
        if let Some(Slot::Comp(c)) = self.slot_mut(comp) {
            c.boost_raw = Some(value);
            c.boost_replicated = Some(value);
            c.replicated_this_frame = true;
            c.update_serial = serial;
        }
        let clock = self.clock;
        let pickups = &mut self.pickups;
        self.awaiting_amount.retain(|&(c, index, since)| {
            if clock - since > PICKUP_AMOUNT_WAIT_S {
                return false;
            }
            if c != comp {
                return true;
            }
            if let Some(p) = pickups.get_mut(index) {
                p.replicated_after = Some((value, serial));
            }
            false
        });
    }

    fn demolish(&mut self, frame: usize, attacker: Option<ActorId>, victim: ActorId) {
        let Some(victim_player) = self.car_player_or_last(victim) else {
            return;
        };
        let attacker_player = attacker.and_then(|a| self.car_player_or_last(a));
        // Demos without an attacker (post-match clean-up, self-destruct) are not counted.
        let Some(attacker_player) = attacker_player else {
            return;
        };
        let t = self.match_t();
        if self.demos.iter().rev().take(8).any(|d| {
            d.victim == victim_player
                && d.attacker == Some(attacker_player)
                && t - d.t < DEMO_DEDUPE_S
        }) {
            return;
        }
        let pos = match self.slot(victim) {
            Slot::Car(c) => c.pos,
            _ => Vec3::ZERO,
        };
        self.demos.push(DemoEvent {
            t,
            frame,
            attacker: Some(attacker_player),
            victim: victim_player,
            pos,
        });
        if let Some(v) = self.players.get_mut(victim_player) {
            v.demos_taken += 1;
        }
        if let Some(a) = self.players.get_mut(attacker_player) {
            a.demos_inflicted += 1;
        }
    }

    fn resolve_players(&mut self) {
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
                let is_bot = p.is_bot;
                let found = self.players.iter().position(|t| t.id == uid);
                let player = found.unwrap_or_else(|| {
                    self.players.push(PlayerTrack {
                        id: uid,
                        name: name.clone(),
                        team: None,
                        is_bot,
                        car_body: None,
                        pri_stats: [0; 6],
                        mech: MechState::default(),
                        demos_taken: 0,
                        demos_inflicted: 0,
                        boost_used_raw: 0.0,
                        last_boost: field::BOOST_KICKOFF_RAW,
                        last_touch_t: f64::NEG_INFINITY,
                    });
                    self.inputs.push(Inputs::default());
                    self.accs.push(PlayerAcc::default());
                    self.car_views.push(None);
                    self.rots.push(field::Quat::default());
                    self.players.len() - 1
                });
                if let Some(Slot::Pri(p)) = self.slot_mut(pri_id) {
                    p.player = Some(player);
                }
            }
            let Some(Slot::Pri(p)) = self.slot_mut(pri_id) else {
                continue;
            };
            let Some(player) = p.player else {
                continue;
            };
            // Done until the name or team changes again, unless the team actor is not there yet.
            if team_actor.is_none() || team.is_some() {
                p.dirty = false;
            }
            let name = p.name.clone();
            if let Some(track) = self.players.get_mut(player) {
                if team.is_some() {
                    track.team = team;
                }
                if let Some(name) = name
                    && !name.is_empty()
                {
                    track.name = name;
                }
            }
        }
    }

    fn sample(&mut self, frame: usize, prev_ball_vel: Vec3, delta: f64) {
        // Car views per player.
        for v in self.car_views.iter_mut() {
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
            let Some(track) = self.players.get(player) else {
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
            let view = CarView {
                pos: car.pos,
                vel: car.vel,
                boost_estimate_raw: raw,
                boost_replicated_raw: replicated,
                boosting,
                handbrake: car.handbrake,
                team,
            };
            let rot = car.rot;
            if let Some(i) = slot_index(car_id) {
                if self.last_car_player.len() <= i {
                    self.last_car_player.resize(i + 1, None);
                }
                self.last_car_player[i] = Some(player);
            }
            self.car_views[player] = Some(view);
            self.rots[player] = rot;
            self.players[player].last_boost = raw;
        }

        let t = self.match_t();
        let ball = self.ball_pos;
        self.ball_speed.push(if ball.is_some() {
            self.ball_vel.len()
        } else {
            0.0
        });
        self.frame_t.push(t as f32);

        // Touches: a ball velocity change not explained by gravity, or a HitTeamNum update,
        // attributed to the nearest car (of the hitting team when known).
        let mut touch: Option<(usize, f32)> = None;
        if let Some(bpos) = ball
            && self.ball_updated
        {
            let expected = Vec3::new(
                prev_ball_vel.x,
                prev_ball_vel.y,
                prev_ball_vel.z + field::GRAVITY_Z * delta as f32,
            );
            let dv = self.ball_vel.dist(expected);
            let hit_team = self.hit_team_update;
            if dv > 250.0 || hit_team.is_some() {
                let limit = if hit_team.is_some() { 500.0 } else { 320.0 };
                let mut best: Option<(usize, f32)> = None;
                for (p, v) in self.car_views.iter().enumerate() {
                    let Some(v) = v else { continue };
                    if hit_team.is_some_and(|team| team != v.team) {
                        continue;
                    }
                    let d = v.pos.dist(bpos);
                    if d <= limit && best.is_none_or(|(_, bd)| d < bd) {
                        best = Some((p, d));
                    }
                }
                if let Some((p, _)) = best {
                    let since = t - self.players[p].last_touch_t;
                    if since >= TOUCH_DEBOUNCE_S || dv > 500.0 {
                        touch = Some((p, self.ball_vel.len() - prev_ball_vel.len()));
                        self.players[p].last_touch_t = t;
                        let team = self.car_views[p].map(|v| v.team).unwrap_or(0);
                        self.touches.push(Touch {
                            t,
                            frame,
                            player: p,
                            team,
                            ball_pos: bpos,
                            ball_speed_after: self.ball_vel.len(),
                            ball_dv: dv,
                            car_pos: self.car_views[p].map(|v| v.pos).unwrap_or(bpos),
                        });
                        if self.phase != Phase::PostGoal {
                            self.possession = Some(team);
                        }
                        if let Some(k) = self.kickoffs.last_mut()
                            && k.first_touch.is_none()
                            && matches!(self.phase, Phase::KickoffWaiting | Phase::Active)
                            && t - k.t < 10.0
                        {
                            k.first_touch = Some((p, t - k.t));
                        }
                    }
                }
            }
        }

        // Kickoff tracking: spawn positions at GO, then boost use, dodges and distance.
        if let Some(k) = self.kickoffs.last_mut()
            && k.first_touch.is_none()
            && t - k.t < 10.0
        {
            if k.players.is_empty() && k.frame == frame {
                for (p, v) in self.car_views.iter().enumerate() {
                    if let Some(v) = v {
                        k.players
                            .push((p, v.pos, v.boost_estimate_raw, 0.0, false, 0.0));
                    }
                }
            }
            for entry in k.players.iter_mut() {
                if let Some(v) = self.car_views.get(entry.0).copied().flatten() {
                    entry.3 = (entry.2 - v.boost_estimate_raw).max(entry.3);
                    entry.4 |= self.inputs[entry.0].dodged;
                    entry.5 = entry.5.max(v.pos.dist(entry.1));
                }
            }
        }

        // Mechanics.
        for p in 0..self.players.len() {
            let Some(v) = self.car_views[p] else { continue };
            let gain = touch.filter(|(tp, _)| *tp == p).map(|(_, g)| g);
            let ball_state = ball.map(|b| (b, self.ball_vel));
            let inputs = self.inputs[p];
            let rot = self.rots[p];
            self.players[p]
                .mech
                .update(t, v.pos, v.vel, rot, v.boosting, inputs, ball_state, gain);
        }

        // Last defender at goal frames (header frame indices are network frame indices).
        while let Some(&(gf, scoring_team)) = self.goal_frames.first() {
            if gf > frame {
                break;
            }
            self.goal_frames.remove(0);
            let conceding = 1 - scoring_team.min(1);
            let mut best: Option<(usize, f32)> = None;
            for (p, v) in self.car_views.iter().enumerate() {
                if let Some(v) = v
                    && v.team == conceding
                {
                    let ny = field::normalized_y(v.pos.y, conceding);
                    if best.is_none_or(|(_, by)| ny < by) {
                        best = Some((p, ny));
                    }
                }
            }
            self.last_defender_at.push((gf, best.map(|b| b.0)));
        }

        // Chart series at SERIES_HZ.
        if self.first_kickoff_clock.is_some() && t >= self.next_sample {
            self.next_sample = t + 1.0 / SERIES_HZ;
            self.series_t.push(t as f32);
            while self.series_boost.len() < self.players.len() {
                self.series_boost.push(vec![-1.0; self.series_t.len() - 1]);
                self.series_speed.push(vec![-1.0; self.series_t.len() - 1]);
            }
            for p in 0..self.players.len() {
                let (b, s) = match self.car_views[p] {
                    Some(v) => (field::raw_to_pct(v.boost_estimate_raw) as f32, v.vel.len()),
                    None => (-1.0, -1.0),
                };
                self.series_boost[p].push(b);
                self.series_speed[p].push(s);
            }
        }
    }

    /// Counted time of the frame last sampled, `dt` long: phase, possession and ball-side time
    /// and every per-player accumulator. Reads only what `sample` left (car views, ball, phase).
    fn credit(&mut self, dt: f64) {
        let ball = self.ball_pos;
        // Phase time and team ball stats.
        let phase_idx = match self.phase {
            Phase::Countdown => 0,
            Phase::KickoffWaiting => 1,
            Phase::Active => 2,
            Phase::PostGoal => 3,
        };
        self.phase_time[phase_idx] += dt;
        if self.phase == Phase::Active {
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
            cars: &self.car_views,
            possession: self.possession,
            frozen: self.phase == Phase::Countdown,
            post_goal: self.phase == Phase::PostGoal,
        };
        stats::accumulate(&mut self.accs, &view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxcars::{
        ActiveActor, NewActor, PickupNew, Quaternion, ReplicatedBoost, RigidBody, StreamId,
        Trajectory, UpdatedAttribute, Vector3f,
    };

    const NAMES: [&str; 13] = [
        "Archetypes.Car.Car_Default",
        "Archetypes.CarComponents.CarComponent_Boost",
        "TAGame.Default__PRI_TA",
        "Archetypes.Teams.Team0",
        "Stadium_P.TheWorld:PersistentLevel.VehiclePickup_Boost_TA_1",
        "TAGame.RBActor_TA:ReplicatedRBState",
        "TAGame.CarComponent_Boost_TA:ReplicatedBoost",
        "TAGame.CarComponent_TA:Vehicle",
        "Engine.Pawn:PlayerReplicationInfo",
        "Engine.PlayerReplicationInfo:UniqueId",
        "Engine.PlayerReplicationInfo:Team",
        "TAGame.VehiclePickup_TA:NewReplicatedPickupData",
        "Engine.PlayerReplicationInfo:PlayerName",
    ];
    const CAR: i32 = 10;
    const COMP: i32 = 11;
    const PRI: i32 = 12;
    const TEAM: i32 = 13;
    const PAD: i32 = 14;

    fn upd(actor: i32, object: i32, attribute: Attribute) -> UpdatedAttribute {
        UpdatedAttribute {
            actor_id: ActorId(actor),
            stream_id: StreamId(0),
            object_id: ObjectId(object),
            attribute,
        }
    }
    fn link(actor: i32) -> ActiveActor {
        ActiveActor {
            active: true,
            actor: ActorId(actor),
        }
    }
    fn boost(amount: u8) -> UpdatedAttribute {
        upd(
            COMP,
            6,
            Attribute::ReplicatedBoost(ReplicatedBoost {
                grant_count: 0,
                boost_amount: amount,
                unused1: 0,
                unused2: 0,
            }),
        )
    }
    fn pickup(seq: u8) -> UpdatedAttribute {
        upd(
            PAD,
            11,
            Attribute::PickupNew(PickupNew {
                instigator: Some(ActorId(CAR)),
                picked_up: seq,
            }),
        )
    }
    fn frame(updated: Vec<UpdatedAttribute>) -> Frame {
        Frame {
            time: 0.0,
            delta: 1.0 / 30.0,
            new_actors: Vec::new(),
            deleted_actors: Vec::new(),
            updated_actors: updated,
        }
    }

    fn spawn(actor: i32, object: i32) -> NewActor {
        NewActor {
            actor_id: ActorId(actor),
            name_id: None,
            object_id: ObjectId(object),
            initial_trajectory: Trajectory {
                location: None,
                rotation: None,
            },
        }
    }
    fn v3(x: f32, y: f32, z: f32) -> Vector3f {
        Vector3f { x, y, z }
    }
    /// A rigid-body update (attribute 5) of `actor`, level, at `at` moving at `vel`.
    fn body(actor: i32, at: Vector3f, vel: Vector3f) -> UpdatedAttribute {
        upd(
            actor,
            5,
            Attribute::RigidBody(RigidBody {
                sleeping: false,
                location: at,
                rotation: Quaternion {
                    x: 0.0,
                    y: 0.0,
                    z: 0.0,
                    w: 1.0,
                },
                linear_velocity: Some(vel),
                angular_velocity: None,
            }),
        )
    }

    /// A player's identity on `pri` (Steam id, name) and `car` driven by it.
    fn player(pri: i32, car: i32, steam: u64, name: &str) -> [UpdatedAttribute; 3] {
        [
            upd(
                pri,
                9,
                Attribute::UniqueId(Box::new(UniqueId {
                    system_id: 1,
                    remote_id: RemoteId::Steam(steam),
                    local_id: 0,
                })),
            ),
            upd(pri, 12, Attribute::String(name.into())),
            upd(car, 8, Attribute::ActiveActor(link(pri))),
        ]
    }

    /// A tracker over the test object table plus `extra` object names, with `states` as the
    /// replay's name table. The tables are leaked: they live as long as the test.
    fn tracker(extra: &[&str], states: &[&str], net_version: Option<i32>) -> Tracker<'static> {
        let names: Vec<String> = NAMES.iter().chain(extra).map(|s| s.to_string()).collect();
        let names: &'static [String] = names.leak();
        let states: Vec<String> = states.iter().map(|s| s.to_string()).collect();
        let objects = Box::leak(Box::new(ObjectTable::new(names)));
        Tracker::new(objects, states.leak(), names.len(), net_version, Vec::new())
    }

    /// `frames` through a fresh tracker (net version 10), finished.
    fn run(extra: &[&str], states: &[&str], frames: &[Frame]) -> Tracker<'static> {
        let mut t = tracker(extra, states, Some(10));
        for (i, f) in frames.iter().enumerate() {
            t.process(i, f);
        }
        t.finish();
        t
    }

    /// Each pickup's replicated amount before it and the one paired as after it.
    fn paired(t: &Tracker<'_>) -> Vec<(f32, Option<f32>)> {
        t.pickups
            .iter()
            .map(|p| (p.replicated_before_raw, p.replicated_after.map(|a| a.0)))
            .collect()
    }

    /// The first frame of the synthetic tests: one player's car standing on the small pad at
    /// (0, −1024) with 100/255 boost.
    fn first_frame() -> Frame {
        let mut first = frame(vec![
            upd(PRI, 10, Attribute::ActiveActor(link(TEAM))),
            upd(COMP, 7, Attribute::ActiveActor(link(CAR))),
            body(CAR, v3(0.0, -1024.0, 17.0), v3(0.0, 0.0, 0.0)),
            boost(100),
        ]);
        first.updated_actors.extend(player(PRI, CAR, 7, "p"));
        first.new_actors = vec![
            spawn(CAR, 0),
            spawn(COMP, 1),
            spawn(PRI, 2),
            spawn(TEAM, 3),
            spawn(PAD, 4),
        ];
        first
    }

    /// A car standing on the small pad at (0, −1024) that the server's boost updates reach
    /// in the same frame as a pickup (before or after it), a few frames later, or never.
    #[test]
    fn pickups_pair_with_the_next_replicated_amount() {
        let mut frames = vec![first_frame()];
        frames.push(frame(vec![pickup(1), boost(131)])); // update after the pickup
        frames.push(frame(vec![boost(161), pickup(3)])); // update before it, same frame
        frames.push(frame(vec![pickup(5)]));
        frames.push(frame(Vec::new()));
        frames.push(frame(vec![boost(190)])); // two frames later
        frames.push(frame(vec![pickup(7)])); // no update follows
        frames.extend((0..20).map(|_| frame(Vec::new())));
        frames.push(frame(vec![boost(200)])); // too late for the last pickup
        let tracker = run(&[], &[], &frames);

        assert_eq!(
            paired(&tracker),
            [
                (100.0, Some(131.0)),
                (131.0, Some(161.0)),
                (161.0, Some(190.0)),
                (190.0, None),
            ]
        );
        // Each pickup was paired with a distinct update.
        let serials: Vec<u32> = tracker
            .pickups
            .iter()
            .filter_map(|p| p.replicated_after.map(|a| a.1))
            .collect();
        assert!(serials.windows(2).all(|w| w[0] < w[1]), "{serials:?}");
    }

    /// A frame's state lasts until the next frame: each frame is credited the next frame's
    /// delta, the last one nothing, whatever the deltas are.
    #[test]
    fn each_frame_counts_the_time_until_the_next() {
        let mut tracker = tracker(&[], &[], Some(10));
        let deltas = [0.5, 0.25, 0.0, 0.125, 1.0];
        let mut frames = vec![first_frame()];
        frames.extend(deltas.iter().map(|&d| Frame {
            delta: d,
            ..frame(Vec::new())
        }));
        for (i, f) in frames.iter().enumerate() {
            tracker.process(i, f);
        }
        let before_finish = tracker.phase_time.iter().sum::<f64>();
        tracker.finish();
        tracker.finish();
        let total: f64 = deltas.iter().map(|&d| f64::from(d)).sum();
        assert_eq!(tracker.phase_time.iter().sum::<f64>(), total);
        assert_eq!(before_finish, total, "the last frame lasts no time");
        assert_eq!(tracker.accs[0].time, total);
    }

    /// Boost used is every fall of the server's amount; rises (pickups) are not use.
    #[test]
    fn boost_used_is_every_fall_of_the_replicated_amount() {
        let frames = [
            first_frame(), // 100
            frame(vec![boost(80)]),
            frame(vec![boost(90)]),
            frame(Vec::new()),
            frame(vec![boost(50)]),
            frame(vec![boost(50)]),
        ];
        let tracker = run(&[], &[], &frames);
        assert_eq!(tracker.players[0].boost_used_raw, 60.0);
    }

    /// Replays from before the `ReplicatedBoost` struct carry the amount as a plain byte
    /// (`ReplicatedBoostAmount`); it feeds the same levels, use and pickup pairing.
    #[test]
    fn the_legacy_boost_byte_counts_like_the_boost_struct() {
        let legacy_boost = |v: u8| upd(COMP, 13, Attribute::Byte(v));
        let frames = [
            first_frame(), // 100 through the struct
            frame(vec![legacy_boost(80)]),
            frame(vec![pickup(1), legacy_boost(120)]),
            frame(vec![legacy_boost(70)]),
        ];
        let tracker = run(
            &["TAGame.CarComponent_Boost_TA:ReplicatedBoostAmount"],
            &[],
            &frames,
        );
        assert_eq!(tracker.players[0].boost_used_raw, 70.0);
        assert_eq!(paired(&tracker), [(80.0, Some(120.0))]);
    }

    /// Before net version 5 rigid bodies are sent in hundredths of uu (velocities in tenths).
    #[test]
    fn old_net_versions_scale_positions_and_velocities() {
        let place = |version: Option<i32>, location: Vector3f, velocity: Vector3f| {
            let mut tracker = tracker(&[], &[], version);
            let mut f = first_frame();
            for u in f.updated_actors.iter_mut() {
                if let Attribute::RigidBody(rb) = &mut u.attribute {
                    rb.location = location;
                    rb.linear_velocity = Some(velocity);
                }
            }
            tracker.process(0, &f);
            let v = tracker.car_views[0].expect("the car is tracked");
            (v.pos, v.vel)
        };
        let (pos, vel) = place(Some(4), v3(0.0, -10.24, 0.17), v3(0.0, 100.0, 0.0));
        assert!(pos.dist(Vec3::new(0.0, -1024.0, 17.0)) < 0.01, "{pos:?}");
        assert_eq!(vel.y, 1000.0);
        let (pos, vel) = place(None, v3(0.0, -10.24, 0.17), v3(0.0, 100.0, 0.0));
        assert!(
            pos.dist(Vec3::new(0.0, -1024.0, 17.0)) < 0.01,
            "no version: legacy"
        );
        assert_eq!(vel.y, 1000.0);
        let (pos, vel) = place(Some(7), v3(0.0, -1024.0, 17.0), v3(0.0, 1000.0, 0.0));
        assert!(pos.dist(Vec3::new(0.0, -1024.0, 17.0)) < 0.01, "{pos:?}");
        assert_eq!(vel.y, 1000.0);
    }

    /// Older replays report pad pickups as `ReplicatedPickupData` (a picked-up flag): a pickup
    /// is a flag set after it was clear (the pad respawned), not a repeat of a set flag.
    #[test]
    fn the_legacy_pickup_flag_counts_once_per_respawn() {
        let flag = |picked_up: bool| {
            upd(
                PAD,
                13,
                Attribute::Pickup(boxcars::Pickup {
                    instigator: Some(ActorId(CAR)),
                    picked_up,
                }),
            )
        };
        let frames = [
            first_frame(), // 100
            frame(vec![flag(true), boost(130)]),
            frame(vec![flag(true)]),  // repeated, no new pickup
            frame(vec![flag(false)]), // the pad respawns
            frame(vec![flag(true), boost(160)]),
        ];
        let tracker = run(
            &["TAGame.VehiclePickup_TA:ReplicatedPickupData"],
            &[],
            &frames,
        );
        assert_eq!(
            paired(&tracker),
            [(100.0, Some(130.0)), (130.0, Some(160.0))]
        );
    }

    /// A demolition is replicated for a while after it happens: one demo per attacker and victim
    /// within 3 s; a later one counts again; one without an attacker (clean-up) does not count.
    #[test]
    fn demolitions_count_once_and_need_an_attacker() {
        const CAR2: i32 = 20;
        const PRI2: i32 = 21;
        let mut first = first_frame();
        first.new_actors.extend([spawn(CAR2, 0), spawn(PRI2, 2)]);
        first.updated_actors.extend(player(PRI2, CAR2, 8, "q"));
        let demo = |attacker: Option<i32>| {
            upd(
                CAR2,
                13,
                Attribute::Demolish(Box::new(boxcars::Demolish {
                    attacker_flag: attacker.is_some(),
                    attacker: ActorId(attacker.unwrap_or(-1)),
                    victim_flag: true,
                    victim: ActorId(CAR2),
                    attack_velocity: v3(0.0, 0.0, 0.0),
                    victim_velocity: v3(0.0, 0.0, 0.0),
                })),
            )
        };
        let mut frames = vec![
            first,
            frame(vec![demo(Some(CAR))]),
            frame(vec![demo(Some(CAR))]),
        ];
        frames.extend((0..30).map(|_| frame(vec![demo(Some(CAR))]))); // still replicated, 1 s
        frames.extend((0..90).map(|_| frame(Vec::new()))); // 3 s later
        frames.push(frame(vec![demo(Some(CAR))]));
        frames.push(frame(vec![demo(None)]));
        let tracker = run(&["TAGame.Car_TA:ReplicatedDemolish"], &[], &frames);
        let by_name = |n: &str| tracker.players.iter().find(|p| p.name == n).unwrap();
        assert_eq!(by_name("p").demos_inflicted, 2);
        assert_eq!(by_name("q").demos_taken, 2);
        assert_eq!(tracker.demos.len(), 2);
    }

    /// A touch is a ball velocity change gravity does not explain, given to the nearest car
    /// within reach; a change far from every car is nobody's touch.
    #[test]
    fn touches_go_to_the_car_that_changed_the_ball() {
        const BALL: i32 = 30;
        let ball = |at: Vector3f, vel: Vector3f| body(BALL, at, vel);
        let mut first = first_frame(); // the car stands at (0, −1024, 17)
        first.new_actors.push(spawn(BALL, 13));
        first
            .updated_actors
            .push(ball(v3(0.0, -880.0, 93.0), v3(0.0, 0.0, 0.0)));
        let frames = [
            first,
            // Falling freely: no touch.
            frame(vec![ball(v3(0.0, -880.0, 92.0), v3(0.0, 0.0, -21.7))]),
            // Hit forward by the car 150 uu away.
            frame(vec![ball(v3(0.0, -850.0, 92.0), v3(0.0, 1500.0, 0.0))]),
            // Knocked sideways 3000 uu from any car.
            frame(vec![ball(v3(3000.0, 3000.0, 93.0), v3(-1500.0, 0.0, 0.0))]),
        ];
        let tracker = run(&["Archetypes.Ball.Ball_Default"], &[], &frames);
        let touches: Vec<(usize, usize)> = tracker
            .touches
            .iter()
            .map(|t| (t.frame, t.player))
            .collect();
        assert_eq!(touches, [(2, 0)]);
    }

    /// The kickoff clock: the countdown is its own phase; "GO" (state Active before the ball is
    /// hit) opens a kickoff that records where each car stood, and waits for the first touch,
    /// whose time is measured from GO; the server's ball-hit flag then starts live play.
    #[test]
    fn a_kickoff_runs_countdown_go_first_touch_then_live_play() {
        const BALL: i32 = 30;
        const GAME: i32 = 31;
        let state = |i: i32| upd(GAME, 15, Attribute::Int(i));
        let ball = |at: Vector3f, vel: Vector3f| body(BALL, at, vel);
        let at_rest = v3(0.0, 0.0, 93.0);
        let mut first = first_frame(); // the car at (0, −1024, 17)
        first.new_actors.extend([spawn(BALL, 13), spawn(GAME, 14)]);
        first
            .updated_actors
            .extend([state(0), ball(at_rest, v3(0.0, 0.0, 0.0))]);
        let mut frames = vec![first];
        frames.extend((0..89).map(|_| frame(Vec::new()))); // 3 s of countdown
        frames.push(frame(vec![state(1)])); // GO at frame 90
        frames.extend((0..59).map(|_| frame(Vec::new()))); // 2 s to reach the ball
        frames.push(frame(vec![
            body(CAR, v3(0.0, -150.0, 17.0), v3(0.0, 1400.0, 0.0)),
            ball(at_rest, v3(0.0, 1200.0, 0.0)),
        ])); // touch at frame 150
        frames.push(frame(vec![upd(GAME, 16, Attribute::Boolean(true))]));
        frames.extend((0..29).map(|_| frame(Vec::new()))); // 1 s of play
        let objects = [
            "Archetypes.Ball.Ball_Default",
            "Archetypes.GameEvent.GameEvent_Soccar",
            "TAGame.GameEvent_TA:ReplicatedStateName",
            "TAGame.GameEvent_Soccar_TA:bBallHasBeenHit",
        ];
        let tracker = run(&objects, &["Countdown", "Active"], &frames);

        assert_eq!(tracker.kickoffs.len(), 1);
        let k = &tracker.kickoffs[0];
        assert_eq!(k.frame, 90);
        assert_eq!(k.players.len(), 1);
        assert_eq!(
            k.players[0].1,
            Vec3::new(0.0, -1024.0, 17.0),
            "spawn position at GO"
        );
        let (who, after) = k.first_touch.expect("the kickoff touch");
        assert_eq!(who, 0);
        assert!((after - 2.0).abs() < 1e-3, "first touch {after} s after GO");
        let [countdown, waiting, live, post] = tracker.phase_time;
        assert!((countdown - 3.0).abs() < 1e-3, "countdown {countdown}");
        assert!((waiting - 61.0 / 30.0).abs() < 1e-3, "waiting {waiting}");
        assert!((live - 29.0 / 30.0).abs() < 1e-3, "live {live}");
        assert_eq!(post, 0.0);
    }
}
