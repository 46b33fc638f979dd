//! Reads the replay header: match metadata, the in-game scoreboard (`PlayerStats`) and goal frames.
//! The header is authoritative for the scoreboard and for goals; network data never overrides it.

use boxcars::{HeaderProp, Replay};

use super::{AnalyzeError, MAX_HEADER_GOALS, MAX_HEADER_PLAYERS};

#[derive(Debug, Clone, Default)]
pub struct HeaderInfo {
    pub team_size: u8,
    pub score: [u32; 2],
    pub match_guid: Option<String>,
    pub replay_name: Option<String>,
    pub date: Option<String>,
    pub started_at_unix: Option<i64>,
    pub map: Option<String>,
    pub match_type: Option<String>,
    pub build_version: Option<String>,
    pub record_fps: Option<f64>,
    pub num_frames: Option<i64>,
    pub total_seconds_played: Option<f64>,
    pub forfeit: bool,
    pub players: Vec<HeaderPlayer>,
    pub goals: Vec<HeaderGoal>,
}

#[derive(Debug, Clone, Default)]
pub struct HeaderPlayer {
    pub name: String,
    pub platform: Option<String>,
    pub online_id: Option<u64>,
    pub team: u8,
    pub score: u32,
    pub goals: u32,
    pub assists: u32,
    pub saves: u32,
    pub shots: u32,
    pub is_bot: bool,
}

#[derive(Debug, Clone)]
pub struct HeaderGoal {
    pub frame: usize,
    pub player_name: String,
    pub team: u8,
}

fn find<'a>(props: &'a [(String, HeaderProp)], key: &str) -> Option<&'a HeaderProp> {
    props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn int(props: &[(String, HeaderProp)], key: &str) -> Option<i64> {
    match find(props, key)? {
        HeaderProp::Int(v) => Some(i64::from(*v)),
        HeaderProp::QWord(v) => i64::try_from(*v).ok(),
        HeaderProp::Byte { .. } => None,
        _ => None,
    }
}

fn string(props: &[(String, HeaderProp)], key: &str) -> Option<String> {
    match find(props, key)? {
        HeaderProp::Str(s) | HeaderProp::Name(s) => Some(s.clone()),
        _ => None,
    }
}

fn count(props: &[(String, HeaderProp)], key: &str) -> u32 {
    int(props, key)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0)
}

/// The header's match information. Refuses a scoreboard or goal list longer than any real match
/// has (see [`MAX_HEADER_PLAYERS`], [`MAX_HEADER_GOALS`]) before reading their entries.
pub fn read(replay: &Replay) -> Result<HeaderInfo, AnalyzeError> {
    let p = &replay.properties;
    let stats = find(p, "PlayerStats").and_then(HeaderProp::as_array);
    let players = stats.map_or(0, Vec::len);
    if players > MAX_HEADER_PLAYERS {
        return Err(AnalyzeError::TooManyPlayers {
            players,
            limit: MAX_HEADER_PLAYERS,
        });
    }
    let goals = find(p, "Goals").and_then(HeaderProp::as_array);
    let goal_count = goals.map_or(0, Vec::len);
    if goal_count > MAX_HEADER_GOALS {
        return Err(AnalyzeError::TooManyGoals {
            goals: goal_count,
            limit: MAX_HEADER_GOALS,
        });
    }
    let mut info = HeaderInfo {
        team_size: int(p, "TeamSize")
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(0),
        score: [count(p, "Team0Score"), count(p, "Team1Score")],
        match_guid: string(p, "MatchGUID").filter(|s| !s.is_empty()),
        replay_name: string(p, "ReplayName"),
        date: string(p, "Date"),
        started_at_unix: int(p, "MatchStartEpoch"),
        map: string(p, "MapName"),
        match_type: string(p, "MatchType"),
        build_version: string(p, "BuildVersion"),
        record_fps: find(p, "RecordFPS")
            .and_then(HeaderProp::as_float)
            .map(f64::from),
        num_frames: int(p, "NumFrames"),
        total_seconds_played: find(p, "TotalSecondsPlayed")
            .and_then(HeaderProp::as_float)
            .map(f64::from),
        forfeit: find(p, "bForfeit")
            .and_then(HeaderProp::as_bool)
            .unwrap_or(false),
        ..HeaderInfo::default()
    };
    if let Some(stats) = stats {
        for ps in stats {
            let platform = match find(ps, "Platform") {
                Some(HeaderProp::Byte { value: Some(v), .. }) => Some(v.clone()),
                _ => None,
            };
            info.players.push(HeaderPlayer {
                name: string(ps, "Name").unwrap_or_default(),
                platform,
                online_id: match find(ps, "OnlineID") {
                    Some(HeaderProp::QWord(v)) => Some(*v),
                    _ => None,
                },
                team: int(ps, "Team")
                    .and_then(|t| u8::try_from(t).ok())
                    .unwrap_or(0),
                score: count(ps, "Score"),
                goals: count(ps, "Goals"),
                assists: count(ps, "Assists"),
                saves: count(ps, "Saves"),
                shots: count(ps, "Shots"),
                is_bot: find(ps, "bBot")
                    .and_then(HeaderProp::as_bool)
                    .unwrap_or(false),
            });
        }
    }
    if let Some(goals) = goals {
        for g in goals {
            let Some(frame) = int(g, "frame").and_then(|f| usize::try_from(f).ok()) else {
                continue;
            };
            info.goals.push(HeaderGoal {
                frame,
                player_name: string(g, "PlayerName").unwrap_or_default(),
                team: int(g, "PlayerTeam")
                    .and_then(|t| u8::try_from(t).ok())
                    .unwrap_or(0),
            });
        }
    }
    // Older replays omit Team0Score/Team1Score when a team scored nothing; the goal list is complete.
    if info.score == [0, 0] && !info.goals.is_empty() {
        for g in &info.goals {
            if let Some(s) = info.score.get_mut(usize::from(g.team.min(1))) {
                *s += 1;
            }
        }
    }
    Ok(info)
}

/// Maps a map name to whether it is a standard Soccar arena (pads and field as in STATS.md §0).
pub fn is_soccar_map(map: &str, game_type: &str) -> bool {
    let m = map.to_ascii_lowercase();
    let non_soccar = [
        "hoops",
        "dunk",
        "shattershot",
        "labs_",
        "hs_",
        "haunted",
        "snowday",
        "throwback",
        "tutorial",
        "arc_",
        "beach_night_grs",
    ];
    game_type.contains("Soccar") && !non_soccar.iter().any(|k| m.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pad and field-position stats need the standard Soccar field: other arenas and modes are
    /// flagged (their stats left out) rather than measured against the wrong geometry.
    #[test]
    fn only_standard_soccar_arenas_count_as_soccar() {
        let soccar = "TAGame.Replay_Soccar_TA";
        for map in [
            "EuroStadium_Dusk_P",
            "UtopiaStadium_P",
            "cs_day_p",
            "Wasteland_GRS_P",
            "Park_Snowy_P",
        ] {
            assert!(is_soccar_map(map, soccar), "{map}");
        }
        for map in [
            "HoopsStadium_P",
            "Labs_Octagon_02_P",
            "ShatterShot_P",
            "Haunted_TrainStation_P",
            "HoopsStreet_P",
            "throwbackstadium_P",
            "arc_darc_p",
        ] {
            assert!(!is_soccar_map(map, soccar), "{map}");
        }
        assert!(!is_soccar_map(
            "EuroStadium_Dusk_P",
            "TAGame.Replay_Basketball_TA"
        ));
    }
}
