//! Resolves the replay's object table once, so the per-frame loop compares integers instead of
//! strings: which object ids are the attributes we read, and what kind of actor each archetype spawns.

use boxcars::ObjectId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    Ball,
    Car,
    BoostComponent,
    JumpComponent,
    DoubleJumpComponent,
    DodgeComponent,
    Pri,
    Team(u8),
    GameEvent,
    BoostPad,
    Other,
}

/// Attribute object ids (None when the replay never mentions the attribute).
#[derive(Debug, Default, Clone)]
pub struct AttrIds {
    pub rigid_body: Option<ObjectId>,
    pub replicated_boost: Option<ObjectId>,
    pub replicated_boost_amount: Option<ObjectId>,
    pub component_active: Option<ObjectId>,
    pub component_vehicle: Option<ObjectId>,
    pub pawn_pri: Option<ObjectId>,
    pub pri_name: Option<ObjectId>,
    pub pri_unique_id: Option<ObjectId>,
    pub pri_team: Option<ObjectId>,
    pub pri_bot: Option<ObjectId>,
    pub pri_goals: Option<ObjectId>,
    pub pri_assists: Option<ObjectId>,
    pub pri_saves: Option<ObjectId>,
    pub pri_shots: Option<ObjectId>,
    pub pri_score: Option<ObjectId>,
    pub pri_demolishes: Option<ObjectId>,
    pub pri_loadouts: Option<ObjectId>,
    pub pickup: Option<ObjectId>,
    pub pickup_new: Option<ObjectId>,
    pub state_name: Option<ObjectId>,
    pub countdown: Option<ObjectId>,
    pub ball_has_been_hit: Option<ObjectId>,
    pub overtime: Option<ObjectId>,
    pub playlist: Option<ObjectId>,
    pub demolish: Option<ObjectId>,
    pub demolish_goal_explosion: Option<ObjectId>,
    pub demolish_extended: Option<ObjectId>,
    pub demolish_fx: Option<ObjectId>,
    pub handbrake: Option<ObjectId>,
    pub hit_team_num: Option<ObjectId>,
    pub dodges_refreshed: Option<ObjectId>,
    pub match_guid: Option<ObjectId>,
}

pub struct ObjectTable {
    /// Indexed by object id: the actor kind an object spawns as.
    pub kinds: Vec<ActorKind>,
    pub attrs: AttrIds,
    /// Per object id, true for a boost pad object (`VehiclePickup_Boost_TA_N`).
    pub ball_archetype: Option<String>,
}

fn classify(name: &str) -> ActorKind {
    if let Some(rest) = name.strip_prefix("Archetypes.") {
        if rest.starts_with("Ball.") {
            return ActorKind::Ball;
        }
        if rest.starts_with("Car.") {
            return ActorKind::Car;
        }
        if let Some(comp) = rest.strip_prefix("CarComponents.CarComponent_") {
            return match comp {
                "Boost" => ActorKind::BoostComponent,
                "Jump" => ActorKind::JumpComponent,
                "DoubleJump" => ActorKind::DoubleJumpComponent,
                "Dodge" => ActorKind::DodgeComponent,
                _ => ActorKind::Other,
            };
        }
        if rest == "Teams.Team0" {
            return ActorKind::Team(0);
        }
        if rest == "Teams.Team1" {
            return ActorKind::Team(1);
        }
        if rest.starts_with("GameEvent.") {
            return ActorKind::GameEvent;
        }
        return ActorKind::Other;
    }
    if name == "TAGame.Default__PRI_TA" {
        return ActorKind::Pri;
    }
    if name.contains("VehiclePickup_Boost_TA") {
        return ActorKind::BoostPad;
    }
    // Mutator car archetypes (e.g. Mutators.Mutators.Mutators.CarArchetype...) and ball variants.
    if name.starts_with("Mutators.") && name.contains("Ball") {
        return ActorKind::Ball;
    }
    ActorKind::Other
}

