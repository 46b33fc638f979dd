//! Synthetic frames through the tracker: each test builds the few actors and updates it needs.

use super::*;
use crate::analysis::field::Vec3;
use boxcars::{
    ActiveActor, Attribute, NewActor, ObjectId, PickupNew, Quaternion, RemoteId, ReplicatedBoost,
    RigidBody, StreamId, Trajectory, UniqueId, UpdatedAttribute, Vector3f,
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
    t.events
        .pickups
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
        .events
        .pickups
        .iter()
        .filter_map(|p| p.replicated_after.map(|a| a.1))
        .collect();
    assert!(serials.windows(2).all(|w| w[0] < w[1]), "{serials:?}");
}

/// The server can send a car's amount in the frame of a pickup before the pad's grant reached
/// it (the amount fell or held: the car was boosting) and the grant in its next update, one
/// frame later (seen on the 3v3 and 2v2 ground truth: 76 → 65 with the pad, 95 the next frame).
/// That next-frame update is the pickup's amount and the pickup counts. An amount of the
/// pickup's frame that did not rise stands when nothing follows in the next frame: a pad taken
/// while boosting, whose grant the drain hid, is not counted (ballchasing's rule), even when a
/// later update rises for another reason.
#[test]
fn a_pickup_whose_frame_update_did_not_rise_takes_the_next_frames_amount() {
    let mut frames = vec![first_frame()];
    frames.push(frame(vec![boost(90), pickup(1)])); // drained, grant not in yet
    frames.push(frame(vec![boost(121)])); // the grant, one frame later
    frames.extend((0..4).map(|_| frame(Vec::new())));
    frames.push(frame(vec![boost(110), pickup(3)])); // boosting through the pad
    frames.push(frame(Vec::new()));
    frames.push(frame(vec![boost(141)])); // a later rise is not this pickup's
    let tracker = run(&[], &[], &frames);

    assert_eq!(
        paired(&tracker),
        [(100.0, Some(121.0)), (121.0, Some(110.0))]
    );
    let totals = crate::analysis::events::pickup_totals(&tracker.events.pickups, 1);
    assert_eq!(
        totals[0].count,
        [0, 1],
        "the first pickup counts, the second not"
    );
    assert!(
        (totals[0].collected[1] - 21.0).abs() < 1e-3,
        "it rose 100 → 121"
    );
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
    let before_finish = tracker.totals.phase_time.iter().sum::<f64>();
    tracker.finish();
    tracker.finish();
    let total: f64 = deltas.iter().map(|&d| f64::from(d)).sum();
    assert_eq!(tracker.totals.phase_time.iter().sum::<f64>(), total);
    assert_eq!(before_finish, total, "the last frame lasts no time");
    assert_eq!(tracker.totals.accs[0].time, total);
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
        let v = tracker.cars[0].expect("the car is tracked");
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
/// within 3 s. The replay also re-sends live actors with their attributes now and then: the
/// same demolition again, seconds later, is not a new one. A demo of the victim's next car
/// (here under the same, reused actor id) counts again; one without an attacker (clean-up)
/// does not count.
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
    // The replay re-sends the car (no delete) with its attributes: not a new demolition.
    let mut resent = frame(vec![demo(Some(CAR))]);
    resent.new_actors = vec![spawn(CAR2, 0)];
    frames.push(resent);
    frames.extend((0..90).map(|_| frame(Vec::new())));
    // The victim's next car, under the reused id, is demolished by the same attacker.
    let mut respawned = frame(vec![upd(CAR2, 8, Attribute::ActiveActor(link(PRI2)))]);
    respawned.deleted_actors = vec![ActorId(CAR2)];
    respawned.new_actors = vec![spawn(CAR2, 0)];
    frames.push(respawned);
    frames.push(frame(vec![demo(Some(CAR))]));
    frames.push(frame(vec![demo(None)]));
    let tracker = run(&["TAGame.Car_TA:ReplicatedDemolish"], &[], &frames);
    let by_name = |n: &str| tracker.players.iter().find(|p| p.name == n).unwrap();
    assert_eq!(by_name("p").demos_inflicted, 2);
    assert_eq!(by_name("q").demos_taken, 2);
    assert_eq!(tracker.events.demos.len(), 2);
}

