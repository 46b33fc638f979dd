//! What the bot says: the result embed and buttons for an analyzed replay, status lines, and the
//! one error boundary for commands (user errors shown ephemerally, internal ones logged).

use poise::serenity_prelude as serenity;
use rlcoach::Report;
use rlcoach::summary::{GameNote, GameSummary};

use super::{Data, Error, UserError};

pub const BLUE: u32 = 0x3b8bf0;
pub const ORANGE: u32 = 0xf59a2c;
pub const GREY: u32 = 0x5b6572;

/// Discord's limits on what a message may carry (characters are Unicode code points). Every
/// text built from data (player and file names, lists) is cut to fit them.
pub mod limits {
    pub const FIELD_VALUE: usize = 1024;
    pub const OPTION_TEXT: usize = 100;
    /// Files per message.
    pub const FILES: usize = 10;
    /// The upload limit per file when an interaction does not say (`attachment_size_limit`).
    pub const UPLOAD_BYTES: usize = 25 * 1024 * 1024;
}

/// The longest player name shown (Steam's limit; a replay can carry longer ones).
pub const NAME_MAX: usize = 32;
/// The longest file name shown.
pub const FILE_NAME_MAX: usize = 80;

/// The result embed: score, map, mode, MVP and each team's key numbers.
pub fn result_embed(r: &Report, file_name: Option<&str>) -> serenity::CreateEmbed {
    let m = &r.metadata;
    let game = GameSummary::from_report(r);
    let map = escape(&truncate(&game.map, 64));
    let color = match game.winner {
        Some(0) => BLUE,
        Some(_) => ORANGE,
        None => GREY,
    };
    let mut desc = format!(
        "**{map}** · {} · {} · {}",
        truncate(&game.playlist, 64),
        game.format,
        game.duration
    );
    if let Some(mvp) = game.mvp.and_then(|i| r.players.get(i)) {
        desc.push_str(&format!("\nMVP: **{}**", player_name(&mvp.name)));
    }
    if game.notes.contains(&GameNote::ScoreboardOnly) {
        desc.push_str("\n⚠️ Only the scoreboard could be read from this replay.");
    }
    let mut e = serenity::CreateEmbed::new()
        .title(game.title.clone())
        .description(desc)
        .colour(color)
        .image("attachment://match.png");
    for team in &game.teams {
        let mut lines = Vec::new();
        for p in team.players.iter().filter_map(|&i| r.players.get(i)) {
            let c = &p.core;
            let mut line = format!(
                "**{}** {} pts · {}G {}A {}Sv {}Sh",
                player_name(&p.name),
                c.score,
                c.goals,
                c.assists,
                c.saves,
                c.shots
            );
            if let Some(b) = &p.boost {
                line.push_str(&format!(" · {:.0} bpm", b.bpm));
            }
            lines.push(line);
        }
        let name = if team.team == 0 {
            "🔵 Blue"
        } else {
            "🟠 Orange"
        };
        let body = if lines.is_empty() {
            "—".to_string()
        } else {
            lines_within(&lines, limits::FIELD_VALUE)
        };
        e = e.field(name, body, false);
    }
    let short_id: String = m.replay_id.chars().take(10).collect();
    let footer = match file_name {
        Some(f) => format!("{} · replay {short_id}", plain(f, FILE_NAME_MAX)),
        None => format!("replay {short_id}"),
    };
    e.footer(serenity::CreateEmbedFooter::new(footer))
}

/// Buttons under a result: per-player cards, charts, "this is me", and the web link.
pub fn result_buttons(
    r: &Report,
    replay_id: &str,
    web_base: Option<&str>,
) -> Vec<serenity::CreateActionRow> {
    let mut rows = Vec::new();
    let players: Vec<serenity::CreateButton> = r
        .players
        .iter()
        .enumerate()
        .take(10)
        .map(|(i, p)| {
            serenity::CreateButton::new(format!("card:{replay_id}:{i}"))
                .label(label(&p.name, 40, || format!("Player {}", i + 1)))
                .style(serenity::ButtonStyle::Secondary)
        })
        .collect();
    for chunk in players.chunks(5) {
        rows.push(serenity::CreateActionRow::Buttons(chunk.to_vec()));
    }
    let mut charts = Vec::new();
    if r.quality.network_parsed {
        for (slug, label) in [
            ("boost", "Boost"),
            ("heatmap", "Heatmap"),
            ("timeline", "Timeline"),
        ] {
            charts.push(
                serenity::CreateButton::new(format!("chart:{replay_id}:{slug}"))
                    .label(label)
                    .style(serenity::ButtonStyle::Primary),
            );
        }
    }
    charts.push(
        serenity::CreateButton::new(format!("me:{replay_id}"))
            .label("This is me")
            .style(serenity::ButtonStyle::Success),
    );
    if let Some(web) = web_base {
        charts.push(
            serenity::CreateButton::new_link(format!(
                "{}/replays/{replay_id}",
                web.trim_end_matches('/')
            ))
            .label("Open on the web"),
        );
    }
    rows.push(serenity::CreateActionRow::Buttons(charts));
    rows.truncate(5);
    rows
}