impl ObjectTable {
    pub fn new(objects: &[String]) -> Self {
        let mut attrs = AttrIds::default();
        let mut kinds = Vec::with_capacity(objects.len());
        let mut ball_archetype = None;
        for (i, name) in objects.iter().enumerate() {
            let kind = classify(name);
            if kind == ActorKind::Ball
                && ball_archetype.is_none()
                && name.starts_with("Archetypes.")
            {
                ball_archetype = Some(name.clone());
            }
            kinds.push(kind);
            let id = Some(ObjectId(i32::try_from(i).unwrap_or(i32::MAX)));
            let slot = match name.as_str() {
                "TAGame.RBActor_TA:ReplicatedRBState" => &mut attrs.rigid_body,
                "TAGame.CarComponent_Boost_TA:ReplicatedBoost" => &mut attrs.replicated_boost,
                "TAGame.CarComponent_Boost_TA:ReplicatedBoostAmount" => {
                    &mut attrs.replicated_boost_amount
                }
                "TAGame.CarComponent_TA:ReplicatedActive" => &mut attrs.component_active,
                "TAGame.CarComponent_TA:Vehicle" => &mut attrs.component_vehicle,
                "Engine.Pawn:PlayerReplicationInfo" => &mut attrs.pawn_pri,
                "Engine.PlayerReplicationInfo:PlayerName" => &mut attrs.pri_name,
                "Engine.PlayerReplicationInfo:UniqueId" => &mut attrs.pri_unique_id,
                "Engine.PlayerReplicationInfo:Team" => &mut attrs.pri_team,
                "Engine.PlayerReplicationInfo:bBot" => &mut attrs.pri_bot,
                "TAGame.PRI_TA:MatchGoals" => &mut attrs.pri_goals,
                "TAGame.PRI_TA:MatchAssists" => &mut attrs.pri_assists,
                "TAGame.PRI_TA:MatchSaves" => &mut attrs.pri_saves,
                "TAGame.PRI_TA:MatchShots" => &mut attrs.pri_shots,
                "TAGame.PRI_TA:MatchScore" => &mut attrs.pri_score,
                "TAGame.PRI_TA:MatchDemolishes" => &mut attrs.pri_demolishes,
                "TAGame.PRI_TA:ClientLoadouts" => &mut attrs.pri_loadouts,
                "TAGame.VehiclePickup_TA:ReplicatedPickupData" => &mut attrs.pickup,
                "TAGame.VehiclePickup_TA:NewReplicatedPickupData" => &mut attrs.pickup_new,
                "TAGame.GameEvent_TA:ReplicatedStateName" => &mut attrs.state_name,
                "TAGame.GameEvent_TA:ReplicatedRoundCountDownNumber" => &mut attrs.countdown,
                "TAGame.GameEvent_Soccar_TA:bBallHasBeenHit" => &mut attrs.ball_has_been_hit,
                "TAGame.GameEvent_Soccar_TA:bOverTime" => &mut attrs.overtime,
                "ProjectX.GRI_X:ReplicatedGamePlaylist" => &mut attrs.playlist,
                "TAGame.Car_TA:ReplicatedDemolish" => &mut attrs.demolish,
                "TAGame.Car_TA:ReplicatedDemolishGoalExplosion" => {
                    &mut attrs.demolish_goal_explosion
                }
                "TAGame.Car_TA:ReplicatedDemolishExtended" => &mut attrs.demolish_extended,
                "TAGame.Car_TA:ReplicatedDemolish_CustomFX" => &mut attrs.demolish_fx,
                "TAGame.Vehicle_TA:bReplicatedHandbrake" => &mut attrs.handbrake,
                "TAGame.Ball_TA:HitTeamNum" => &mut attrs.hit_team_num,
                "TAGame.Car_TA:DodgesRefreshedCounter" => &mut attrs.dodges_refreshed,
                "ProjectX.GRI_X:MatchGUID" => &mut attrs.match_guid,
                _ => continue,
            };
            *slot = id;
        }
        ObjectTable {
            kinds,
            attrs,
            ball_archetype,
        }
    }

    pub fn kind(&self, object: ObjectId) -> ActorKind {
        usize::try_from(object.0)
            .ok()
            .and_then(|i| self.kinds.get(i).copied())
            .unwrap_or(ActorKind::Other)
    }
}