/// The replay re-sends its live actors now and then (a new-actor entry for an id that was never
/// deleted), and a car's link to its player may come later in that frame or not at all. The car
/// is the same: it keeps its driver and its boost component, and a pad it takes in that frame
/// is its player's (seen on the 1v1 ground truth: a small pad taken in such a frame was lost).
#[test]
fn a_resent_car_keeps_its_driver_and_its_pickups() {
    let mut frames = vec![first_frame()];
    frames.extend((0..3).map(|_| frame(Vec::new())));
    let mut resent = frame(vec![boost(131), pickup(1)]);
    resent.new_actors = vec![spawn(CAR, 0), spawn(COMP, 1), spawn(PRI, 2)];
    frames.push(resent);
    frames.push(frame(vec![upd(CAR, 8, Attribute::ActiveActor(link(PRI)))])); // link re-sent late
    frames.push(frame(vec![boost(90)])); // the component kept its level: a fall of 41
    let tracker = run(&[], &[], &frames);
    assert_eq!(paired(&tracker), [(100.0, Some(131.0))]);
    assert_eq!(tracker.events.pickups[0].player, 0);
    let totals = crate::analysis::events::pickup_totals(&tracker.events.pickups, 1);
    assert_eq!(totals[0].count, [0, 1]);
    assert!((tracker.players[0].boost_used_raw - 41.0).abs() < 1e-3);
}

/// A pickup knows whether the replay showed its pad back since the pad's last pickup: the pad's
/// state went to "available" (255) in between, or straight from one pickup to the next.
#[test]
fn pickups_know_whether_the_replay_showed_the_pad_back() {
    let available = || {
        upd(
            PAD,
            11,
            Attribute::PickupNew(PickupNew {
                instigator: None,
                picked_up: u8::MAX,
            }),
        )
    };
    let mut frames = vec![first_frame()];
    frames.push(frame(vec![pickup(1), boost(131)])); // the pad's first pickup
    frames.push(frame(vec![pickup(1)])); // re-sent: not a pickup
    frames.push(frame(vec![available()]));
    frames.push(frame(vec![pickup(3), boost(161)])); // after the pad came back
    frames.push(frame(vec![pickup(5), boost(192)])); // straight from the last pickup
    let tracker = run(&[], &[], &frames);
    let seen: Vec<bool> = tracker
        .events
        .pickups
        .iter()
        .map(|p| p.respawn_seen)
        .collect();
    assert_eq!(seen, [true, true, false]);
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
        .events
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

    assert_eq!(tracker.events.kickoffs.len(), 1);
    let k = &tracker.events.kickoffs[0];
    assert_eq!(k.frame, 90);
    assert_eq!(k.players.len(), 1);
    assert_eq!(
        k.players[0].spawn,
        Vec3::new(0.0, -1024.0, 17.0),
        "spawn position at GO"
    );
    let first = k.first_touch.expect("the kickoff touch");
    let (who, after) = (first.player, first.after_s);
    assert_eq!(who, 0);
    assert!((after - 2.0).abs() < 1e-3, "first touch {after} s after GO");
    let [countdown, waiting, live, post] = tracker.totals.phase_time;
    assert!((countdown - 3.0).abs() < 1e-3, "countdown {countdown}");
    assert!((waiting - 61.0 / 30.0).abs() < 1e-3, "waiting {waiting}");
    assert!((live - 29.0 / 30.0).abs() < 1e-3, "live {live}");
    assert_eq!(post, 0.0);
}

/// A frame spawning 1,000 PRIs of distinct identities (as a forged stream can) adds players only
/// up to one over the tracker's cap, the one that tells the frame pass to refuse the replay, and
/// none in later frames.
#[test]
fn a_frame_of_forged_pris_adds_players_only_up_to_one_over_the_cap() {
    let mut t = tracker(&[], &[], Some(10));
    t.max_players = 5;
    let pris = 100..1100;
    let mut f = frame(Vec::new());
    f.new_actors = pris.clone().map(|pri| spawn(pri, 2)).collect();
    for pri in pris {
        f.updated_actors
            .extend(player(pri, CAR, 1000 + pri as u64, "forged"));
    }
    t.process(0, &f);
    assert_eq!(t.players.len(), 6);
    assert_eq!(t.totals.accs.len(), 6);
    let mut again = frame(vec![player(2000, CAR, 5000, "another")[0].clone()]);
    again.new_actors = vec![spawn(2000, 2)];
    t.process(1, &again);
    assert_eq!(t.players.len(), 6);
}
