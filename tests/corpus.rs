//! Every replay in the shared corpus: the scoreboard equals the header's own player stats, the
//! report's invariants hold, and a condensed golden summary (checked by eye) does not drift.

mod common;

use boxcars::HeaderProp;
use rlcoach::Report;

/// Header PlayerStats read straight from boxcars, independent of the analyzer's header code.
fn header_scoreboard(bytes: &[u8]) -> Vec<(String, [i32; 5])> {
    let replay = boxcars::ParserBuilder::new(bytes)
        .never_parse_network_data()
        .parse()
        .unwrap();
    let stats = replay
        .properties
        .iter()
        .find(|(k, _)| k == "PlayerStats")
        .map(|(_, v)| v.clone());
    let Some(HeaderProp::Array(rows)) = stats else {
        return Vec::new();
    };
    rows.iter()
        .map(|row| {
            let get = |k: &str| {
                row.iter()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| v.as_i32())
                    .unwrap_or(0)
            };
            let name = row
                .iter()
                .find(|(n, _)| n == "Name")
                .and_then(|(_, v)| v.as_string())
                .unwrap_or("")
                .to_string();
            (
                name,
                [
                    get("Score"),
                    get("Goals"),
                    get("Assists"),
                    get("Saves"),
                    get("Shots"),
                ],
            )
        })
        .collect()
}

fn assert_finite(v: &serde_json::Value, path: &str) {
    match v {
        serde_json::Value::Number(n) => {
            let f = n.as_f64().unwrap();
            assert!(f.is_finite(), "{path} is not finite");
        }
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| assert_finite(x, &format!("{path}[{i}]"))),
        serde_json::Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| assert_finite(x, &format!("{path}.{k}"))),
        _ => {}
    }
}

