//! Attribute updates decoded into slot state, and what other parts must hear of as a [`Signal`]
//! (component activations, boost amounts, PRI counters, pickups, demolitions, game state).

use boxcars::{ActorId, Attribute, ObjectId};

use super::players::player_id;
use super::{ActorTable, Slot, scale, slot_index};
use crate::analysis::field::{self, Vec3};
use crate::analysis::objects::ActorKind;

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
        /// The replay showed the pad back (or never taken) before this pickup; false when its
        /// state went from one pickup straight to the next.
        respawn_seen: bool,
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

impl ActorTable<'_> {
    /// Applies one attribute update to the actor's slot; what other parts must hear of comes
    /// back as a [`Signal`].
    pub fn update<'u>(&mut self, id: ActorId, object: ObjectId, attr: &'u Attribute) -> Signal<'u> {
        let a = &self.objects.attrs;
        let o = Some(object);
        let legacy = self.legacy_scale;
        // Demolitions arrive on a car that may already be deleted in this frame: read them by
        // attribute, whatever the slot holds now.
        let demolition = match attr {
            Attribute::DemolishExtended(d) if o == a.demolish_extended => Some((
                d.attacker.active.then_some(d.attacker.actor),
                d.victim.actor,
            )),
            Attribute::Demolish(d) if o == a.demolish || o == a.demolish_goal_explosion => {
                Some((d.attacker_flag.then_some(d.attacker), d.victim))
            }
            Attribute::DemolishFx(d) if o == a.demolish_fx => {
                Some((d.attacker_flag.then_some(d.attacker), d.victim))
            }
            _ => None,
        };
        if let Some((attacker, victim)) = demolition {
            if let Some(i) = slot_index(id) {
                if self.demolitions.len() <= i {
                    self.demolitions.resize(i + 1, None);
                }
                if self.demolitions[i] == Some((attacker, victim)) {
                    return Signal::None;
                }
                self.demolitions[i] = Some((attacker, victim));
            }
            return Signal::Demolish { attacker, victim };
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
                        respawn_seen: last == u8::MAX,
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
                    // The flag only rises again after the pad came back.
                    return Signal::Pickup {
                        pad_object: obj,
                        instigator: pk.instigator,
                        respawn_seen: true,
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
}
