//! `/leaderboard [stat]`: this server's best averages (public profiles, and you).

use poise::serenity_prelude as serenity;

use super::{autocomplete_stat, stat_label, viewer};
use crate::bot::{Context, Error, sid, user_error};

/// This server's leaderboard for one stat.
#[poise::command(slash_command, guild_only)]
pub async fn leaderboard(
    ctx: Context<'_>,
    #[description = "Which stat (default: score per game is not benchmarked, so boost / min)"]
    #[autocomplete = "autocomplete_stat"]
    stat: Option<String>,
) -> Result<(), Error> {
    super::heavy(&ctx)?;
    let stat = stat.unwrap_or_else(|| "bcpm".into());
    let label = stat_label(&stat)?;
    let guild = ctx
        .guild_id()
        .ok_or_else(|| user_error("Leaderboards are per server."))?;
    // It reads the whole server's games: defer, so Discord's 3 s deadline is never missed.
    ctx.defer().await?;
    let rows = ctx
        .data()
        .store
        .leaderboard(&viewer(&ctx), sid(guild.get()), &stat, 3, 10)
        .await?;
    if rows.is_empty() {
        return Err(user_error(
            "Nobody qualifies yet: players need 3+ games uploaded here and a public profile (`/privacy visibility public:true`).",
        ));
    }
    let lines: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "{}. <@{}> — **{:.1}** ({} games)",
                i + 1,
                r.user_id,
                r.value,
                r.games
            )
        })
        .collect();
    let embed = serenity::CreateEmbed::new()
        .title(format!("Leaderboard — {label}"))
        .description(lines.join("\n"))
        .colour(crate::bot::reply::ORANGE);
    // The list shows public profiles, plus the asker's own row: a private asker's row is for
    // their eyes only, so then the whole answer is ephemeral.
    let me = viewer(&ctx);
    let private_me = rows.iter().any(|r| r.user_id == me.user)
        && !ctx.data().store.profile(&me, me.user).await?.public;
    ctx.send(
        poise::CreateReply::default()
            .embed(embed)
            .allowed_mentions(serenity::CreateAllowedMentions::new())
            .ephemeral(private_me),
    )
    .await?;
    Ok(())
}
