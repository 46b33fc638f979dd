//! Assembles the [`Report`] from the header and the frame pass: merges header and network players,
//! derives team totals, kickoffs and the timeline.

use std::time::Instant;

use sha2::{Digest, Sha256};

use super::AnalyzeError;
use super::events;
use super::field::{self, Vec3};
use super::header::{self, HeaderInfo, HeaderPlayer};
use super::objects::ObjectTable;
use super::tracker::{KickoffPlayerTrack, KickoffTrack, PlayerTrack, Tracker};
use crate::report::*;

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Car names we have confirmed against ballchasing; others are reported by id only.
fn car_name(id: u32) -> Option<&'static str> {
    match id {
        23 => Some("Octane"),
        403 => Some("Dominus"),
        1159 => Some("X-Devil Mk2"),
        4284 => Some("Fennec"),
        22 => Some("Breakout"),
        _ => None,
    }
}

fn metadata(bytes: &[u8], replay: &boxcars::Replay, header: &HeaderInfo) -> Metadata {
    Metadata {
        replay_id: sha256_hex(bytes),
        match_guid: header.match_guid.clone(),
        replay_name: header.replay_name.clone(),
        date: header.date.clone(),
        started_at_unix: header.started_at_unix,
        map: header.map.clone(),
        match_type: header.match_type.clone(),
        playlist: Playlist::resolve(
            None,
            header.match_type.as_deref() == Some("Private"),
            header.team_size,
        ),
        team_size: header.team_size,
        duration_seconds: header.total_seconds_played.unwrap_or(0.0),
        overtime: false,
        overtime_seconds: 0.0,
        forfeit: header.forfeit,
        score: header.score,
        game_version: header.build_version.clone(),
        major_version: replay.major_version,
        minor_version: replay.minor_version,
        net_version: replay.net_version,
        recorded_frame_hz: header.record_fps,
        total_frames: header
            .num_frames
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
    }
}

fn header_core(h: &HeaderPlayer) -> Core {
    Core {
        score: h.score,
        goals: h.goals,
        assists: h.assists,
        saves: h.saves,
        shots: h.shots,
        ..Core::default()
    }
}

/// Fills the derived scoreboard fields: shooting %, MVP, shots/goals against.
fn finish_core(players: &mut [PlayerReport], score: [u32; 2]) {
    let mut team_shots = [0u32; 2];
    for p in players.iter() {
        team_shots[usize::from(p.team.min(1))] += p.core.shots;
    }
    let winner = match score[0].cmp(&score[1]) {
        std::cmp::Ordering::Greater => Some(0u8),
        std::cmp::Ordering::Less => Some(1u8),
        std::cmp::Ordering::Equal => None,
    };
    let mvp = winner.and_then(|w| {
        players
            .iter()
            .enumerate()
            .filter(|(_, p)| p.team == w)
            .max_by_key(|(_, p)| p.core.score)
            .map(|(i, _)| i)
    });
    for (i, p) in players.iter_mut().enumerate() {
        let c = &mut p.core;
        c.shooting_percentage = if c.shots > 0 {
            f64::from(c.goals) * 100.0 / f64::from(c.shots)
        } else {
            0.0
        };
        let opp = usize::from(1 - p.team.min(1));
        c.shots_against = team_shots[opp];
        c.goals_against = score[opp];
        c.mvp = mvp == Some(i);
    }
}

/// The scoreboard of a network player the header's final stats do not list (one who left before
/// the end, or a bot that was replaced): the counters their PRI replicated, and at least the goals
/// the header's goal list names them for (authoritative; a leaver's last counter update can be
/// lost with their PRI).
fn leaver_core(t: &PlayerTrack, goals: &[header::HeaderGoal]) -> Core {
    let listed = goals
        .iter()
        .filter(|g| !g.player_name.is_empty() && g.player_name == t.name)
        .filter(|g| t.team.is_none_or(|team| team == g.team.min(1)))
        .count();
    Core {
        goals: t
            .pri_stats
            .goals
            .max(u32::try_from(listed).unwrap_or(u32::MAX)),
        assists: t.pri_stats.assists,
        saves: t.pri_stats.saves,
        shots: t.pri_stats.shots,
        score: t.pri_stats.score,
        ..Core::default()
    }
}

