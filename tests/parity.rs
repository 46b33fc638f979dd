//! Parity with ballchasing.com on the four replays with ground truth (`../shared/groundtruth`).
//! Same rules as `../shared/tools/parity.py`: scoreboard and counts exact, other values within 5 %
//! (at least 1 for times, percentages and bpm, 2 otherwise). Prints agreement per stat group.

mod common;

use std::collections::BTreeMap;

type Row = BTreeMap<String, String>;

const SCOREBOARD: [&str; 7] = [
    "score",
    "goals",
    "assists",
    "saves",
    "shots",
    "demos inflicted",
    "demos taken",
];
const SKIP: [&str; 8] = [
    "color",
    "team name",
    "player name",
    "platform",
    "player id",
    "car id",
    "car name",
    "game duration",
];

/// ballchasing JSON (group, key) → CSV column, as in parity.py.
const JSON_TO_CSV: &[(&str, &str, &str)] = &[
    ("core", "score", "score"),
    ("core", "goals", "goals"),
    ("core", "assists", "assists"),
    ("core", "saves", "saves"),
    ("core", "shots", "shots"),
    ("core", "shots_against", "shots conceded"),
    ("core", "goals_against", "goals conceded"),
    ("core", "shooting_percentage", "shooting percentage"),
    ("boost", "bpm", "bpm"),
    ("boost", "avg_amount", "avg boost amount"),
    ("boost", "amount_collected", "amount collected"),
    ("boost", "amount_collected_big", "amount collected big pads"),
    (
        "boost",
        "amount_collected_small",
        "amount collected small pads",
    ),
    ("boost", "count_collected_big", "count collected big pads"),
    (
        "boost",
        "count_collected_small",
        "count collected small pads",
    ),
    ("boost", "amount_stolen", "amount stolen"),
    ("boost", "amount_stolen_big", "amount stolen big pads"),
    ("boost", "amount_stolen_small", "amount stolen small pads"),
    ("boost", "count_stolen_big", "count stolen big pads"),
    ("boost", "count_stolen_small", "count stolen small pads"),
    ("boost", "time_zero_boost", "0 boost time"),
    ("boost", "time_full_boost", "100 boost time"),
    (
        "boost",
        "amount_used_while_supersonic",
        "amount used while supersonic",
    ),
    ("boost", "amount_overfill", "amount overfill total"),
    ("boost", "amount_overfill_stolen", "amount overfill stolen"),
    ("movement", "avg_speed", "avg speed"),
    ("movement", "total_distance", "total distance"),
    ("movement", "time_slow_speed", "time slow speed"),
    ("movement", "percent_slow_speed", "percentage slow speed"),
    ("movement", "time_boost_speed", "time boost speed"),
    ("movement", "percent_boost_speed", "percentage boost speed"),
    ("movement", "time_supersonic_speed", "time supersonic speed"),
    (
        "movement",
        "percent_supersonic_speed",
        "percentage supersonic speed",
    ),
    ("movement", "time_ground", "time on ground"),
    ("movement", "percent_ground", "percentage on ground"),
    ("movement", "time_low_air", "time low in air"),
    ("movement", "percent_low_air", "percentage low in air"),
    ("movement", "time_high_air", "time high in air"),
    ("movement", "percent_high_air", "percentage high in air"),
    ("movement", "time_powerslide", "time powerslide"),
    ("movement", "avg_powerslide_duration", "avg powerslide time"),
    ("movement", "count_powerslide", "count powerslide"),
    ("positioning", "time_most_back", "time most back"),
    ("positioning", "time_most_forward", "time most forward"),
    (
        "positioning",
        "avg_distance_to_ball",
        "avg distance to ball",
    ),
    (
        "positioning",
        "avg_distance_to_ball_possession",
        "avg distance to ball has possession",
    ),
    (
        "positioning",
        "avg_distance_to_ball_no_possession",
        "avg distance to ball no possession",
    ),
    (
        "positioning",
        "avg_distance_to_mates",
        "avg distance to team mates",
    ),
    ("positioning", "time_behind_ball", "time behind ball"),
    (
        "positioning",
        "percent_behind_ball",
        "percentage behind ball",
    ),
    ("positioning", "time_infront_ball", "time in front of ball"),
    (
        "positioning",
        "percent_infront_ball",
        "percentage in front of ball",
    ),
    ("positioning", "time_defensive_half", "time defensive half"),
    (
        "positioning",
        "percent_defensive_half",
        "percentage defensive half",
    ),
    ("positioning", "time_offensive_half", "time offensive half"),
    (
        "positioning",
        "percent_offensive_half",
        "percentage offensive half",
    ),
    (
        "positioning",
        "time_defensive_third",
        "time defensive third",
    ),
    (
        "positioning",
        "percent_defensive_third",
        "percentage defensive third",
    ),
    ("positioning", "time_neutral_third", "time neutral third"),
    (
        "positioning",
        "percent_neutral_third",
        "percentage neutral third",
    ),
    (
        "positioning",
        "time_offensive_third",
        "time offensive third",
    ),
    (
        "positioning",
        "percent_offensive_third",
        "percentage offensive third",
    ),
    ("demo", "inflicted", "demos inflicted"),
    ("demo", "taken", "demos taken"),
];

