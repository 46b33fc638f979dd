//! Report exports: ballchasing-compatible CSV (players and teams, columns exactly as STATS.md §13)
//! and a readable text summary.

use std::fmt::Write as _;

use crate::report::{Boost, EventKind, Movement, Positioning, Report};

pub const PLAYER_COLUMNS: &str = "color;team name;player name;platform;player id;car id;car name;game duration;score;goals;assists;saves;shots;shots conceded;goals conceded;goals conceded while last defender;shooting percentage;bpm;avg boost amount;amount collected;amount collected big pads;amount collected small pads;count collected big pads;count collected small pads;amount stolen;amount stolen big pads;amount stolen small pads;count stolen big pads;count stolen small pads;0 boost time;100 boost time;amount used while supersonic;amount overfill total;amount overfill stolen;avg speed;total distance;time slow speed;percentage slow speed;time boost speed;percentage boost speed;time supersonic speed;percentage supersonic speed;time on ground;percentage on ground;time low in air;percentage low in air;time high in air;percentage high in air;time powerslide;avg powerslide time;count powerslide;time most back;time most forward;avg distance to ball;avg distance to ball has possession;avg distance to ball no possession;avg distance to team mates;time behind ball;percentage behind ball;time in front of ball;percentage in front of ball;time defensive half;percentage defensive half;time offensive half;percentage offensive half;time defensive third;percentage defensive third;time neutral third;percentage neutral third;time offensive third;percentage offensive third;demos inflicted;demos taken";

pub const TEAM_COLUMNS: &str = "color;team name;game duration;score;goals;assists;saves;shots;shots conceded;goals conceded;shooting percentage;bpm;avg boost amount;amount collected;amount collected big pads;amount collected small pads;count collected big pads;count collected small pads;amount stolen;amount stolen big pads;amount stolen small pads;count stolen big pads;count stolen small pads;0 boost time;100 boost time;amount used while supersonic;amount overfill total;amount overfill stolen;total distance;time slow speed;time boost speed;time supersonic speed;time on ground;time low in air;time high in air;time powerslide;count powerslide;time behind ball;time in front of ball;time defensive half;time offensive half;time defensive third;time neutral third;time offensive third;time ball possession;time ball in own side;demos inflicted;demos taken";

/// Formats like ballchasing: integers stay integers, others get at most two decimals.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let r = (v * 100.0).round() / 100.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}
fn whole(v: f64) -> String {
    if v.is_finite() {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}
fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}
/// A text cell: separators and line breaks become spaces, and a cell a spreadsheet could read as
/// a formula or a quoted cell (starting with `=`, `+`, `-`, `@`, a quote or whitespace) gets a
/// leading `'`, so a player named `=HYPERLINK(…)` or `"=1+1"` stays a name.
fn csv_field(s: &str) -> String {
    let clean = s.replace([';', '\n', '\r'], " ");
    if clean.starts_with(char::is_whitespace) || clean.starts_with(['=', '+', '-', '@', '"', '\''])
    {
        format!("'{clean}")
    } else {
        clean
    }
}

fn platform_label(p: &str) -> &str {
    match p {
        "steam" => "Steam",
        "epic" => "Epic",
        "ps4" => "PlayStation",
        "xbox" => "Xbox",
        "switch" => "Switch",
        // ballchasing leaves a bot's platform empty.
        "bot" => "",
        other => other,
    }
}

/// score, goals, assists, saves, shots, shots conceded, goals conceded: shared by both CSVs.
fn core_cols(c: &crate::report::Core) -> [String; 7] {
    [
        c.score,
        c.goals,
        c.assists,
        c.saves,
        c.shots,
        c.shots_against,
        c.goals_against,
    ]
    .map(|v| v.to_string())
}

fn boost_cols(b: Option<&Boost>, out: &mut Vec<String>) {
    match b {
        Some(b) => out.extend([
            whole(b.bpm),
            num(b.avg_amount),
            whole(b.amount_collected),
            whole(b.amount_collected_big),
            whole(b.amount_collected_small),
            b.count_collected_big.to_string(),
            b.count_collected_small.to_string(),
            whole(b.amount_stolen),
            whole(b.amount_stolen_big),
            whole(b.amount_stolen_small),
            b.count_stolen_big.to_string(),
            b.count_stolen_small.to_string(),
            num(b.time_zero_boost),
            num(b.time_full_boost),
            whole(b.amount_used_while_supersonic),
            whole(b.amount_overfill),
            whole(b.amount_overfill_stolen),
        ]),
        None => out.extend(std::iter::repeat_n(String::new(), 17)),
    }
}