/// A player known only from the header's scoreboard.
fn header_player_report(h: &HeaderPlayer) -> PlayerReport {
    PlayerReport {
        id: header_player_id(h),
        name: h.name.clone(),
        team: h.team.min(1),
        is_bot: h.is_bot,
        car_id: None,
        car_name: None,
        time_played: 0.0,
        core: header_core(h),
        boost: None,
        movement: None,
        positioning: None,
        touches: None,
        challenges: None,
        kickoffs: None,
        mechanics: None,
        heatmap: None,
    }
}

pub fn header_only_report(
    bytes: &[u8],
    replay: &boxcars::Replay,
    header: &HeaderInfo,
    warning: String,
) -> Report {
    let mut players: Vec<PlayerReport> = header.players.iter().map(header_player_report).collect();
    finish_core(&mut players, header.score);
    let teams = team_reports(&players, None, header.score);
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        analyzer_version: ANALYZER_VERSION.into(),
        metadata: metadata(bytes, replay, header),
        quality: Quality {
            parser: "boxcars 0.13".into(),
            network_parsed: false,
            mode_supported: is_supported_map(header, replay),
            warnings: vec![warning],
        },
        teams,
        players,
        kickoffs: Vec::new(),
        timeline: Vec::new(),
        series: Series::default(),
    }
}

fn is_supported_map(header: &HeaderInfo, replay: &boxcars::Replay) -> bool {
    header
        .map
        .as_deref()
        .is_none_or(|m| header::is_soccar_map(m, &replay.game_type))
}

fn header_player_id(h: &HeaderPlayer) -> PlayerId {
    let platform = match h.platform.as_deref().unwrap_or("") {
        "OnlinePlatform_Steam" => "steam",
        "OnlinePlatform_Epic" => "epic",
        "OnlinePlatform_PS4" | "OnlinePlatform_PS3" => "ps4",
        "OnlinePlatform_Dingo" => "xbox",
        "OnlinePlatform_Switch" => "switch",
        _ if h.is_bot => "bot",
        _ => "unknown",
    };
    match h.online_id {
        Some(id) if id != 0 && platform != "bot" => PlayerId {
            platform: platform.into(),
            id: if platform == "xbox" {
                format!("{id:016x}")
            } else {
                id.to_string()
            },
        },
        _ => PlayerId {
            platform: if h.is_bot { "bot" } else { platform }.into(),
            id: h.name.clone(),
        },
    }
}

fn header_matches(h: &HeaderPlayer, id: &PlayerId, name: &str) -> bool {
    let hid = header_player_id(h);
    (hid.platform == id.platform && hid.id == id.id) || (!h.name.is_empty() && h.name == name)
}

/// Why the frame pass produced no report.
#[derive(Debug)]
pub enum FramePassError {
    /// A limit stopped it (too many frames, out of time).
    Refused(AnalyzeError),
    /// boxcars could not decode the network data; the header's scoreboard is still good.
    Undecodable(boxcars::ParseError),
}

/// Decodes the network frames and feeds each to the tracker as it comes out of boxcars (none are
/// kept), then assembles the report in named steps: players, kickoffs, timeline and series,
/// metadata, teams. `replay` is the header-and-body parse (no frames).
pub fn full_report(
    bytes: &[u8],
    replay: &boxcars::Replay,
    header: &HeaderInfo,
    limits: &super::Limits,
    started: Instant,
) -> Result<Report, FramePassError> {
    let objects = ObjectTable::new(&replay.objects);
    let pass = frame_pass(bytes, replay, header, &objects, limits, started)?;
    let tracker = &pass.tracker;

    let mut warnings = Vec::new();
    let ball_default = objects
        .ball_archetype
        .as_deref()
        .is_none_or(|b| b == "Archetypes.Ball.Ball_Default");
    let extra_mode = tracker.playlist_id.is_some_and(Playlist::is_extra_mode_id);
    let mode_supported = is_supported_map(header, replay) && ball_default && !extra_mode;
    if !mode_supported {
        warnings.push(
            "non-standard mode or arena: boost pad and field-position stats are not reported"
                .into(),
        );
    }

    let Roster {
        mut players,
        order,
        index_of,
    } = roster(tracker, header, mode_supported, &mut warnings);
    let kickoffs = kickoff_reports(tracker, &index_of, header);
    credit_kickoffs(&mut players, &kickoffs);
    let timeline = timeline(tracker, &index_of, header, &players, &kickoffs);
    let series = series(tracker, &order, &timeline);
    let metadata = full_metadata(bytes, replay, header, &pass, players.len());
    let teams = full_team_reports(tracker, &players, header.score, mode_supported);
    Ok(Report {
        schema_version: REPORT_SCHEMA_VERSION,
        analyzer_version: ANALYZER_VERSION.into(),
        metadata,
        quality: Quality {
            parser: "boxcars 0.13".into(),
            network_parsed: true,
            mode_supported,
            warnings,
        },
        teams,
        players,
        kickoffs,
        timeline,
        series,
    })
}