fn group_of(col: &str) -> &'static str {
    JSON_TO_CSV
        .iter()
        .find(|(_, _, c)| *c == col)
        .map_or("core", |(g, _, _)| g)
}

fn parse_csv(text: &str) -> Vec<Row> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(';').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            header
                .iter()
                .zip(l.split(';'))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn truth_rows(path: &std::path::Path) -> Vec<Row> {
    if path.extension().is_some_and(|e| e == "csv") {
        return parse_csv(&std::fs::read_to_string(path).unwrap());
    }
    let d: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut rows = Vec::new();
    for color in ["blue", "orange"] {
        for p in d[color]["players"].as_array().into_iter().flatten() {
            let mut row = Row::new();
            row.insert(
                "player name".into(),
                p["name"].as_str().unwrap_or("").into(),
            );
            row.insert(
                "player id".into(),
                p["id"]["id"].as_str().unwrap_or("").into(),
            );
            for (group, key, col) in JSON_TO_CSV {
                if let Some(v) = p["stats"][group][key].as_f64() {
                    row.insert((*col).into(), v.to_string());
                }
            }
            rows.push(row);
        }
    }
    rows
}

fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn within(ours: f64, truth: f64, col: &str) -> bool {
    if SCOREBOARD.contains(&col) || col.starts_with("count") {
        return ours.round() == truth.round();
    }
    let floor = if col.contains("time") || col.contains("percentage") || col == "bpm" {
        1.0
    } else {
        2.0
    };
    (ours - truth).abs() <= (truth.abs() * 0.05).max(floor)
}

/// Agreement with one ground-truth file.
struct Agreement {
    scoreboard: (usize, usize),
    all: (usize, usize),
    /// Per stat group (core, boost, movement, positioning, demo): (agreeing, compared).
    groups: BTreeMap<&'static str, (usize, usize)>,
}

/// Each ground-truth row with our row for the same player (by platform id, else by name).
fn matched_rows(replay: &str, truth: &str) -> Option<Vec<(Row, Option<Row>)>> {
    let dir = common::shared_dir();
    // A replay added with its ground truth sits beside it until it joins the corpus.
    let rp = [dir.join("replays"), dir.join("groundtruth")]
        .map(|d| d.join(replay))
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| dir.join("replays").join(replay));
    let tp = dir.join("groundtruth").join(truth);
    if !rp.exists() || !tp.exists() {
        common::skip_or_fail(
            common::REQUIRE_CORPUS,
            &format!("{} or {} not found", rp.display(), tp.display()),
        );
        return None;
    }
    let ours = parse_csv(&rlcoach::export::players_csv(&common::analyze_path(&rp)));
    let rows = truth_rows(&tp)
        .into_iter()
        .map(|t| {
            let pid = t.get("player id").cloned().unwrap_or_default();
            let mine = ours
                .iter()
                .find(|r| !pid.is_empty() && r.get("player id") == Some(&pid))
                .or_else(|| {
                    ours.iter()
                        .find(|r| norm(&r["player name"]) == norm(&t["player name"]))
                })
                .cloned();
            (t, mine)
        })
        .collect();
    Some(rows)
}

