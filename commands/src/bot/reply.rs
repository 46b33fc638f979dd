//! What the bot says: the result embed and buttons for an analyzed replay, status lines, and the
//! one error boundary for commands (user errors shown ephemerally, internal ones logged).

use poise::serenity_prelude as serenity;
use rlcoach::Report;
use rlcoach::names;

use super::{Data, Error, UserError};

pub const BLUE: u32 = 0x3b8bf0;
pub const ORANGE: u32 = 0xf59a2c;
pub const GREY: u32 = 0x5b6572;

/// The result embed: score, map, mode, MVP and each team's key numbers.
pub fn result_embed(r: &Report, file_name: Option<&str>) -> serenity::CreateEmbed {
    let m = &r.metadata;
    let map = m
        .map
        .as_deref()
        .map_or_else(|| "Unknown map".to_string(), names::map_name);
    let mut title = format!("Blue {} – {} Orange", m.score[0], m.score[1]);
    if m.overtime {
        title.push_str(" (OT)");
    }
    let color = match m.score[0].cmp(&m.score[1]) {
        std::cmp::Ordering::Greater => BLUE,
        std::cmp::Ordering::Less => ORANGE,
        std::cmp::Ordering::Equal => GREY,
    };
    let mut desc = format!(
        "**{map}** · {} · {}v{} · {}",
        names::playlist_name(&m.playlist),
        m.team_size.max(1),
        m.team_size.max(1),
        names::clock(m.duration_seconds)
    );
    if let Some(mvp) = r.players.iter().find(|p| p.core.mvp) {
        desc.push_str(&format!("\nMVP: **{}**", escape(&mvp.name)));
    }
    if !r.quality.network_parsed {
        desc.push_str("\n⚠️ Only the scoreboard could be read from this replay.");
    }
    let mut e = serenity::CreateEmbed::new()
        .title(title)
        .description(desc)
        .colour(color)
        .image("attachment://match.png");
    for team in 0..2u8 {
        let mut lines = Vec::new();
        let mut players: Vec<_> = r.players.iter().filter(|p| p.team == team).collect();
        players.sort_by_key(|p| std::cmp::Reverse(p.core.score));
        for p in players {
            let c = &p.core;
            let mut line = format!(
                "**{}** {} pts · {}G {}A {}Sv {}Sh",
                escape(&p.name),
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
        let name = if team == 0 {
            "🔵 Blue"
        } else {
            "🟠 Orange"
        };
        let body = if lines.is_empty() {
            "—".to_string()
        } else {
            lines.join("\n")
        };
        e = e.field(name, truncate(&body, 1000), false);
    }
    let footer = match file_name {
        Some(f) => format!("{f} · replay {}", &m.replay_id[..m.replay_id.len().min(10)]),
        None => format!("replay {}", &m.replay_id[..m.replay_id.len().min(10)]),
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
                .label(truncate(&p.name, 40))
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