/// The tracker after every frame, and what the decoding loop counted.
struct FramePass<'a> {
    tracker: Tracker<'a>,
    frames: usize,
    /// Σ frame deltas.
    duration: f64,
}

/// The one pass over the network frames, within the frame limit, the deadline and the cap on
/// network players (checked after every frame, so per-player state never grows past it by more
/// than one frame's new players).
fn frame_pass<'a>(
    bytes: &[u8],
    replay: &'a boxcars::Replay,
    header: &HeaderInfo,
    objects: &'a ObjectTable,
    limits: &super::Limits,
    started: Instant,
) -> Result<FramePass<'a>, FramePassError> {
    let goal_frames: Vec<(usize, u8)> = header.goals.iter().map(|g| (g.frame, g.team)).collect();
    let mut tracker = Tracker::new(
        objects,
        &replay.names,
        replay.objects.len(),
        replay.net_version,
        goal_frames,
    );
    tracker.max_players = limits.max_network_players;
    // One sample per frame: sized once from the header's count instead of grown by doubling.
    let expected = header
        .num_frames
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(limits.max_frames);
    tracker.totals.reserve_frames(expected);
    let deadline = started + limits.max_duration;
    let mut frames = 0usize;
    let mut duration = 0.0f64;
    let mut refused = None;
    let decoded = boxcars::ParserBuilder::new(bytes)
        .on_error_check_crc()
        .for_each_frame(|frame| {
            if frames >= limits.max_frames {
                refused = Some(AnalyzeError::TooManyFrames {
                    frames: frames + 1,
                    limit: limits.max_frames,
                });
                return false;
            }
            if frames.is_multiple_of(1024) && Instant::now() > deadline {
                refused = Some(AnalyzeError::Timeout(limits.max_duration));
                return false;
            }
            tracker.process(frames, frame);
            if tracker.players.len() > limits.max_network_players {
                refused = Some(AnalyzeError::TooManyNetworkPlayers {
                    players: tracker.players.len(),
                    limit: limits.max_network_players,
                });
                return false;
            }
            frames += 1;
            duration += f64::from(frame.delta.max(0.0));
            true
        });
    if let Some(e) = refused {
        return Err(FramePassError::Refused(e));
    }
    decoded.map_err(FramePassError::Undecodable)?;
    tracker.finish();
    Ok(FramePass {
        tracker,
        frames,
        duration,
    })
}

/// The report's players and how they map to the tracker's.
struct Roster {
    players: Vec<PlayerReport>,
    /// Tracker indices of the network players, in report order.
    order: Vec<usize>,
    /// Tracker index → report index.
    index_of: Vec<Option<usize>>,
}

