//! `/sessions`: recent sessions (games less than 30 minutes apart) with W/L.

use poise::serenity_prelude as serenity;

use super::{defer, private_answer, target, viewer};
use crate::bot::{Context, Error, user_error};

/// Your recent sessions with wins and losses.
#[poise::command(slash_command)]
pub async fn sessions(
    ctx: Context<'_>,
    #[description = "Whose sessions (default: you)"] user: Option<serenity::User>,
) -> Result<(), Error> {
    super::heavy(&ctx)?;
    let who = target(&ctx, user.as_ref()).await?;
    let private = private_answer(&ctx, &[who]);
    defer(&ctx, private).await?;
    let list = ctx
        .data()
        .store
        .sessions(&viewer(&ctx), who.user, 8)
        .await?;
    if list.is_empty() {
        return Err(user_error("No sessions yet. Drop some replays first."));
    }
    let lines: Vec<String> = list
        .iter()
        .map(|s| {
            format!(
                "<t:{}:f> · {} games · **{}W–{}L** · {} goals · {} saves · avg score {:.0}",
                s.started_at / 1000,
                s.games,
                s.wins,
                s.losses,
                s.goals,
                s.saves,
                s.avg_score
            )
        })
        .collect();
    let embed = serenity::CreateEmbed::new()
        .title("Sessions")
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