fn check_invariants(name: &str, r: &Report) {
    assert!(r.quality.network_parsed, "{name}: network data parsed");
    assert!(r.quality.mode_supported, "{name}: soccar");
    let json = serde_json::to_value(r).unwrap();
    assert_finite(&json, name);
    let d = r.metadata.duration_seconds;
    assert!(d > 60.0 && d < 3600.0, "{name}: duration {d}");
    for p in r.players.iter().filter(|p| p.time_played > 0.0) {
        let t = p.time_played;
        let m = p.movement.as_ref().unwrap();
        let pos = p.positioning.as_ref().unwrap();
        let b = p.boost.as_ref().unwrap();
        let close = |label: &str, sum: f64| {
            assert!(
                (sum - t).abs() < 0.05,
                "{name} {}: {label} sums to {sum}, counted time {t}",
                p.name
            );
        };
        close(
            "speed bands",
            m.time_slow_speed + m.time_boost_speed + m.time_supersonic_speed,
        );
        close(
            "height bands",
            m.time_ground + m.time_low_air + m.time_high_air,
        );
        close(
            "thirds",
            pos.time_defensive_third + pos.time_neutral_third + pos.time_offensive_third,
        );
        close("halves", pos.time_defensive_half + pos.time_offensive_half);
        close("behind+front", pos.time_behind_ball + pos.time_infront_ball);
        close(
            "boost bands",
            b.time_boost_0_25 + b.time_boost_25_50 + b.time_boost_50_75 + b.time_boost_75_100,
        );
        // A player cannot be on the field longer than the match; demos take ~3 s each.
        assert!(
            t <= d + 0.01,
            "{name} {}: played {t} > duration {d}",
            p.name
        );
        assert!(
            t >= d - 4.0 * f64::from(p.core.demos_taken) - 30.0,
            "{name} {}: played only {t} of {d}",
            p.name
        );
        assert!(
            (b.amount_collected - b.amount_collected_big - b.amount_collected_small).abs() < 0.01
        );
        assert!(b.amount_stolen <= b.amount_collected + 0.01);
        assert!(
            b.count_stolen_big <= b.count_collected_big
                && b.count_stolen_small <= b.count_collected_small
        );
        assert!((0.0..=100.0).contains(&b.avg_amount));
        assert!(
            m.avg_speed <= m.max_speed + 1.0 && m.max_speed < 6000.0,
            "{name}: speeds in uu/s"
        );
        let heat: f32 = p.heatmap.as_ref().unwrap().cells.iter().sum();
        assert!((heat - 1.0).abs() < 1e-3);
    }
    for (team, tr) in r.teams.iter().enumerate() {
        let members: Vec<_> = r
            .players
            .iter()
            .filter(|p| usize::from(p.team) == team)
            .collect();
        let sum = |f: &dyn Fn(&rlcoach::report::PlayerReport) -> f64| {
            members.iter().map(|p| f(p)).sum::<f64>()
        };
        assert_eq!(f64::from(tr.core.score), sum(&|p| f64::from(p.core.score)));
        assert_eq!(
            tr.core.goals, r.metadata.score[team],
            "{name}: team goals = final score"
        );
        let tb = tr.boost.as_ref().unwrap();
        assert!(
            (tb.amount_collected - sum(&|p| p.boost.as_ref().unwrap().amount_collected)).abs()
                < 1e-6
        );
        assert!(
            (tb.avg_amount - sum(&|p| p.boost.as_ref().unwrap().avg_amount)).abs() < 1e-6,
            "team avg boost is the sum"
        );
    }
    check_orientation(name, r);
    let goals = r
        .timeline
        .iter()
        .filter(|e| e.kind == rlcoach::report::EventKind::Goal)
        .count() as u32;
    assert_eq!(
        goals,
        r.metadata.score[0] + r.metadata.score[1],
        "{name}: one GOAL event per goal"
    );
    assert!(
        r.timeline.windows(2).all(|w| w[0].frame <= w[1].frame),
        "{name}: timeline ordered"
    );
    let n = r.series.t.len();
    assert!(n > 100 && r.series.boost.iter().all(|s| s.len() == n) && r.series.score.len() == n);
    assert!(
        !r.kickoffs.is_empty() && r.kickoffs.len() as u32 <= goals + 2,
        "{name}: one kickoff per goal + 1"
    );
}

/// Field orientation, position scale and team assignment (which older network versions encode
/// differently): each team's shots are taken mostly from the opponent's half (blue attacks +y),
/// and its players spend more time goal-side of the ball than in front of it. A flipped field, a
/// team swapped or positions off by a factor of 100 break one of these on any real match.
fn check_orientation(name: &str, r: &Report) {
    for team in 0..2u8 {
        let toward = if team == 0 { 1.0 } else { -1.0 };
        let (attacking, defending) = r
            .timeline
            .iter()
            .filter(|e| e.kind == rlcoach::report::EventKind::Shot && e.team == Some(team))
            .filter_map(|e| e.data["ball_location"][1].as_f64())
            .fold((0, 0), |(a, d), y| {
                if y * toward > 0.0 {
                    (a + 1, d)
                } else {
                    (a, d + 1)
                }
            });
        assert!(
            attacking >= defending,
            "{name}: team {team} shot {attacking} times from the opponent's half, {defending} from its own"
        );
        let (behind, front) = r
            .players
            .iter()
            .filter(|p| p.team == team)
            .filter_map(|p| p.positioning.as_ref())
            .fold((0.0, 0.0), |(b, f), pos| {
                (b + pos.time_behind_ball, f + pos.time_infront_ball)
            });
        assert!(
            behind > front,
            "{name}: team {team} behind the ball {behind:.0} s, in front {front:.0} s"
        );
        for p in r.players.iter().filter(|p| p.team == team) {
            let Some(pos) = p.positioning.as_ref() else {
                continue;
            };
            let halves = pos.time_defensive_half + pos.time_offensive_half;
            assert!(
                (halves - p.time_played).abs() < 0.05,
                "{name} {}: halves {halves} vs counted time {}",
                p.name,
                p.time_played
            );
        }
    }
}