/// Players: network players that were on a team, in team then header order, then header players
/// never seen in the network data (left before recording started), scoreboard only.
fn roster(
    tracker: &Tracker<'_>,
    header: &HeaderInfo,
    mode_supported: bool,
    warnings: &mut Vec<String>,
) -> Roster {
    let tracks = &tracker.players;
    let events = &tracker.events;
    // Active time (clock running or kickoff countdown): the base of boost per minute.
    let [countdown, waiting, live, _] = tracker.totals.phase_time;
    let active_time = countdown + waiting + live;
    let pickup_totals = events::pickup_totals(&events.pickups, tracks.len());
    let (touch_stats, challenge_stats) = events::touch_stats(&events.touches, tracks.len());
    let header_of = |i: usize| {
        let t = &tracks[i];
        header
            .players
            .iter()
            .position(|h| header_matches(h, &t.id, &t.name))
    };
    let mut order: Vec<usize> = (0..tracks.len())
        .filter(|&i| tracks[i].team.is_some())
        .collect();
    order.sort_by_key(|&i| (tracks[i].team, header_of(i).unwrap_or(usize::MAX)));
    let mut index_of = vec![None; tracks.len()];
    let mut players = Vec::new();
    for &i in &order {
        let t = &tracks[i];
        let acc = &tracker.totals.accs[i];
        let team = t.team.unwrap_or(0);
        let team_count = order
            .iter()
            .filter(|&&j| tracks[j].team == Some(team))
            .count();
        let h = header_of(i).map(|k| &header.players[k]);
        let mut core = match h {
            Some(h) => header_core(h),
            None => leaver_core(t, &header.goals),
        };
        core.demos_inflicted = t.pri_stats.demolishes.max(t.demos_inflicted);
        core.demos_taken = t.demos_taken;
        core.goals_against_while_last_defender = Some(
            tracker
                .totals
                .last_defenders
                .iter()
                .filter(|d| **d == Some(i))
                .count() as u32,
        );
        let boost = mode_supported.then(|| {
            events::boost_report(
                &pickup_totals[i],
                acc.avg_boost_pct(),
                acc.boost_times(),
                t.boost_used_raw,
                acc.used_supersonic_raw,
                acc.time,
                active_time,
            )
        });
        index_of[i] = Some(players.len());
        players.push(PlayerReport {
            id: t.id.clone(),
            name: t.name.clone(),
            team,
            is_bot: t.is_bot || h.is_some_and(|h| h.is_bot),
            car_id: t.car_body,
            car_name: t.car_body.and_then(car_name).map(String::from),
            time_played: acc.time,
            core,
            boost,
            movement: Some(acc.movement()),
            positioning: mode_supported.then(|| acc.positioning(team_count > 1)),
            touches: Some(touch_stats[i].clone()),
            challenges: Some(challenge_stats[i].clone()),
            kickoffs: None,
            mechanics: Some(t.mech.counts.clone()),
            heatmap: mode_supported.then(|| acc.heatmap()),
        });
    }
    for h in &header.players {
        let seen = order
            .iter()
            .any(|&i| header_matches(h, &tracks[i].id, &tracks[i].name));
        if !seen {
            warnings.push(format!("{} has no network data; scoreboard only", h.name));
            players.push(header_player_report(h));
        }
    }
    finish_core(&mut players, header.score);
    Roster {
        players,
        order,
        index_of,
    }
}

/// Per-player kickoff counts, GO roles, first touches and speedflips.
fn credit_kickoffs(players: &mut [PlayerReport], kickoffs: &[Kickoff]) {
    for k in kickoffs {
        for kp in &k.players {
            let Some(p) = players.get_mut(kp.player) else {
                continue;
            };
            let s = p.kickoffs.get_or_insert_with(PlayerKickoffs::default);
            s.count += 1;
            if kp.role == KickoffRole::Go {
                s.as_go += 1;
            }
            if kp.approach == KickoffApproach::Speedflip
                && let Some(m) = p.mechanics.as_mut()
            {
                m.speedflips += 1;
            }
        }
        if let (Some(fp), Some(tt)) = (k.first_touch_player, k.time_to_first_touch)
            && let Some(p) = players.get_mut(fp)
        {
            let s = p.kickoffs.get_or_insert_with(PlayerKickoffs::default);
            let n = f64::from(s.first_touches);
            s.avg_time_to_first_touch =
                Some((s.avg_time_to_first_touch.unwrap_or(0.0) * n + tt) / (n + 1.0));
            s.first_touches += 1;
        }
    }
}

/// The header's metadata completed by the frame pass: playlist, duration, overtime, GUID.
fn full_metadata(
    bytes: &[u8],
    replay: &boxcars::Replay,
    header: &HeaderInfo,
    pass: &FramePass<'_>,
    players: usize,
) -> Metadata {
    let tracker = &pass.tracker;
    let mut meta = metadata(bytes, replay, header);
    meta.playlist = Playlist::resolve(
        tracker.playlist_id,
        header.match_type.as_deref() == Some("Private"),
        header.team_size,
    );
    meta.duration_seconds = pass.duration;
    meta.total_frames = pass.frames;
    meta.overtime = tracker.phase.overtime;
    meta.overtime_seconds = tracker.phase.overtime_seconds();
    if meta.match_guid.is_none() {
        meta.match_guid = tracker.match_guid.clone();
    }
    if meta.team_size == 0 {
        meta.team_size = u8::try_from(players.div_ceil(2)).unwrap_or(0);
    }
    meta
}

/// Team sums, with possession and ball-in-own-side time when the field is standard.
fn full_team_reports(
    tracker: &Tracker<'_>,
    players: &[PlayerReport],
    score: [u32; 2],
    mode_supported: bool,
) -> Vec<TeamReport> {
    let totals = &tracker.totals;
    let possession = mode_supported.then_some(totals.possession_time);
    let mut teams = team_reports(players, possession, score);
    if mode_supported {
        for (team, report) in teams.iter_mut().enumerate() {
            // Ball in own side: blue's side is −y.
            report.time_ball_in_own_side = Some(totals.ball_side_time[team]);
        }
    }
    teams
}