/// Markdown-escape a player name for embeds.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '>' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A player's name in markdown text (embeds, messages): on one line, cut to [`NAME_MAX`]
/// characters, escaped; "?" when blank.
pub fn player_name(s: &str) -> String {
    let name = plain(s, NAME_MAX);
    if name.is_empty() {
        "?".to_string()
    } else {
        escape(&name)
    }
}

/// Text from data (names, file names) made safe to show: control characters (newlines
/// included) become spaces, surrounding blanks go, and it is cut to `max` characters.
pub fn plain(s: &str, max: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(one_line.trim(), max)
}

/// A label (button, select option) from data: plain, at most `max` characters, and never
/// empty (Discord refuses empty labels): `fallback` when blank.
pub fn label(s: &str, max: usize, fallback: impl FnOnce() -> String) -> String {
    let l = plain(s, max);
    if l.is_empty() {
        truncate(&fallback(), max)
    } else {
        l
    }
}

/// As many whole lines as fit in `max` characters; when some do not, the last line kept says
/// how many were left out.
pub fn lines_within(lines: &[String], max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for (i, line) in lines.iter().enumerate() {
        let len = line.chars().count() + usize::from(i > 0);
        let left = lines.len() - i - 1;
        // Room for this line, and for the "…and N more" line if others still follow.
        let reserve = if left > 0 { 20 } else { 0 };
        if used + len + reserve > max {
            if out.is_empty() {
                // A single line too long by itself: cut, rather than show nothing of it.
                let room = if left == 0 {
                    max
                } else {
                    max.saturating_sub(reserve + 1)
                };
                out = truncate(line, room);
                used = out.chars().count();
                if left == 0 {
                    return out;
                }
                continue;
            }
            out.push_str(&format!("\n…and {} more", lines.len() - i));
            return truncate(&out, max);
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
        used += len;
    }
    out
}

pub fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let cut: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// The single error boundary for commands.
pub async fn on_error(error: poise::FrameworkError<'_, Data, Error>) {
    match error {
        poise::FrameworkError::Command { error, ctx, .. } => {
            let msg = match error.downcast_ref::<UserError>() {
                Some(u) => u.0.clone(),
                None => match error.downcast_ref::<rlcoach::storage::StorageError>() {
                    Some(e) => e.user_message(),
                    None => {
                        tracing::error!(command = %ctx.command().qualified_name, error = %format!("{error:#}"), "command failed");
                        "Something went wrong on our side. It has been logged; please try again later.".to_string()
                    }
                },
            };
            let reply = poise::CreateReply::default().content(msg).ephemeral(true);
            if let Err(e) = ctx.send(reply).await {
                tracing::warn!(error = %e, "could not report a command error");
            }
        }
        poise::FrameworkError::ArgumentParse { error, ctx, .. } => {
            let reply = poise::CreateReply::default()
                .content(format!(
                    "I couldn't read that option: {error}. See `/help`."
                ))
                .ephemeral(true);
            let _ = ctx.send(reply).await;
        }
        poise::FrameworkError::MissingUserPermissions { ctx, .. } => {
            let reply = poise::CreateReply::default()
                .content("You need the **Manage Server** permission for that.")
                .ephemeral(true);
            let _ = ctx.send(reply).await;
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::warn!(error = %e, "error while handling an error");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn fixture() -> Report {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/small-doubles.replay"
        ))
        .unwrap();
        rlcoach::analyze(&bytes, &rlcoach::Limits::default()).unwrap()
    }

    /// A 4v4 (the fixture's players twice over) whose players are named `name(i)`; the first
    /// is the MVP.
    fn four_v_four(name: impl Fn(usize) -> String) -> Report {
        let mut r = fixture();
        let base = r.players.clone();
        r.players = (0..8)
            .map(|i| {
                let mut p = base[i % base.len()].clone();
                p.team = u8::from(i >= 4);
                p.name = name(i);
                p.id.id = format!("{}{i}", p.id.id);
                p.core.mvp = i == 0;
                p
            })
            .collect();
        r.metadata.team_size = 4;
        r
    }

    fn len(v: &Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    /// Discord's per-field embed limits (and non-empty fields); returns the embed's counted
    /// length (all embeds of a message together may have 6000).
    fn check_embed(e: &Value) -> usize {
        assert!(len(&e["title"]) <= 256, "title: {}", e["title"]);
        assert!(len(&e["description"]) <= 4096, "description");
        assert!(len(&e["footer"]["text"]) <= 2048, "footer");
        assert!(len(&e["author"]["name"]) <= 256, "author");
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        assert!(fields.len() <= 25);
        for f in &fields {
            assert!((1..=256).contains(&len(&f["name"])), "field name {f}");
            assert!((1..=1024).contains(&len(&f["value"])), "field value {f}");
        }
        len(&e["title"])
            + len(&e["description"])
            + len(&e["footer"]["text"])
            + len(&e["author"]["name"])
            + fields
                .iter()
                .map(|f| len(&f["name"]) + len(&f["value"]))
                .sum::<usize>()
    }

    /// Discord's component limits; returns the custom ids.
    fn check_rows(rows: &[serenity::CreateActionRow]) -> Vec<String> {
        let rows = serde_json::to_value(rows).unwrap();
        let rows = rows.as_array().unwrap();
        assert!(rows.len() <= 5, "{} rows", rows.len());
        let mut ids = Vec::new();
        for row in rows {
            let buttons = row["components"].as_array().unwrap();
            assert!((1..=5).contains(&buttons.len()));
            for b in buttons {
                assert!((1..=80).contains(&len(&b["label"])), "label {b}");
                if let Some(id) = b["custom_id"].as_str() {
                    assert!(id.chars().count() <= 100, "{id}");
                    assert!(!ids.contains(&id.to_string()), "duplicate {id}");
                    ids.push(id.to_string());
                }
            }
        }
        ids
    }

    /// 32 characters of what Discord names hold: markdown, emoji (astral), accents.
    fn realistic(i: usize) -> String {
        let n: String = format!("*_~`|>\\ 🚀🔥⚽ Ünïcødé ||x{i}|| 𝓐𝓑𝓒-")
            .chars()
            .chain(std::iter::repeat('ñ'))
            .take(32)
            .collect();
        assert_eq!(n.chars().count(), 32);
        n
    }

    #[test]
    fn a_4v4_with_32_character_names_shows_every_player_within_discords_limits() {
        let r = four_v_four(realistic);
        let long_file = format!("{}.replay", "🚀 ranked standard comeback ".repeat(10));
        let e = serde_json::to_value(result_embed(&r, Some(&long_file))).unwrap();
        assert!(check_embed(&e) <= 6000);
        for (team, field) in e["fields"].as_array().unwrap().iter().enumerate() {
            let value = field["value"].as_str().unwrap();
            assert_eq!(value.lines().count(), 4, "team {team}: {value}");
            for i in 0..4 {
                let name = escape(&realistic(team * 4 + i));
                assert!(value.contains(&name), "{name} missing from {value}");
            }
        }
        let desc = e["description"].as_str().unwrap();
        assert!(desc.contains(&format!("MVP: **{}**", escape(&realistic(0)))));
        let footer = e["footer"]["text"].as_str().unwrap();
        assert!(
            footer.contains('…') && footer.chars().count() < 120,
            "{footer}"
        );

        let ids = check_rows(&result_buttons(&r, &"f".repeat(64), Some("https://x.y")));
        assert_eq!(ids.iter().filter(|i| i.starts_with("card:")).count(), 8);
    }

    #[test]
    fn absurd_names_from_a_crafted_replay_are_cut_to_fit() {
        // 500 markdown characters each (1000 once escaped), a newline, and a blank name.
        let r = four_v_four(|i| match i {
            3 => "   ".to_string(),
            _ => format!("{}\nline two", "*_`|".repeat(125)),
        });
        let e = serde_json::to_value(result_embed(&r, Some(&"x".repeat(5000)))).unwrap();
        assert!(check_embed(&e) <= 6000);
        let desc = e["description"].as_str().unwrap();
        assert!(!desc.contains("line two"), "names stay on one line");
        let blue = e["fields"][0]["value"].as_str().unwrap();
        assert!(blue.contains("**?**"), "a blank name reads ?: {blue}");
        let rows = result_buttons(&r, &"f".repeat(64), None);
        let json = serde_json::to_value(&rows).unwrap();
        assert_eq!(json[0]["components"][3]["label"], "Player 4");
        check_rows(&rows);
    }

    #[test]
    fn lines_within_keeps_whole_lines_and_says_how_many_are_left_out() {
        let lines: Vec<String> = (0..100)
            .map(|i| format!("line {i:03} {}", "x".repeat(40)))
            .collect();
        let out = lines_within(&lines, 1024);
        assert!(out.chars().count() <= 1024);
        let kept: Vec<&str> = out.lines().collect();
        let last = kept.last().unwrap();
        assert_eq!(*last, format!("…and {} more", 100 - (kept.len() - 1)));
        assert!(
            kept[..kept.len() - 1]
                .iter()
                .zip(&lines)
                .all(|(a, b)| a == b)
        );
        assert_eq!(lines_within(&lines[..3], 1024), lines[..3].join("\n"));
        let one = vec!["y".repeat(5000)];
        assert_eq!(lines_within(&one, 1024).chars().count(), 1024);
    }
}
