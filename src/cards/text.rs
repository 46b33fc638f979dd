//! Fonts and text fitting. Fonts are compiled in from `assets/fonts` (DejaVu Sans, and Droid Sans
//! Fallback for CJK and Hangul; licences beside them) and registered with plotters once, so
//! rendering never touches fontconfig and is identical on every machine. Text is split into runs
//! by which font has the glyphs (plotters has no per-glyph fallback); characters neither font has
//! (emoji) are dropped or replaced, never drawn as empty boxes, and text that would overflow its
//! box is cut with an ellipsis.

use std::sync::OnceLock;

use ab_glyph::{Font as _, FontRef};
use plotters::prelude::*;
use plotters::style::FontStyle;

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
const FALLBACK: &[u8] = include_bytes!("../../assets/fonts/DroidSansFallbackFull.ttf");

/// The family for characters DejaVu lacks (CJK, Hangul, kana).
pub const FALLBACK_FAMILY: &str = "rlcoach-fallback";

/// The one family name used everywhere (also plotters' default for axis labels).
pub const FAMILY: &str = "sans-serif";

/// Registers the embedded fonts with plotters (idempotent, thread-safe).
pub fn ensure_fonts() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // The bytes are compiled in and valid; a failure here is a build defect caught by tests.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, REGULAR);
        let _ = plotters::style::register_font(FAMILY, FontStyle::Bold, BOLD);
        let _ = plotters::style::register_font(FALLBACK_FAMILY, FontStyle::Normal, FALLBACK);
    });
}

fn font_ref() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(REGULAR).expect("embedded font parses"))
}

fn fallback_ref() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FALLBACK).expect("embedded font parses"))
}

fn in_primary(c: char) -> bool {
    c == ' ' || font_ref().glyph_id(c).0 != 0
}

fn in_any(c: char) -> bool {
    in_primary(c) || fallback_ref().glyph_id(c).0 != 0
}

/// `font` in the fallback family, same size.
fn fallback_of(font: &FontDesc<'_>) -> FontDesc<'static> {
    FontDesc::new(
        FontFamily::Name(FALLBACK_FAMILY),
        font.get_size(),
        FontStyle::Normal,
    )
}

/// Splits text into runs drawn with the primary font (false) or the fallback (true).
pub fn runs(text: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for c in text.chars() {
        let fallback = !in_primary(c);
        match out.last_mut() {
            Some((s, f)) if *f == fallback || c == ' ' => s.push(c),
            _ => out.push((c.to_string(), fallback)),
        }
    }
    out
}

/// A run of text laid out in one font.
pub struct Run<'a> {
    pub text: String,
    pub font: FontDesc<'a>,
    pub width: i32,
    pub fallback: bool,
}

/// Each run with the font it is drawn in and its width.
pub fn layout<'a>(text: &str, font: &FontDesc<'a>) -> Vec<Run<'a>> {
    runs(text)
        .into_iter()
        .map(|(text, fallback)| {
            let font = if fallback {
                fallback_of(font)
            } else {
                font.clone()
            };
            let width = font.box_size(&text).map(|(w, _)| w as i32).unwrap_or(0);
            Run {
                text,
                font,
                width,
                fallback,
            }
        })
        .collect()
}

pub fn regular(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
}

pub fn bold(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Bold)
}

/// Emoji and their joiners/selectors are dropped; anything else the font cannot draw becomes
/// `?`. Control characters go, runs of whitespace collapse, and an empty result becomes `?`.
pub fn clean(text: &str) -> String {
    let font = font_ref();
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    for c in text.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        if c.is_control() || is_emoji_part(c) && font.glyph_id(c).0 == 0 {
            continue;
        }
        out.push(if in_any(c) { c } else { '?' });
        last_space = false;
    }
    let trimmed = out.trim_end().to_string();
    if trimmed.is_empty() {
        "?".into()
    } else {
        trimmed
    }
}

fn is_emoji_part(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE00..=0xFE0F | 0x200D | 0x20E3 | 0xE0020..=0xE007F)
}

/// Width in pixels of `text` at `font`, fallback runs included (plotters' own measure per run).
pub fn width(text: &str, font: &FontDesc<'_>) -> i32 {
    layout(text, font).iter().map(|r| r.width).sum()
}

/// Cleans `text` and cuts it with "…" so that it fits in `max_w` pixels.
pub fn fit(text: &str, font: &FontDesc<'_>, max_w: i32) -> String {
    let clean = clean(text);
    if width(&clean, font) <= max_w {
        return clean;
    }
    let chars: Vec<char> = clean.chars().collect();
    let (mut lo, mut hi) = (0usize, chars.len());
    // Longest prefix that fits with the ellipsis (binary search on the char count).
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate: String = chars[..mid].iter().collect::<String>() + "…";
        if width(&candidate, font) <= max_w {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    let prefix: String = chars[..lo].iter().collect::<String>();
    format!("{}…", prefix.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_glyphs_are_replaced_not_boxed() {
        ensure_fonts();
        assert_eq!(clean("Jöhn  Doe"), "Jöhn Doe");
        assert_eq!(clean("🔥Blaze🔥"), "Blaze");
        assert_eq!(clean("山田"), "山田", "CJK is drawn with the fallback font");
        assert_eq!(clean("👍🏽"), "?");
        assert_eq!(
            clean("\u{10FFFD}x"),
            "?x",
            "private-use characters no font has"
        );
        assert_eq!(clean("\u{7}\n"), "?");
    }

    #[test]
    fn text_splits_into_runs_by_font() {
        ensure_fonts();
        assert_eq!(
            runs("Ace 山田 GG"),
            vec![
                ("Ace ".to_string(), false),
                ("山田 ".to_string(), true),
                ("GG".to_string(), false)
            ]
        );
        let f = regular(20.0);
        assert!(
            width("山田", &f) > width("ab", &f),
            "fallback runs are measured"
        );
        assert!(runs("山田").iter().all(|r| r.1) && runs("Ace").iter().all(|r| !r.1));
    }

    #[test]
    fn long_names_are_cut_to_fit() {
        ensure_fonts();
        let f = regular(20.0);
        let long = "AVeryLongRocketLeagueNameThatNeverEnds1234567890";
        let cut = fit(long, &f, 200);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(width(&cut, &f) <= 200);
        assert!(cut.len() > 8, "kept too little: {cut}");
        assert_eq!(fit("Short", &f, 200), "Short");
    }
}