fn spawn_class(pos: Vec3) -> SpawnClass {
    let (x, y) = (pos.x.abs(), pos.y.abs());
    if x <= field::SPAWN_CENTER_X_MAX && y >= field::SPAWN_CENTER_Y_MIN {
        SpawnClass::Center
    } else if x <= field::SPAWN_OFF_CENTER_X_MAX && y >= field::SPAWN_OFF_CENTER_Y_MIN {
        SpawnClass::OffCenter
    } else if x >= field::SPAWN_DIAGONAL_X_MIN && y <= field::SPAWN_DIAGONAL_Y_MAX {
        SpawnClass::Diagonal
    } else {
        SpawnClass::Unknown
    }
}

fn kickoff_role(is_go: bool, spawn: Vec3) -> KickoffRole {
    if is_go {
        KickoffRole::Go
    } else if spawn.x.abs() >= field::ROLE_WING_X_MIN && spawn.y.abs() <= field::ROLE_WING_Y_MAX {
        KickoffRole::Wing
    } else if spawn.y.abs() <= field::ROLE_CHEAT_Y_MAX {
        KickoffRole::Cheat
    } else {
        KickoffRole::Back
    }
}

fn kickoff_approach(
    p: &KickoffPlayerTrack,
    is_go: bool,
    first_touch_s: Option<f64>,
) -> KickoffApproach {
    let used_pct = field::raw_to_pct(p.boost_used_raw);
    if p.max_moved < field::FAKE_KICKOFF_MOVED_MAX {
        KickoffApproach::FakeStationary
    } else if p.dodged
        && used_pct >= field::SPEEDFLIP_BOOST_PCT_MIN
        && first_touch_s.is_some_and(|t| t <= field::SPEEDFLIP_FIRST_TOUCH_MAX_S)
    {
        KickoffApproach::Speedflip
    } else if p.dodged && used_pct >= field::KICKOFF_BOOST_PCT_MIN {
        KickoffApproach::StandardFlip
    } else if used_pct >= field::KICKOFF_BOOST_PCT_MIN {
        KickoffApproach::StandardBoost
    } else if is_go {
        KickoffApproach::Delay
    } else {
        KickoffApproach::Standard
    }
}

fn kickoff_reports(
    tracker: &Tracker<'_>,
    index_of: &[Option<usize>],
    header: &HeaderInfo,
) -> Vec<Kickoff> {
    let goal_times: Vec<(f64, u8)> = header
        .goals
        .iter()
        .filter_map(|g| {
            tracker
                .totals
                .frame_t
                .get(g.frame)
                .map(|t| (f64::from(*t), g.team.min(1)))
        })
        .collect();
    let team_of = |p: usize| tracker.players.get(p).and_then(|t| t.team).unwrap_or(0);
    let report_index = |p: usize| index_of.get(p).copied().flatten();
    let kickoff = |k: &KickoffTrack| {
        // GO: the player of each team closest to the centre.
        let mut go = [None::<(usize, f32)>; 2];
        for kp in &k.players {
            let d = kp.spawn.dist_xy(Vec3::ZERO);
            let slot = &mut go[usize::from(team_of(kp.player))];
            if slot.is_none_or(|(_, bd)| d < bd) {
                *slot = Some((kp.player, d));
            }
        }
        let players = k
            .players
            .iter()
            .filter_map(|kp| {
                let player = report_index(kp.player)?;
                let is_go = go[usize::from(team_of(kp.player))].map(|g| g.0) == Some(kp.player);
                let first_touch_s = k
                    .first_touch
                    .filter(|f| f.player == kp.player)
                    .map(|f| f.after_s);
                Some(KickoffPlayer {
                    player,
                    spawn: spawn_class(kp.spawn),
                    role: kickoff_role(is_go, kp.spawn),
                    boost_used: field::raw_to_pct(kp.boost_used_raw),
                    approach: kickoff_approach(kp, is_go, first_touch_s),
                })
            })
            .collect();
        let first_team = k.first_touch.map(|f| team_of(f.player));
        let goal_after = goal_times
            .iter()
            .find(|(t, _)| *t >= k.t && *t - k.t <= field::KICKOFF_GOAL_WINDOW_S)
            .map(|g| g.1);
        // Possession after the kickoff: the team that touched last soon after the first touch.
        let settle = k
            .first_touch
            .map(|f| k.t + f.after_s + field::KICKOFF_SETTLE_S);
        let possession = settle.and_then(|s| {
            tracker
                .events
                .touches
                .iter()
                .rfind(|t| t.t >= k.t && t.t <= s)
                .map(|t| t.team)
        });
        let outcome = match (goal_after, possession.or(first_team)) {
            (Some(0), _) => KickoffOutcome::GoalForBlue,
            (Some(_), _) => KickoffOutcome::GoalForOrange,
            (None, Some(0)) => KickoffOutcome::FirstPossessionBlue,
            (None, Some(_)) => KickoffOutcome::FirstPossessionOrange,
            (None, None) => KickoffOutcome::Neutral,
        };
        Kickoff {
            t: k.t,
            frame: k.frame,
            overtime: k.overtime,
            time_to_first_touch: k.first_touch.map(|f| f.after_s),
            first_touch_player: k.first_touch.and_then(|f| report_index(f.player)),
            outcome,
            players,
        }
    };
    tracker
        .events
        .kickoffs
        .iter()
        .filter(|k| !k.players.is_empty())
        .map(kickoff)
        .collect()
}