fn movement_cols(m: Option<&Movement>, out: &mut Vec<String>) {
    match m {
        Some(m) => out.extend([
            whole(m.avg_speed),
            whole(m.total_distance),
            num(m.time_slow_speed),
            num(m.percent_slow_speed),
            num(m.time_boost_speed),
            num(m.percent_boost_speed),
            num(m.time_supersonic_speed),
            num(m.percent_supersonic_speed),
            num(m.time_ground),
            num(m.percent_ground),
            num(m.time_low_air),
            num(m.percent_low_air),
            num(m.time_high_air),
            num(m.percent_high_air),
            num(m.time_powerslide),
            num(m.avg_powerslide_duration),
            m.count_powerslide.to_string(),
        ]),
        None => out.extend(std::iter::repeat_n(String::new(), 17)),
    }
}

fn positioning_cols(p: Option<&Positioning>, out: &mut Vec<String>) {
    match p {
        Some(p) => out.extend([
            opt(p.time_most_back),
            opt(p.time_most_forward),
            whole(p.avg_distance_to_ball),
            whole(p.avg_distance_to_ball_possession),
            whole(p.avg_distance_to_ball_no_possession),
            p.avg_distance_to_mates.map(whole).unwrap_or_default(),
            num(p.time_behind_ball),
            num(p.percent_behind_ball),
            num(p.time_infront_ball),
            num(p.percent_infront_ball),
            num(p.time_defensive_half),
            num(p.percent_defensive_half),
            num(p.time_offensive_half),
            num(p.percent_offensive_half),
            num(p.time_defensive_third),
            num(p.percent_defensive_third),
            num(p.time_neutral_third),
            num(p.percent_neutral_third),
            num(p.time_offensive_third),
            num(p.percent_offensive_third),
        ]),
        None => out.extend(std::iter::repeat_n(String::new(), 20)),
    }
}

/// The players CSV, ballchasing's column order; header line included.
pub fn players_csv(report: &Report) -> String {
    let mut s = String::from(PLAYER_COLUMNS);
    s.push('\n');
    let duration = whole(report.metadata.duration_seconds);
    for p in &report.players {
        let c = &p.core;
        let mut row = vec![
            if p.team == 0 { "blue" } else { "orange" }.to_string(),
            String::new(),
            csv_field(&p.name),
            platform_label(&p.id.platform).to_string(),
            csv_field(&p.id.id),
            p.car_id.map(|c| c.to_string()).unwrap_or_default(),
            csv_field(p.car_name.as_deref().unwrap_or_default()),
            duration.clone(),
        ];
        row.extend(core_cols(c));
        row.extend([
            c.goals_against_while_last_defender
                .map(|v| v.to_string())
                .unwrap_or_default(),
            num(c.shooting_percentage),
        ]);
        boost_cols(p.boost.as_ref(), &mut row);
        movement_cols(p.movement.as_ref(), &mut row);
        positioning_cols(p.positioning.as_ref(), &mut row);
        row.push(c.demos_inflicted.to_string());
        row.push(c.demos_taken.to_string());
        s.push_str(&row.join(";"));
        s.push('\n');
    }
    s
}

/// The teams CSV, ballchasing's column order; header line included.
pub fn teams_csv(report: &Report) -> String {
    let mut s = String::from(TEAM_COLUMNS);
    s.push('\n');
    for t in &report.teams {
        let c = &t.core;
        let mut row = vec![
            t.color.clone(),
            String::new(),
            whole(report.metadata.duration_seconds),
        ];
        row.extend(core_cols(c));
        row.push(num(c.shooting_percentage));
        boost_cols(t.boost.as_ref(), &mut row);
        match &t.movement {
            Some(m) => row.extend([
                whole(m.total_distance),
                num(m.time_slow_speed),
                num(m.time_boost_speed),
                num(m.time_supersonic_speed),
                num(m.time_ground),
                num(m.time_low_air),
                num(m.time_high_air),
                num(m.time_powerslide),
                m.count_powerslide.to_string(),
            ]),
            None => row.extend(std::iter::repeat_n(String::new(), 9)),
        }
        match &t.positioning {
            Some(p) => row.extend([
                num(p.time_behind_ball),
                num(p.time_infront_ball),
                num(p.time_defensive_half),
                num(p.time_offensive_half),
                num(p.time_defensive_third),
                num(p.time_neutral_third),
                num(p.time_offensive_third),
            ]),
            None => row.extend(std::iter::repeat_n(String::new(), 7)),
        }
        row.push(opt(t.time_ball_possession));
        row.push(opt(t.time_ball_in_own_side));
        row.push(c.demos_inflicted.to_string());
        row.push(c.demos_taken.to_string());
        s.push_str(&row.join(";"));
        s.push('\n');
    }
    s
}

fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A readable summary; `player` narrows the per-player part to one player.
pub fn text(report: &Report, player: Option<usize>) -> String {
    let m = &report.metadata;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} — {} on {} — Blue {} : {} Orange{}  ({})",
        m.playlist,
        m.date.as_deref().unwrap_or("unknown date"),
        m.map.as_deref().unwrap_or("unknown map"),
        m.score[0],
        m.score[1],
        if m.overtime { " (OT)" } else { "" },
        clock(m.duration_seconds),
    );
    for w in &report.quality.warnings {
        let _ = writeln!(s, "note: {w}");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<20} {:>5} {:>3} {:>3} {:>3} {:>3} {:>4} {:>6} {:>6} {:>6} {:>5}",
        "player", "score", "G", "A", "Sv", "Sh", "demo", "boost", "bpm", "speed", "SS%"
    );
    for (i, p) in report.players.iter().enumerate() {
        if player.is_some_and(|want| want != i) {
            continue;
        }
        let name: String = p.name.chars().take(18).collect();
        let mark = if p.core.mvp { "*" } else { " " };
        let _ = writeln!(
            s,
            "{}{:<19} {:>5} {:>3} {:>3} {:>3} {:>3} {:>4} {:>6} {:>6} {:>6} {:>5}",
            if p.team == 0 { "B " } else { "O " },
            format!("{name}{mark}"),
            p.core.score,
            p.core.goals,
            p.core.assists,
            p.core.saves,
            p.core.shots,
            p.core.demos_inflicted,
            p.boost
                .as_ref()
                .map(|b| whole(b.amount_collected))
                .unwrap_or("-".into()),
            p.boost.as_ref().map(|b| whole(b.bpm)).unwrap_or("-".into()),
            p.movement
                .as_ref()
                .map(|b| whole(b.avg_speed))
                .unwrap_or("-".into()),
            p.movement
                .as_ref()
                .map(|b| num(b.percent_supersonic_speed))
                .unwrap_or("-".into()),
        );
    }
    if let Some(i) = player
        && let Some(p) = report.players.get(i)
    {
        let _ = writeln!(s);
        if let Some(pos) = &p.positioning {
            let _ = writeln!(
                s,
                "positioning: defensive third {:.0}%, behind ball {:.0}%, avg distance to ball {:.0} uu",
                pos.percent_defensive_third, pos.percent_behind_ball, pos.avg_distance_to_ball
            );
        }
        if let Some(t) = &p.touches {
            let _ = writeln!(
                s,
                "touches: {} ({} aerial), passes {}, turnovers {}",
                t.count, t.aerial, t.passes_completed, t.turnovers
            );
        }
        if let Some(mech) = &p.mechanics {
            let _ = writeln!(
                s,
                "mechanics: {} jumps, {} flips, {} aerials, {} wavedashes, {} half-flips, {} flip resets",
                mech.jumps,
                mech.flips,
                mech.aerials,
                mech.wavedashes,
                mech.half_flips,
                mech.flip_resets
            );
        }
    }
    let goals: Vec<_> = report
        .timeline
        .iter()
        .filter(|e| e.kind == EventKind::Goal)
        .collect();
    if !goals.is_empty() && player.is_none() {
        let _ = writeln!(s, "\ngoals:");
        for g in goals {
            let _ = writeln!(
                s,
                "  {}  {}  {}",
                clock(g.t),
                g.data.get("scorer").and_then(|v| v.as_str()).unwrap_or("?"),
                g.data
                    .get("shot_speed")
                    .and_then(serde_json::Value::as_f64)
                    .map(|v| format!("{:.0} km/h", v * 0.036))
                    .unwrap_or_default()
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_like_ballchasing() {
        assert_eq!(num(45.2849), "45.28");
        assert_eq!(num(60.0), "60");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(whole(2266.6), "2267");
        assert_eq!(num(f64::NAN), "");
    }

    #[test]
    fn bots_have_no_platform_like_ballchasing() {
        assert_eq!(platform_label("bot"), "");
        assert_eq!(platform_label("steam"), "Steam");
    }

    #[test]
    fn column_lists_have_ballchasing_counts() {
        assert_eq!(PLAYER_COLUMNS.split(';').count(), 73);
        assert_eq!(TEAM_COLUMNS.split(';').count(), 48);
    }

    #[test]
    fn names_that_look_like_formulas_stay_text() {
        for evil in [
            "=HYPERLINK(\"http://x\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
        ] {
            let cell = csv_field(evil);
            assert!(cell.starts_with('\''), "{evil:?} -> {cell:?}");
        }
        assert_eq!(csv_field("Name;With\nBreaks"), "Name With Breaks");
        assert_eq!(csv_field("plain"), "plain");
    }
}
