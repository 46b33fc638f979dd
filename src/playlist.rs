//! The playlist a game was played in: the one place its labels (as stored in reports and the
//! database), its network ids and its display names are spelled.

use serde::{Deserialize, Serialize};

/// Serialized as the report's labels (`DUEL`, `DOUBLES`, …, `UNKNOWN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Playlist {
    Duel,
    Doubles,
    Standard,
    Chaos,
    Private,
    Season,
    Offline,
    Tournament,
    /// Hoops, Rumble, Dropshot, Snow Day, Heatseeker and the other extra modes.
    ExtraMode,
    #[serde(other)]
    Unknown,
}

impl Playlist {
    pub const ALL: [Playlist; 10] = [
        Playlist::Duel,
        Playlist::Doubles,
        Playlist::Standard,
        Playlist::Chaos,
        Playlist::Private,
        Playlist::Season,
        Playlist::Offline,
        Playlist::Tournament,
        Playlist::ExtraMode,
        Playlist::Unknown,
    ];

    /// From the network's `ReplicatedGamePlaylist` id.
    pub fn from_id(id: i32) -> Playlist {
        match id {
            1 | 10 => Playlist::Duel,
            2 | 11 => Playlist::Doubles,
            3 | 13 => Playlist::Standard,
            4 => Playlist::Chaos,
            6 => Playlist::Private,
            7 | 8 => Playlist::Season,
            9 => Playlist::Offline,
            22 | 34 => Playlist::Tournament,
            27..=30 | 15..=18 | 23 | 25 | 26 | 31..=33 | 35..=50 => Playlist::ExtraMode,
            _ => Playlist::Unknown,
        }
    }

    /// From the network id when it names a playlist, else from the header: a private match, or
    /// the team size.
    pub fn resolve(id: Option<i32>, private_match: bool, team_size: u8) -> Playlist {
        if let Some(p) = id
            .map(Playlist::from_id)
            .filter(|p| *p != Playlist::Unknown)
        {
            return p;
        }
        if private_match {
            return Playlist::Private;
        }
        match team_size {
            1 => Playlist::Duel,
            2 => Playlist::Doubles,
            3 => Playlist::Standard,
            4 => Playlist::Chaos,
            _ => Playlist::Unknown,
        }
    }

    /// The network ids of the extra modes played on a Soccar-like arena with another ball or
    /// rules (Hoops, Rumble, Dropshot, Snow Day): their field stats are not reported.
    pub fn is_extra_mode_id(id: i32) -> bool {
        (27..=30).contains(&id)
    }

    /// The label stored in reports and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Playlist::Duel => "DUEL",
            Playlist::Doubles => "DOUBLES",
            Playlist::Standard => "STANDARD",
            Playlist::Chaos => "CHAOS",
            Playlist::Private => "PRIVATE",
            Playlist::Season => "SEASON",
            Playlist::Offline => "OFFLINE",
            Playlist::Tournament => "TOURNAMENT",
            Playlist::ExtraMode => "EXTRA_MODE",
            Playlist::Unknown => "UNKNOWN",
        }
    }

    /// A stored label, case-insensitively; None for a label no report of ours carries.
    pub fn from_label(label: &str) -> Option<Playlist> {
        Playlist::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(label))
    }

    /// What people call it: `Doubles`, `Private match`.
    pub fn display_name(self) -> &'static str {
        match self {
            Playlist::Duel => "Duel",
            Playlist::Doubles => "Doubles",
            Playlist::Standard => "Standard",
            Playlist::Chaos => "Chaos",
            Playlist::Private => "Private match",
            Playlist::Season => "Season",
            Playlist::Offline => "Offline",
            Playlist::Tournament => "Tournament",
            Playlist::ExtraMode => "Extra_mode",
            Playlist::Unknown => "Unknown playlist",
        }
    }
}

impl std::fmt::Display for Playlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_serde_and_text() {
        for p in Playlist::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Playlist>(&json).unwrap(), p);
            assert_eq!(Playlist::from_label(&p.as_str().to_lowercase()), Some(p));
        }
        assert_eq!(
            serde_json::from_str::<Playlist>("\"HOOPS\"").unwrap(),
            Playlist::Unknown
        );
    }

    #[test]
    fn the_network_id_wins_over_the_header() {
        assert_eq!(Playlist::resolve(Some(11), true, 1), Playlist::Doubles);
        assert_eq!(Playlist::resolve(Some(99), true, 1), Playlist::Private);
        assert_eq!(Playlist::resolve(None, false, 1), Playlist::Duel);
        assert_eq!(Playlist::resolve(None, false, 5), Playlist::Unknown);
    }
}