/// Condensed, rounded view of a report for golden snapshots.
fn summary(r: &Report) -> serde_json::Value {
    let round = |v: f64| (v * 10.0).round() / 10.0;
    serde_json::json!({
        "map": r.metadata.map, "playlist": r.metadata.playlist, "score": r.metadata.score,
        "duration": round(r.metadata.duration_seconds), "overtime": r.metadata.overtime,
        "kickoffs": r.kickoffs.iter().map(|k| k.outcome).collect::<Vec<_>>(),
        "players": r.players.iter().map(|p| {
            let b = p.boost.as_ref().unwrap();
            let m = p.movement.as_ref().unwrap();
            let pos = p.positioning.as_ref().unwrap();
            let mech = p.mechanics.as_ref().unwrap();
            serde_json::json!({
                "name": p.name, "team": p.team, "id": p.id.to_string(), "core": p.core,
                "played": round(p.time_played),
                "boost": [round(b.amount_collected), b.count_collected_big, b.count_collected_small, round(b.avg_amount)],
                "speed": [round(m.avg_speed), round(m.time_supersonic_speed), round(m.time_high_air)],
                "thirds": [round(pos.time_defensive_third), round(pos.time_neutral_third), round(pos.time_offensive_third)],
                "touches": p.touches.as_ref().unwrap().count,
                "mechanics": [mech.jumps, mech.flips, mech.aerials, mech.dribbles],
            })
        }).collect::<Vec<_>>(),
    })
}

#[test]
fn corpus_scoreboard_invariants_and_goldens() {
    let Some(mut files) = common::corpus() else {
        return;
    };
    assert!(files.len() >= 8, "expected the 8 shared replays");
    // The replays kept beside their ground truth (the 3v3 file) have checked goldens too.
    let truth_dir = common::shared_dir().join("groundtruth");
    files.extend(rlcoach::analysis::replay_files(&truth_dir).unwrap_or_default());
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).unwrap();
        let r = rlcoach::analyze(&bytes, &rlcoach::Limits::default()).unwrap();
        for (hname, [score, goals, assists, saves, shots]) in header_scoreboard(&bytes) {
            let p = r
                .players
                .iter()
                .find(|p| p.name == hname)
                .unwrap_or_else(|| panic!("{name}: {hname} missing"));
            let c = &p.core;
            assert_eq!(
                [c.score, c.goals, c.assists, c.saves, c.shots].map(|v| v as i32),
                [score, goals, assists, saves, shots],
                "{name}: {hname} scoreboard"
            );
        }
        check_invariants(&name, &r);
        insta::assert_json_snapshot!(format!("summary-{name}"), summary(&r));
    }
}

/// The report of the replay kept in the repo (`tests/fixtures`).
fn fixture_report() -> Report {
    rlcoach::analyze(
        &common::fixture("small-doubles.replay"),
        &rlcoach::Limits::default(),
    )
    .unwrap()
}

#[test]
fn in_repo_fixture_analyzes_without_the_corpus() {
    let r = fixture_report();
    check_invariants("small-doubles", &r);
    assert_eq!(r.players.len(), 4);
    assert_eq!(r.metadata.team_size, 2);
    assert_eq!(r.metadata.replay_id.len(), 64);
}

