//! Colours and sizes shared by every card, tuned to read on both Discord themes: each image
//! carries its own dark background, so it never depends on the client's.

use plotters::style::RGBColor;

pub const BG: RGBColor = RGBColor(0x14, 0x17, 0x1c);
pub const PANEL: RGBColor = RGBColor(0x1e, 0x23, 0x2b);
pub const PANEL_ALT: RGBColor = RGBColor(0x24, 0x2a, 0x33);
pub const GRID: RGBColor = RGBColor(0x34, 0x3b, 0x46);
pub const TEXT: RGBColor = RGBColor(0xec, 0xee, 0xf1);
pub const MUTED: RGBColor = RGBColor(0x9a, 0xa4, 0xb1);
pub const GOOD: RGBColor = RGBColor(0x3f, 0xc8, 0x7a);
pub const BAD: RGBColor = RGBColor(0xf0, 0x5a, 0x5a);
pub const GOLD: RGBColor = RGBColor(0xf5, 0xc5, 0x42);
pub const HIGHLIGHT: RGBColor = RGBColor(0xff, 0xff, 0xff);
pub const PITCH: RGBColor = RGBColor(0x1b, 0x2a, 0x22);
pub const PITCH_LINE: RGBColor = RGBColor(0x4d, 0x63, 0x56);

pub const BLUE: RGBColor = RGBColor(0x3b, 0x8b, 0xf0);
pub const ORANGE: RGBColor = RGBColor(0xf5, 0x9a, 0x2c);
pub const BLUE_DARK: RGBColor = RGBColor(0x1c, 0x33, 0x52);
pub const ORANGE_DARK: RGBColor = RGBColor(0x4a, 0x31, 0x16);

/// Lighter and darker shades so that up to four players of one team stay distinguishable.
const BLUE_SHADES: [RGBColor; 4] = [
    RGBColor(0x3b, 0x8b, 0xf0),
    RGBColor(0x4f, 0xe0, 0xd8),
    RGBColor(0xa8, 0x8c, 0xff),
    RGBColor(0xd6, 0xe6, 0xff),
];
const ORANGE_SHADES: [RGBColor; 4] = [
    RGBColor(0xf5, 0x9a, 0x2c),
    RGBColor(0xff, 0xe0, 0x66),
    RGBColor(0xff, 0x6b, 0x6b),
    RGBColor(0xff, 0xd6, 0xc0),
];

pub fn team(team: u8) -> RGBColor {
    if team == 0 { BLUE } else { ORANGE }
}

pub fn team_dark(team: u8) -> RGBColor {
    if team == 0 { BLUE_DARK } else { ORANGE_DARK }
}

/// The colour of the `nth` player of a team.
pub fn player(team: u8, nth: usize) -> RGBColor {
    let shades = if team == 0 {
        &BLUE_SHADES
    } else {
        &ORANGE_SHADES
    };
    shades[nth % shades.len()]
}

pub use crate::summary::team_name;
