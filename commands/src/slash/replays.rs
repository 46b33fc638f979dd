//! `/replays`: your recent uploads, each with a button to see its match card again.

use poise::serenity_prelude as serenity;

use super::viewer;
use crate::bot::{Context, Error, user_error};

/// Your recently uploaded replays.
#[poise::command(slash_command)]
pub async fn replays(ctx: Context<'_>) -> Result<(), Error> {
    let v = viewer(&ctx);
    let list = ctx.data().store.my_uploads(&v, 5).await?;
    if list.is_empty() {
        return Err(user_error("You haven't uploaded any replays yet."));
    }
    let mut lines = Vec::new();
    let mut buttons = Vec::new();
    for (i, (replay, file, at)) in list.iter().enumerate() {
        let score = match ctx.data().store.report(&v, replay).await? {
            Some(r) => format!(
                "{}–{} on {}",
                r.metadata.score[0],
                r.metadata.score[1],
                rlcoach::names::map_name(r.metadata.map.as_deref().unwrap_or("?"))
            ),
            None => "not analyzed (yet)".to_string(),
        };
        lines.push(format!(
            "{}. `{}` · {score} · <t:{}:R>",
            i + 1,
            file.as_deref().unwrap_or("replay"),
            at / 1000
        ));
        buttons.push(
            serenity::CreateButton::new(format!("chart:{replay}:match"))
                .label(format!("Card {}", i + 1)),
        );
    }
    ctx.send(
        poise::CreateReply::default()
            .content(lines.join("\n"))
            .components(vec![serenity::CreateActionRow::Buttons(buttons)])
            .ephemeral(true),
    )
    .await?;
    Ok(())
}