/// The streaming decoder (our patch to boxcars, vendor/boxcars/PATCH.md) hands out exactly the
/// frames boxcars' own `parse` collects, and stops when asked.
#[test]
fn streamed_frames_equal_boxcars_collected_frames() {
    let mut inputs = vec![(
        "small-doubles".to_string(),
        common::fixture("small-doubles.replay"),
    )];
    for path in common::corpus().unwrap_or_default() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        inputs.push((name, std::fs::read(&path).unwrap()));
    }
    for (name, bytes) in inputs {
        let collected = boxcars::ParserBuilder::new(&bytes)
            .must_parse_network_data()
            .parse()
            .unwrap()
            .network_frames
            .unwrap()
            .frames;
        let mut streamed = Vec::with_capacity(collected.len());
        boxcars::ParserBuilder::new(&bytes)
            .for_each_frame(|f| {
                streamed.push(f.clone());
                true
            })
            .unwrap();
        assert!(collected.len() > 1000, "{name}: {} frames", collected.len());
        assert_eq!(streamed.len(), collected.len(), "{name}: frame count");
        if let Some(i) = (0..collected.len()).find(|&i| streamed[i] != collected[i]) {
            panic!("{name}: frame {i} differs");
        }
        let mut seen = 0;
        boxcars::ParserBuilder::new(&bytes)
            .for_each_frame(|_| {
                seen += 1;
                seen < 100
            })
            .unwrap();
        assert_eq!(seen, 100, "{name}: stops when the visitor says so");
    }
}

/// A replay from an arena with another field (here the fixture's header renamed to a Hoops map,
/// same length so the layout holds, header CRC re-sealed): pad and field-position stats are left
/// out and flagged rather than measured against the Soccar field; the rest is reported.
#[test]
fn other_arenas_flag_and_omit_field_stats() {
    let mut bytes = common::fixture("small-doubles.replay");
    let header = common::sections(&bytes).0;
    let at = header.start
        + bytes[header]
            .windows(15)
            .position(|w| w == b"Wasteland_GRS_P")
            .expect("the map name is in the header");
    bytes[at..at + 15].copy_from_slice(b"HoopsStreet_GRS");
    common::reseal(&mut bytes);

    let r = rlcoach::analyze(&bytes, &rlcoach::Limits::default()).unwrap();
    assert_eq!(r.metadata.map.as_deref(), Some("HoopsStreet_GRS"));
    assert!(r.quality.network_parsed);
    assert!(!r.quality.mode_supported);
    assert!(
        r.quality
            .warnings
            .iter()
            .any(|w| w.contains("non-standard")),
        "{:?}",
        r.quality.warnings
    );
    for p in &r.players {
        assert!(p.boost.is_none() && p.positioning.is_none() && p.heatmap.is_none());
        assert!(
            p.movement.is_some(),
            "movement does not depend on the field"
        );
    }
    assert_finite(&serde_json::to_value(&r).unwrap(), "hoops-renamed");
    assert_eq!(r.players.len(), 4);
}

/// Reports stored before `+a5` had no `bcpm` and held collected-per-minute in `bpm`: they still
/// load, and `upgrade_stored` moves the value where today's code reads it; newer ones are left.
#[test]
fn reports_from_before_bcpm_load_and_upgrade() {
    let fresh = fixture_report();
    let mut old = serde_json::to_value(&fresh).unwrap();
    old["analyzer_version"] = "rlcoach-0.1.0+a4".into();
    for p in old["players"].as_array_mut().unwrap() {
        p["boost"].as_object_mut().unwrap().remove("bcpm");
    }
    let mut old: Report = serde_json::from_value(old).unwrap();
    assert!(
        old.players
            .iter()
            .all(|p| p.boost.as_ref().unwrap().bcpm == 0.0)
    );
    old.upgrade_stored();
    for p in &old.players {
        let b = p.boost.as_ref().unwrap();
        assert!(b.bpm > 0.0);
        assert_eq!(b.bcpm, b.bpm, "{}", p.name);
    }

    let mut current = fresh.clone();
    current.upgrade_stored();
    assert_eq!(current, fresh);
    for p in &fresh.players {
        let b = p.boost.as_ref().unwrap();
        assert!(
            b.bcpm > 0.0 && b.bcpm != b.bpm,
            "{}: {} {}",
            p.name,
            b.bcpm,
            b.bpm
        );
    }
}
