//! Display names for the game's internal identifiers (map asset names, playlists), for cards,
//! embeds and the web. Unknown values fall back to a tidied form of the raw name.

use crate::playlist::Playlist;

/// `EuroStadium_Dusk_P` → `Mannfield (Dusk)`; unknown maps lose the `_P` suffix.
pub fn map_name(raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    let stem = lower.strip_suffix("_p").unwrap_or(&lower);
    let mut parts: Vec<&str> = stem.split('_').collect();
    // The longest known prefix of parts names the base map; the rest is the variant.
    for take in (1..=parts.len()).rev() {
        let key = parts[..take].join("_");
        if let Some(base) = BASE.iter().find(|(k, _)| *k == key).map(|(_, v)| *v) {
            let variant: Vec<String> = parts
                .drain(take..)
                .map(|v| {
                    VARIANT
                        .iter()
                        .find(|(k, _)| *k == v)
                        .map_or_else(|| title(v), |(_, n)| (*n).to_string())
                })
                .collect();
            return if variant.is_empty() {
                base.to_string()
            } else {
                format!("{base} ({})", variant.join(" "))
            };
        }
    }
    raw.strip_suffix("_P")
        .or_else(|| raw.strip_suffix("_p"))
        .unwrap_or(raw)
        .replace('_', " ")
}

fn title(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

const BASE: &[(&str, &str)] = &[
    ("stadium", "DFH Stadium"),
    ("eurostadium", "Mannfield"),
    ("cs", "Champions Field"),
    ("cs_hw", "Rivals Arena"),
    ("utopiastadium", "Utopia Coliseum"),
    ("wasteland", "Wasteland"),
    ("park", "Beckwith Park"),
    ("trainstation", "Urban Central"),
    ("neotokyo_standard", "Neo Tokyo"),
    ("underwater", "AquaDome"),
    ("arc_standard", "Starbase ARC"),
    ("beach", "Salty Shores"),
    ("farm", "Farmstead"),
    ("outlaw", "Deadeye Canyon"),
    ("chn_stadium", "Forbidden Temple"),
    ("street", "Sovereign Heights"),
    ("music", "Neon Fields"),
    ("fni_stadium", "Estadio Vida"),
    ("woods", "Drift Woods"),
    ("hoopsstadium", "Dunk House"),
    ("shattershot", "Core 707"),
    ("labs_circlepillars", "Pillars"),
    ("throwbackstadium", "Throwback Stadium"),
    ("swoosh", "Champions Field (Nike FC)"),
    ("ff_dusk", "Futura Garden"),
    ("bb", "Champions Field (NFL)"),
];

const VARIANT: &[(&str, &str)] = &[
    ("dusk", "Dusk"),
    ("night", "Night"),
    ("day", "Day"),
    ("dawn", "Dawn"),
    ("rainy", "Stormy"),
    ("foggy", "Foggy"),
    ("snowy", "Snowy"),
    ("grs", "Grass"),
    ("oasis", "Oasis"),
    ("toxic", "Toxic"),
    ("spooky", "Spooky"),
    ("winter", "Winter"),
];

/// `DOUBLES` → `Doubles`, `PRIVATE` → `Private match`.
/// Labels no report of ours carries (older or hand-made data) get a readable name too.
pub fn playlist_name(raw: &str) -> String {
    if let Some(p) = Playlist::from_label(raw) {
        return p.display_name().into();
    }
    match raw.to_ascii_uppercase().as_str() {
        "HOOPS" => "Hoops".into(),
        "RUMBLE" => "Rumble".into(),
        "DROPSHOT" => "Dropshot".into(),
        "SNOWDAY" => "Snow Day".into(),
        "" => Playlist::Unknown.display_name().into(),
        other => title(&other.to_ascii_lowercase()),
    }
}

/// 343.6 → `5:43`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps() {
        assert_eq!(map_name("EuroStadium_Dusk_P"), "Mannfield (Dusk)");
        assert_eq!(map_name("CHN_Stadium_P"), "Forbidden Temple");
        assert_eq!(map_name("cs_day_p"), "Champions Field (Day)");
        assert_eq!(map_name("Stadium_P"), "DFH Stadium");
        assert_eq!(map_name("Outlaw_Oasis_P"), "Deadeye Canyon (Oasis)");
        assert_eq!(map_name("Mystery_Arena_P"), "Mystery Arena");
    }

    #[test]
    fn playlists_and_clock() {
        assert_eq!(playlist_name("DOUBLES"), "Doubles");
        assert_eq!(playlist_name("SOMETHING"), "Something");
        assert_eq!(clock(343.6), "5:44");
        assert_eq!(clock(-1.0), "0:00");
    }
}
