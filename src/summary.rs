//! One presentation of a finished game, worked out once from a [`Report`]: who won, the title
//! line, the subtitle's parts, the team and player order, the MVP and the notes. The match card,
//! the bot's embed and series summary (and the web page) each show it their own way, so they
//! cannot disagree on what happened.

use crate::names;
use crate::report::Report;

/// Blue's and orange's names as shown everywhere.
pub fn team_name(team: u8) -> &'static str {
    if team == 0 { "Blue" } else { "Orange" }
}

/// The winning team, None for a draw (forfeits and unfinished replays can end level).
pub fn winner(score: [u32; 2]) -> Option<u8> {
    match score[0].cmp(&score[1]) {
        std::cmp::Ordering::Greater => Some(0),
        std::cmp::Ordering::Less => Some(1),
        std::cmp::Ordering::Equal => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GameSummary {
    pub score: [u32; 2],
    pub winner: Option<u8>,
    /// `Blue 3 – 2 Orange`, with ` (OT)` after overtime.
    pub title: String,
    /// Display names: `DFH Stadium`, `Doubles`.
    pub map: String,
    pub playlist: String,
    /// `2v2`.
    pub format: String,
    /// Match duration, `5:43`.
    pub duration: String,
    /// Time played in overtime, `1:02`, when the game went to overtime.
    pub overtime: Option<String>,
    /// Blue, then orange.
    pub teams: [TeamSummary; 2],
    /// Index into `Report::players`.
    pub mvp: Option<usize>,
    pub notes: Vec<GameNote>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamSummary {
    pub team: u8,
    pub name: &'static str,
    pub goals: u32,
    /// Indices into `Report::players`: best score first, ties by name.
    pub players: Vec<usize>,
}

/// What a reader should know about how far to trust the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GameNote {
    /// The network data could not be read: scoreboard only.
    ScoreboardOnly,
    /// A mode or arena without field stats (pads, positions).
    FieldStatsUnavailable,
    Forfeit,
}

impl GameNote {
    pub fn text(self) -> &'static str {
        match self {
            GameNote::ScoreboardOnly => {
                "Scoreboard only: this replay's match data could not be read"
            }
            GameNote::FieldStatsUnavailable => "Field stats are not available for this game mode",
            GameNote::Forfeit => "Ended by forfeit",
        }
    }
}

impl GameSummary {
    pub fn from_report(r: &Report) -> Self {
        let m = &r.metadata;
        let team = |team: u8| {
            let mut players: Vec<usize> = (0..r.players.len())
                .filter(|&i| r.players[i].team == team)
                .collect();
            players.sort_by(|&a, &b| {
                let (a, b) = (&r.players[a], &r.players[b]);
                b.core
                    .score
                    .cmp(&a.core.score)
                    .then_with(|| a.name.cmp(&b.name))
            });
            TeamSummary {
                team,
                name: team_name(team),
                goals: m.score[usize::from(team)],
                players,
            }
        };
        let mut title = format!("Blue {} – {} Orange", m.score[0], m.score[1]);
        if m.overtime {
            title.push_str(" (OT)");
        }
        let mut notes = Vec::new();
        if !r.quality.network_parsed {
            notes.push(GameNote::ScoreboardOnly);
        } else if !r.quality.mode_supported {
            notes.push(GameNote::FieldStatsUnavailable);
        }
        if m.forfeit {
            notes.push(GameNote::Forfeit);
        }
        let size = m.team_size.max(1);
        GameSummary {
            score: m.score,
            winner: winner(m.score),
            title,
            map: m
                .map
                .as_deref()
                .map_or_else(|| "Unknown map".to_string(), names::map_name),
            playlist: m.playlist.display_name().to_string(),
            format: format!("{size}v{size}"),
            duration: names::clock(m.duration_seconds),
            overtime: m.overtime.then(|| names::clock(m.overtime_seconds)),
            teams: [team(0), team(1)],
            mvp: r.players.iter().position(|p| p.core.mvp),
            notes,
        }
    }

    /// `Map  ·  Playlist  ·  2v2  ·  5:43 (OT +1:02)`.
    pub fn subtitle(&self) -> String {
        let mut duration = self.duration.clone();
        if let Some(ot) = &self.overtime {
            duration.push_str(&format!(" (OT +{ot})"));
        }
        [self.map.as_str(), &self.playlist, &self.format, &duration].join("  ·  ")
    }
}
