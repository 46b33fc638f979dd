//! `/stats [user] [playlist] [games]`: averages over recent games.

use poise::serenity_prelude as serenity;

use super::{defer, games_arg, private_answer, target, viewer};

/// Playlists as stored in reports.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum Playlist {
    Duel,
    Doubles,
    Standard,
    Chaos,
    #[name = "Private match"]
    Private,
    Tournament,
}

impl Playlist {
    pub fn key(self) -> &'static str {
        match self {
            Playlist::Duel => "DUEL",
            Playlist::Doubles => "DOUBLES",
            Playlist::Standard => "STANDARD",
            Playlist::Chaos => "CHAOS",
            Playlist::Private => "PRIVATE",
            Playlist::Tournament => "TOURNAMENT",
        }
    }
}
use crate::bot::{Context, Error, user_error};

/// Your (or a public player's) averages over recent games.
#[poise::command(slash_command)]
pub async fn stats(
    ctx: Context<'_>,
    #[description = "Whose stats (default: you)"] user: Option<serenity::User>,
    #[description = "Only this playlist"] playlist: Option<Playlist>,
    #[description = "How many recent games (default 20)"] games: Option<u32>,
) -> Result<(), Error> {
    let n = games_arg(games, 20)?;
    super::heavy(&ctx)?;
    let who = target(&ctx, user.as_ref()).await?;
    let private = private_answer(&ctx, &[who]);
    defer(&ctx, private).await?;
    let playlist = playlist.map(|p| p.key().to_string());
    let rows = ctx
        .data()
        .store
        .recent_games(&viewer(&ctx), who.user, n, playlist.as_deref())
        .await?;
    if rows.is_empty() {
        return Err(user_error(
            "No games found for that. Drop a replay to get started.",
        ));
    }
    let wins = rows.iter().filter(|g| g.won).count();
    let avg = |f: &dyn Fn(&rlcoach::storage::queries::GameRow) -> Option<f64>| {
        let v: Vec<f64> = rows.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let fmt = |v: Option<f64>, d: usize, unit: &str| {
        v.map_or("—".to_string(), |v| format!("{v:.d$}{unit}"))
    };
    let name = crate::bot::reply::plain(&rows[0].name, crate::bot::reply::NAME_MAX);
    let embed = serenity::CreateEmbed::new()
        .title(format!(
            "{} — last {} games{}",
            name,
            rows.len(),
            playlist.map(|p| format!(" ({p})")).unwrap_or_default()
        ))
        .colour(crate::bot::reply::BLUE)
        .field("Record", format!("{wins}W – {}L", rows.len() - wins), true)
        .field("Score", fmt(avg(&|g| Some(g.score as f64)), 0, ""), true)
        .field(
            "G / A / Sv / Sh",
            format!(
                "{} / {} / {} / {}",
                fmt(avg(&|g| Some(g.goals as f64)), 2, ""),
                fmt(avg(&|g| Some(g.assists as f64)), 2, ""),
                fmt(avg(&|g| Some(g.saves as f64)), 2, ""),
                fmt(avg(&|g| Some(g.shots as f64)), 2, "")
            ),
            true,
        )
        .field(
            "Boost collected / min",
            fmt(avg(&|g| g.metric("bcpm")), 0, ""),
            true,
        )
        .field(
            "Avg speed",
            fmt(avg(&|g| g.metric("avg_speed_uu_s")), 0, " uu/s"),
            true,
        )
        .field(
            "Supersonic",
            fmt(avg(&|g| g.metric("pct_supersonic")), 1, "%"),
            true,
        )
        .field(
            "Behind ball",
            fmt(avg(&|g| g.metric("pct_behind_ball")), 1, "%"),
            true,
        )
        .field(
            "Defensive third",
            fmt(avg(&|g| g.metric("pct_defensive_third")), 1, "%"),
            true,
        )
        .field(
            "Time at 0 boost",
            fmt(avg(&|g| g.metric("pct_zero_boost")), 1, "%"),
            true,
        );
    ctx.send(
        poise::CreateReply::default()
            .embed(embed)
            .ephemeral(private),
    )
    .await?;
    Ok(())
}
