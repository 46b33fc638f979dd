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

/// Deepest nesting of header properties accepted: real headers nest two deep (the scoreboard is
/// an array of property lists, a player's id a struct inside one). boxcars parses them
/// recursively, so a forged header of thousands of nested arrays (45 bytes each, a few thousand
/// fit under the header cap) would overflow a worker thread's stack and abort the process.
pub const MAX_HEADER_DEPTH: usize = 8;

/// Why the layout walk stopped.
enum Stop {
    /// Something boxcars cannot read either: left to its parse to report.
    Unreadable,
    Refused(AnalyzeError),
}

/// A cursor over the file for [`check_layout`]: reads stay within the header section.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Where the header section ends by its size word.
    end: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        let next = self.at.checked_add(n).ok_or(Stop::Unreadable)?;
        if next > self.end && self.end <= self.bytes.len() && next <= self.bytes.len() {
            return Err(Stop::Refused(AnalyzeError::EditedHeader(format!(
                "the header's properties run past the {} bytes its size word gives",
                self.end - 8
            ))));
        }
        let data = self.bytes.get(self.at..next).ok_or(Stop::Unreadable)?;
        self.at = next;
        Ok(data)
    }

    fn i32(&mut self) -> Result<i32, Stop> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// boxcars' `parse_str`: i32 byte length, the last byte dropped.
    fn str(&mut self) -> Result<&'a [u8], Stop> {
        let n = usize::try_from(self.i32()?).map_err(|_| Stop::Unreadable)?;
        let b = self.take(n)?;
        Ok(&b[..n.saturating_sub(1)])
    }

    /// boxcars' `parse_text`: i32 length, negative for UTF-16, at most 10,000 characters.
    fn text(&mut self) -> Result<(), Stop> {
        let n = self.i32()?;
        if !(-10_000..=10_000).contains(&n) {
            return Err(Stop::Unreadable);
        }
        self.take(n.unsigned_abs() as usize * if n < 0 { 2 } else { 1 })?;
        Ok(())
    }
}

/// Walks the header's properties as boxcars will parse them, without recursion and before it
/// does, and refuses a header nested deeper than [`MAX_HEADER_DEPTH`] or whose properties run
/// past the end its size word gives (boxcars reads them on into the file, so a size word under
/// the header cap could hide a header of megabytes). What boxcars cannot read either is left to
/// its parse to report, and so is a header section that fails its CRC (damaged, not edited).
pub fn check_layout(bytes: &[u8]) -> Result<(), AnalyzeError> {
    let Some(words) = bytes.get(..8) else {
        return Ok(());
    };
    let size = u32::from_le_bytes([words[0], words[1], words[2], words[3]]) as usize;
    let crc = u32::from_le_bytes([words[4], words[5], words[6], words[7]]);
    match bytes.get(8..size.saturating_add(8)) {
        Some(section) if boxcars::crc::calc_crc(section) == crc => {}
        _ => return Ok(()),
    }
    let mut c = Cursor {
        bytes,
        at: 8,
        end: size.saturating_add(8),
    };
    match walk(&mut c) {
        Ok(()) | Err(Stop::Unreadable) => Ok(()),
        Err(Stop::Refused(e)) => Err(e),
    }
}

fn walk(c: &mut Cursor<'_>) -> Result<(), Stop> {
    let major = c.i32()?;
    let minor = c.i32()?;
    let net = if major > 865 && minor > 17 {
        Some(c.i32()?)
    } else {
        None
    };
    let quirks = (major, minor, net) == (0, 0, None);
    c.text()?; // game type
    // Property lists still to read after the current one, per open level.
    let mut open: Vec<usize> = vec![0];
    loop {
        let key = c.str()?;
        if key == b"None" {
            // This list is done: the next one of its array, or back to the enclosing list.
            let Some(rest) = open.last_mut() else {
                return Ok(());
            };
            if *rest > 0 {
                *rest -= 1;
            } else {
                open.pop();
                if open.is_empty() {
                    return Ok(());
                }
            }
            continue;
        }
        let kind = c.str()?;
        c.take(8)?; // value size, ignored by boxcars
        let nested = match kind {
            b"BoolProperty" => {
                c.take(if quirks { 4 } else { 1 })?;
                None
            }
            b"ByteProperty" if quirks => {
                c.text()?;
                None
            }
            b"ByteProperty" => {
                if c.str()? == b"None" {
                    c.take(1)?;
                } else {
                    c.str()?;
                }
                None
            }
            b"FloatProperty" | b"IntProperty" => {
                c.take(4)?;
                None
            }
            b"QWordProperty" => {
                c.take(8)?;
                None
            }
            b"NameProperty" | b"StrProperty" => {
                c.text()?;
                None
            }
            b"StructProperty" => {
                c.str()?;
                Some(1)
            }
            b"ArrayProperty" => {
                let n = usize::try_from(c.i32()?).map_err(|_| Stop::Unreadable)?;
                if n > 25_000 {
                    return Err(Stop::Unreadable);
                }
                (n > 0).then_some(n)
            }
            _ => return Err(Stop::Unreadable),
        };
        if let Some(lists) = nested {
            if open.len() >= MAX_HEADER_DEPTH {
                return Err(Stop::Refused(AnalyzeError::EditedHeader(format!(
                    "header properties nested over {MAX_HEADER_DEPTH} deep"
                ))));
            }
            open.push(lists - 1);
        }
    }
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
