//! `/replays`: your recent uploads, each with a button to see its match card again and one to
//! hide it from your history.

use poise::serenity_prelude as serenity;

use super::viewer;
use crate::bot::reply::{FILE_NAME_MAX, plain};
use crate::bot::{Context, Error, user_error};

/// Replays listed (one row of buttons).
const SHOWN: usize = 5;

/// Your recently uploaded replays.
#[poise::command(slash_command)]
pub async fn replays(ctx: Context<'_>) -> Result<(), Error> {
    // It reads the database and up to five reports: defer, so Discord's 3 s deadline is never
    // missed.
    ctx.defer_ephemeral().await?;
    let v = viewer(&ctx);
    // The same replay uploaded twice is listed once (two buttons with one id are refused).
    let mut list: Vec<(String, Option<String>, i64)> = Vec::new();
    for upload in ctx.data().store.my_uploads(&v, 50).await? {
        if !list.iter().any(|(r, _, _)| *r == upload.0) {
            list.push(upload);
        }
        if list.len() == SHOWN {
            break;
        }
    }
    if list.is_empty() {
        return Err(user_error("You haven't uploaded any replays yet."));
    }
    let mut lines = Vec::new();
    let mut buttons = Vec::new();
    let mut hide = Vec::new();
    for (i, (replay, file, at)) in list.iter().enumerate() {
        let score = match ctx.data().store.report(&v, replay).await? {
            Some(r) => format!(
                "{}–{} on {}",
                r.metadata.score[0],
                r.metadata.score[1],
                plain(
                    &rlcoach::names::map_name(r.metadata.map.as_deref().unwrap_or("?")),
                    64
                )
            ),
            None => "not analyzed (yet)".to_string(),
        };
        // In a code span: a backtick in the name would end it.
        let file = plain(file.as_deref().unwrap_or("replay"), FILE_NAME_MAX).replace('`', "'");
        lines.push(format!(
            "{}. `{file}` · {score} · <t:{}:R>",
            i + 1,
            at / 1000
        ));
        buttons.push(
            serenity::CreateButton::new(format!("chart:{replay}:match"))
                .label(format!("Card {}", i + 1)),
        );
        hide.push(
            serenity::CreateButton::new(format!("hide:{replay}"))
                .label(format!("Hide {}", i + 1))
                .style(serenity::ButtonStyle::Secondary),
        );
    }
    lines.push(
        "-# **Hide** takes a game out of your history (stats, trends, leaderboards, the coach)."
            .into(),
    );
    ctx.send(
        poise::CreateReply::default()
            .content(lines.join("\n"))
            .components(vec![
                serenity::CreateActionRow::Buttons(buttons),
                serenity::CreateActionRow::Buttons(hide),
            ])
            .ephemeral(true),
    )
    .await?;
    Ok(())
}
