//! `/compare [rank] [user] [games]`: your averages against a rank's benchmark, against another
//! (public) player, or — with neither — your last 10 games against the 10 before.

use poise::serenity_prelude as serenity;

use super::{Rank, defer, games_arg, private_answer, target, viewer};
use crate::bot::{Context, Error, user_error};

/// Compare yourself with a rank, another player, or your own past.
#[poise::command(slash_command)]
pub async fn compare(
    ctx: Context<'_>,
    #[description = "Compare with this rank's benchmark"] rank: Option<Rank>,
    #[description = "Compare with this player (their profile must be public)"] user: Option<
        serenity::User,
    >,
    #[description = "Recent games to average (default 20)"] games: Option<u32>,
) -> Result<(), Error> {
    let n = games_arg(games, 20)?;
    super::heavy(&ctx)?;
    let me = target(&ctx, None).await?;
    let store = &ctx.data().store;
    let v = viewer(&ctx);
    let other = match (&rank, &user) {
        (Some(_), Some(_)) => return Err(user_error("Pick either a rank or a player, not both.")),
        (None, Some(u)) => Some(target(&ctx, Some(u)).await?),
        _ => None,
    };
    let private = private_answer(
        &ctx,
        &[Some(me), other].into_iter().flatten().collect::<Vec<_>>(),
    );
    defer(&ctx, private).await?;
    let (title, rows) = match (rank, other, user) {
        (Some(r), _, _) => (
            format!("You vs {} (median)", r.key()),
            store.compare_with_rank(&v, me.user, r.key(), n).await?,
        ),
        (None, Some(other), Some(u)) => (
            format!("You vs {}", u.name),
            store.compare_with_user(&v, me.user, other.user, n).await?,
        ),
        _ => (
            "Your last 10 games vs the 10 before".to_string(),
            store.compare_with_self(&v, me.user, 10).await?,
        ),
    };
    if rows.is_empty() {
        return Err(user_error("Not enough games to compare yet."));
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|c| {
            let mark = match c.better {
                Some(true) => "🟢",
                Some(false) => "🔴",
                None => "⚪",
            };
            format!(
                "{mark} **{}**: {:.1} vs {:.1}",
                c.label, c.value, c.reference
            )
        })
        .collect();
    let embed = serenity::CreateEmbed::new()
        .title(title)
        .description(lines.join("\n"))
        .colour(crate::bot::reply::BLUE);
    ctx.send(
        poise::CreateReply::default()
            .embed(embed)
            .ephemeral(private),
    )
    .await?;
    Ok(())
}