fn timeline(
    tracker: &Tracker<'_>,
    index_of: &[Option<usize>],
    header: &HeaderInfo,
    players: &[PlayerReport],
    kickoffs: &[Kickoff],
) -> Vec<TimelineEvent> {
    let mut out = Vec::new();
    let team_of = |p: Option<usize>| p.and_then(|p| players.get(p)).map(|p| p.team);
    let mut running = [0u32; 2];
    for g in &header.goals {
        let t = tracker
            .totals
            .frame_t
            .get(g.frame)
            .copied()
            .map(f64::from)
            .unwrap_or(0.0);
        // Shot speed: the fastest ball in the second before the goal frame (the ball resets at it).
        let ball_speed = &tracker.totals.ball_speed;
        let from = g.frame.saturating_sub(field::SHOT_SPEED_FRAMES);
        let shot_speed = ball_speed
            .get(from..g.frame.min(ball_speed.len()))
            .and_then(|s| s.iter().copied().reduce(f32::max))
            .filter(|v| *v >= field::SHOT_SPEED_MIN);
        let scorer = players
            .iter()
            .position(|p| p.name == g.player_name && p.team == g.team.min(1));
        running[usize::from(g.team.min(1))] += 1;
        out.push(TimelineEvent {
            t,
            frame: g.frame,
            kind: EventKind::Goal,
            player: scorer,
            team: Some(g.team.min(1)),
            data: serde_json::json!({
                "scorer": g.player_name,
                "shot_speed": shot_speed,
                "score": running,
            }),
        });
    }
    for e in &tracker.events.stat_events {
        let player = index_of.get(e.player).copied().flatten();
        out.push(TimelineEvent {
            t: e.t,
            frame: e.frame,
            kind: e.kind,
            player,
            team: team_of(player),
            data: serde_json::json!({
                "ball_speed": e.ball_speed,
                "ball_location": e.ball_pos.map(|p| [p.x.round(), p.y.round(), p.z.round()]),
            }),
        });
    }
    for d in &tracker.events.demos {
        let victim = index_of.get(d.victim).copied().flatten();
        let attacker = d.attacker.and_then(|a| index_of.get(a).copied().flatten());
        out.push(TimelineEvent {
            t: d.t,
            frame: d.frame,
            kind: EventKind::Demo,
            player: attacker,
            team: team_of(attacker),
            data: serde_json::json!({
                "victim": victim,
                "location": [d.pos.x.round(), d.pos.y.round(), d.pos.z.round()],
            }),
        });
    }
    for k in kickoffs {
        out.push(TimelineEvent {
            t: k.t,
            frame: k.frame,
            kind: EventKind::Kickoff,
            player: k.first_touch_player,
            team: team_of(k.first_touch_player),
            data: serde_json::json!({ "outcome": k.outcome }),
        });
    }
    out.sort_by(|a, b| {
        a.frame
            .cmp(&b.frame)
            .then_with(|| a.kind.as_str().cmp(b.kind.as_str()))
    });
    out
}