fn compare(replay: &str, truth: &str) -> Option<Agreement> {
    let rows = matched_rows(replay, truth)?;
    let mut groups: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let (mut sb_ok, mut sb_n, mut ok, mut n) = (0, 0, 0, 0);
    for (t, mine) in &rows {
        for (col, tv) in t {
            if SKIP.contains(&col.as_str()) {
                continue;
            }
            let tv: f64 = tv.parse().unwrap();
            let mv = mine
                .as_ref()
                .and_then(|m| m.get(col))
                .and_then(|v| v.parse::<f64>().ok());
            let good = mv.is_some_and(|mv| within(mv, tv, col));
            if !good && std::env::var_os("PARITY_DETAIL").is_some() {
                // PARITY_DETAIL=1 cargo nextest run --test parity --no-capture: every miss.
                println!(
                    "    miss {:<14} {col:<40} ours {mv:?} truth {tv}",
                    t["player name"]
                );
            }
            let g = groups.entry(group_of(col)).or_default();
            g.1 += 1;
            g.0 += usize::from(good);
            n += 1;
            ok += usize::from(good);
            if SCOREBOARD.contains(&col.as_str()) {
                sb_n += 1;
                sb_ok += usize::from(good);
            }
        }
    }
    println!(
        "{truth}: scoreboard {sb_ok}/{sb_n}, all values {ok}/{n} ({:.1} %)",
        ok as f64 * 100.0 / n as f64
    );
    for (g, (a, b)) in &groups {
        println!(
            "  {g:<12} {a:>3}/{b:<3} ({:.1} %)",
            *a as f64 * 100.0 / *b as f64
        );
    }
    Some(Agreement {
        scoreboard: (sb_ok, sb_n),
        all: (ok, n),
        groups,
    })
}

/// The floors each file must keep, overall and per stat group: the agreement measured when they
/// were set, less a hair (less than one value of the group), so that one more miss in any stat
/// group fails here. The bar is 92 % overall on every file.
fn check(replay: &str, truth: &str, floor: f64, group_floors: [(&str, f64); 5]) {
    let Some(a) = compare(replay, truth) else {
        return;
    };
    assert_eq!(
        a.scoreboard.0, a.scoreboard.1,
        "{truth}: scoreboard must be exact"
    );
    let share = |(ok, n): (usize, usize)| ok as f64 / n as f64;
    let (ok, n) = a.all;
    assert!(
        share(a.all) >= floor,
        "{truth}: {ok}/{n} = {:.3} below {floor}",
        share(a.all)
    );
    let mut groups: Vec<&str> = a.groups.keys().copied().collect();
    groups.sort_unstable();
    let mut floored: Vec<&str> = group_floors.iter().map(|(g, _)| *g).collect();
    floored.sort_unstable();
    assert_eq!(groups, floored, "{truth}: every stat group has a floor");
    for (group, floor) in group_floors {
        let (ok, n) = a.groups[group];
        assert!(
            share((ok, n)) >= floor,
            "{truth}: {group} {ok}/{n} = {:.3} below {floor}",
            share((ok, n))
        );
    }
}