fn series(tracker: &Tracker<'_>, order: &[usize], timeline: &[TimelineEvent]) -> Series {
    let goals: Vec<(f32, u8)> = timeline
        .iter()
        .filter(|e| e.kind == EventKind::Goal)
        .map(|e| (e.t as f32, e.team.unwrap_or(0)))
        .collect();
    let sampled = &tracker.series;
    let score = sampled
        .t
        .iter()
        .map(|&t| {
            let mut s = [0u8; 2];
            for (gt, team) in &goals {
                if *gt <= t {
                    s[usize::from(*team)] = s[usize::from(*team)].saturating_add(1);
                }
            }
            s
        })
        .collect();
    let pick = |v: &Vec<Vec<f32>>| -> Vec<Vec<f32>> {
        order
            .iter()
            .map(|&i| {
                let mut s = v.get(i).cloned().unwrap_or_default();
                s.resize(sampled.t.len(), -1.0);
                s
            })
            .collect()
    };
    Series {
        hz: field::SERIES_HZ,
        t: sampled.t.clone(),
        boost: pick(&sampled.boost),
        speed: pick(&sampled.speed),
        score,
    }
}

fn team_reports(
    players: &[PlayerReport],
    possession: Option<[f64; 2]>,
    score: [u32; 2],
) -> Vec<TeamReport> {
    (0..2u8)
        .map(|team| {
            let members: Vec<&PlayerReport> = players.iter().filter(|p| p.team == team).collect();
            let mut core = Core::default();
            for p in &members {
                core.score += p.core.score;
                core.goals += p.core.goals;
                core.assists += p.core.assists;
                core.saves += p.core.saves;
                core.shots += p.core.shots;
                core.demos_inflicted += p.core.demos_inflicted;
                core.demos_taken += p.core.demos_taken;
            }
            core.goals = core.goals.max(score[usize::from(team)]);
            core.shooting_percentage = if core.shots > 0 {
                f64::from(core.goals) * 100.0 / f64::from(core.shots)
            } else {
                0.0
            };
            core.goals_against = score[usize::from(1 - team)];
            core.shots_against = players
                .iter()
                .filter(|p| p.team != team)
                .map(|p| p.core.shots)
                .sum();
            let boost = sum_family(
                &members,
                |p| p.boost.clone(),
                |a, b| {
                    a.bpm += b.bpm;
                    a.bcpm += b.bcpm;
                    a.avg_amount += b.avg_amount;
                    a.amount_collected += b.amount_collected;
                    a.amount_collected_big += b.amount_collected_big;
                    a.amount_collected_small += b.amount_collected_small;
                    a.count_collected_big += b.count_collected_big;
                    a.count_collected_small += b.count_collected_small;
                    a.amount_stolen += b.amount_stolen;
                    a.amount_stolen_big += b.amount_stolen_big;
                    a.amount_stolen_small += b.amount_stolen_small;
                    a.count_stolen_big += b.count_stolen_big;
                    a.count_stolen_small += b.count_stolen_small;
                    a.amount_overfill += b.amount_overfill;
                    a.amount_overfill_stolen += b.amount_overfill_stolen;
                    a.amount_used_while_supersonic += b.amount_used_while_supersonic;
                    a.time_zero_boost += b.time_zero_boost;
                    a.time_full_boost += b.time_full_boost;
                    a.time_boost_0_25 += b.time_boost_0_25;
                    a.time_boost_25_50 += b.time_boost_25_50;
                    a.time_boost_50_75 += b.time_boost_50_75;
                    a.time_boost_75_100 += b.time_boost_75_100;
                },
            );
            let movement = sum_family(
                &members,
                |p| p.movement.clone(),
                |a, b| {
                    a.total_distance += b.total_distance;
                    a.time_slow_speed += b.time_slow_speed;
                    a.time_boost_speed += b.time_boost_speed;
                    a.time_supersonic_speed += b.time_supersonic_speed;
                    a.time_ground += b.time_ground;
                    a.time_low_air += b.time_low_air;
                    a.time_high_air += b.time_high_air;
                    a.time_powerslide += b.time_powerslide;
                    a.count_powerslide += b.count_powerslide;
                },
            );
            let positioning = sum_family(
                &members,
                |p| p.positioning.clone(),
                |a, b| {
                    a.time_behind_ball += b.time_behind_ball;
                    a.time_infront_ball += b.time_infront_ball;
                    a.time_defensive_half += b.time_defensive_half;
                    a.time_offensive_half += b.time_offensive_half;
                    a.time_defensive_third += b.time_defensive_third;
                    a.time_neutral_third += b.time_neutral_third;
                    a.time_offensive_third += b.time_offensive_third;
                },
            );
            TeamReport {
                color: if team == 0 { "blue" } else { "orange" }.into(),
                core,
                boost,
                movement,
                positioning,
                time_ball_possession: possession.map(|p| p[usize::from(team)]),
                time_ball_in_own_side: None,
            }
        })
        .collect()
}