// Measured when the floors were set (each floor sits below by less than one value):
//   0925             core 36/36, boost 62/68 (91.2 %), movement 65/68 (95.6 %),
//                    positioning 77/80 (96.3 %), demo 8/8; all 248/260 (95.4 %)
//   ranked doubles   core 32/32, boost 61/68 (89.7 %), movement 64/68 (94.1 %),
//                    positioning 74/80 (92.5 %), demo 8/8; all 239/256 (93.4 %)
//   private duel     core 16/16, boost 32/34 (94.1 %), movement 32/34 (94.1 %),
//                    positioning 37/38 (97.4 %), demo 4/4; all 121/126 (96.0 %)
//   ranked standard  core 48/48, boost 88/102 (86.3 %), movement 97/102 (95.1 %),
//                    positioning 116/120 (96.7 %), demo 12/12; all 361/384 (94.0 %)

#[test]
fn parity_0925() {
    check(
        "0925.replay",
        "0925_players.csv",
        0.953,
        [
            ("core", 0.99),
            ("boost", 0.91),
            ("movement", 0.955),
            ("positioning", 0.962),
            ("demo", 0.99),
        ],
    );
}

#[test]
fn parity_ranked_doubles() {
    check(
        "recent-ranked-doubles-2026-03-10.replay",
        "recent-ranked-doubles-2026-03-10.ballchasing.json",
        0.932,
        [
            ("core", 0.99),
            ("boost", 0.89),
            ("movement", 0.94),
            ("positioning", 0.92),
            ("demo", 0.99),
        ],
    );
}

#[test]
fn parity_private_duel() {
    check(
        "problematic-private-duel-2026-03-20.replay",
        "problematic-private-duel-2026-03-20.ballchasing.json",
        0.957,
        [
            ("core", 0.99),
            ("boost", 0.93),
            ("movement", 0.94),
            ("positioning", 0.97),
            ("demo", 0.99),
        ],
    );
}

#[test]
fn parity_ranked_standard() {
    check(
        "recent-ranked-standard-2026-03-10-a.replay",
        "recent-ranked-standard-2026-03-10-a.ballchasing.json",
        0.939,
        [
            ("core", 0.99),
            ("boost", 0.86),
            ("movement", 0.95),
            ("positioning", 0.966),
            ("demo", 0.99),
        ],
    );
}

/// Pickup counts are exact for every player of the four files (the issue asked for five of the
/// six 3v3 players): big and small pads, collected and stolen. Counts have no tolerance.
#[test]
fn pad_counts_are_exact_for_every_player() {
    const COUNTS: [&str; 4] = [
        "count collected big pads",
        "count collected small pads",
        "count stolen big pads",
        "count stolen small pads",
    ];
    let files = [
        ("0925.replay", "0925_players.csv"),
        (
            "recent-ranked-doubles-2026-03-10.replay",
            "recent-ranked-doubles-2026-03-10.ballchasing.json",
        ),
        (
            "problematic-private-duel-2026-03-20.replay",
            "problematic-private-duel-2026-03-20.ballchasing.json",
        ),
        (
            "recent-ranked-standard-2026-03-10-a.replay",
            "recent-ranked-standard-2026-03-10-a.ballchasing.json",
        ),
    ];
    let mut misses = Vec::new();
    let mut players = 0;
    for (replay, truth) in files {
        let Some(rows) = matched_rows(replay, truth) else {
            return;
        };
        for (t, mine) in rows {
            players += 1;
            for col in COUNTS {
                let number = |v: Option<&String>| v.and_then(|v| v.parse::<f64>().ok());
                let ours = number(mine.as_ref().and_then(|m| m.get(col)));
                if ours.is_none() || ours != number(t.get(col)) {
                    misses.push(format!(
                        "{truth} {}: {col} ours {ours:?}, ballchasing {:?}",
                        t["player name"],
                        t.get(col)
                    ));
                }
            }
        }
    }
    println!("pad counts: {players} players, {} misses", misses.len());
    assert_eq!(players, 16);
    assert!(misses.is_empty(), "{misses:#?}");
}