/// Team value = sum of member values for the fields ballchasing sums; None if any member lacks the family.
fn sum_family<T: Default>(
    members: &[&PlayerReport],
    get: impl Fn(&PlayerReport) -> Option<T>,
    add: impl Fn(&mut T, &T),
) -> Option<T> {
    if members.is_empty() {
        return None;
    }
    let mut total = T::default();
    for m in members {
        add(&mut total, &get(m)?);
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::header::HeaderGoal;
    use crate::analysis::stats::PlayerAcc;

    fn id(platform: &str, id: &str) -> PlayerId {
        PlayerId {
            platform: platform.into(),
            id: id.into(),
        }
    }

    /// A 2016-style match: Anna stays to the end; Leo scores and leaves, so the header's final
    /// stats do not list him and his PRI's goal counter was lost with it (only the header's goal
    /// list names him); a bot replaces him on blue, and another bot plays for orange to the end.
    /// Every player gets a row, the leaver's goal comes from the goal list, bots are flagged, and
    /// the team sums include everyone, so blue's goals equal its score.
    #[test]
    fn leavers_and_bots_get_rows_and_the_goals_the_header_credits_them() {
        let objects: &'static ObjectTable = Box::leak(Box::new(ObjectTable::new(&[])));
        let mut tracker = Tracker::new(objects, &[], 0, Some(10), Vec::new());
        let mut add = |pid: PlayerId, name: &str, bot: bool, team: u8, score: u32, shots: u32| {
            let mut t = PlayerTrack::new(pid, name.into(), bot);
            t.team = Some(team);
            t.pri_stats.score = score;
            t.pri_stats.shots = shots;
            tracker.players.push(t);
            tracker.totals.accs.push(PlayerAcc::default());
        };
        add(id("steam", "1"), "Anna", false, 0, 0, 0);
        add(id("steam", "2"), "Leo", false, 0, 150, 1); // left; goal counter lost
        add(id("bot", "Beast"), "Beast", true, 0, 40, 0); // replaced Leo, left at the end
        add(id("bot", "Sundown"), "Sundown", true, 1, 90, 0);
        let header_row =
            |name: &str, bot: bool, online: Option<u64>, team: u8, score: u32| HeaderPlayer {
                name: name.into(),
                platform: online.map(|_| "OnlinePlatform_Steam".into()),
                online_id: online,
                team,
                score,
                goals: u32::from(name == "Anna"),
                shots: 2,
                is_bot: bot,
                ..HeaderPlayer::default()
            };
        let goal = |name: &str| HeaderGoal {
            frame: 100,
            player_name: name.into(),
            team: 0,
        };
        let header = HeaderInfo {
            team_size: 2,
            score: [2, 0],
            players: vec![
                header_row("Anna", false, Some(1), 0, 300),
                header_row("Sundown", true, None, 1, 100),
            ],
            goals: vec![goal("Anna"), goal("Leo")],
            ..HeaderInfo::default()
        };
        let mut warnings = Vec::new();
        let players = roster(&tracker, &header, true, &mut warnings).players;
        assert!(warnings.is_empty(), "{warnings:?}");
        let row = |name: &str| players.iter().find(|p| p.name == name).unwrap();
        assert_eq!(players.len(), 4, "a row for every player who had a car");

        let leo = row("Leo");
        assert_eq!((leo.team, leo.core.goals, leo.core.score), (0, 1, 150));
        assert_eq!(leo.core.shooting_percentage, 100.0);
        let anna = row("Anna");
        assert_eq!((anna.core.goals, anna.core.score), (1, 300), "header row");
        let beast = row("Beast");
        assert!(beast.is_bot && beast.id.platform == "bot");
        assert_eq!(
            (beast.core.goals, beast.core.score),
            (0, 40),
            "PRI counters"
        );
        let sundown = row("Sundown");
        assert!(sundown.is_bot);
        assert_eq!(sundown.core.score, 100, "the header's final stats win");

        let teams = team_reports(&players, None, header.score);
        assert_eq!(teams[0].core.goals, 2, "blue's goals include the leaver's");
        assert_eq!(teams[0].core.score, 300 + 150 + 40);
        assert_eq!(teams[1].core.score, 100);
    }
}
