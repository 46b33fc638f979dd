//! `/privacy`: export your data, delete it, and choose who can see your stats.

use poise::serenity_prelude as serenity;

use super::viewer;
use crate::bot::{Context, Error, user_error};

/// Your data: export, delete, visibility.
#[poise::command(
    slash_command,
    subcommands("export", "delete", "visibility", "leaderboard")
)]
pub async fn privacy(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Download everything stored about you (JSON).
#[poise::command(slash_command)]
pub async fn export(ctx: Context<'_>) -> Result<(), Error> {
    super::heavy(&ctx)?;
    ctx.defer_ephemeral().await?;
    let data = ctx.data().store.export_user(&viewer(&ctx)).await?;
    let json = serde_json::to_vec_pretty(&data)?;
    let games = if data.games_total > data.games.len() as i64 {
        format!(
            "your newest {} games of {} (the rest are in your stored replays)",
            data.games.len(),
            data.games_total
        )
    } else {
        format!("all {} of your games", data.games.len())
    };
    ctx.send(
        poise::CreateReply::default()
            .content(format!(
                "Here is everything rlcoach stores about you: settings, {} linked players, {} uploads and {games}.",
                data.identities.len(),
                data.uploads.len()
            ))
            .attachment(serenity::CreateAttachment::bytes(
                json,
                "rlcoach-export.json",
            ))
            .ephemeral(true),
    )
    .await?;
    Ok(())
}

/// Delete your account data (uploads, links; replays only you uploaded).
#[poise::command(slash_command)]
pub async fn delete(
    ctx: Context<'_>,
    #[description = "Type true to confirm: this cannot be undone"] confirm: bool,
) -> Result<(), Error> {
    if !confirm {
        return Err(user_error(
            "Nothing deleted. Run `/privacy delete confirm:true` to delete your data.",
        ));
    }
    ctx.defer_ephemeral().await?;
    let n = ctx.data().store.delete_user(&viewer(&ctx)).await?;
    ctx.send(
        poise::CreateReply::default()
            .content(format!(
                "Deleted your data: your uploads, linked players and settings ({n} replays only you had uploaded were removed with their files and stats). Games other people uploaded stay theirs."
            ))
            .ephemeral(true),
    )
    .await?;
    Ok(())
}

/// Let others see your stats (/stats @you, /compare, leaderboards) or keep them private.
#[poise::command(slash_command)]
pub async fn visibility(
    ctx: Context<'_>,
    #[description = "Make your stats public"] public: bool,
) -> Result<(), Error> {
    ctx.data()
        .store
        .set_public_profile(&viewer(&ctx), public)
        .await?;
    let text = if public {
        "Your stats are now public."
    } else {
        "Your stats are now private."
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Appear on server leaderboards or not.
#[poise::command(slash_command)]
pub async fn leaderboard(
    ctx: Context<'_>,
    #[description = "Show me on leaderboards"] include: bool,
) -> Result<(), Error> {
    ctx.data()
        .store
        .set_leaderboard_opt_out(&viewer(&ctx), !include)
        .await?;
    let text = if include {
        "You'll appear on leaderboards (when your profile is public)."
    } else {
        "You won't appear on leaderboards."
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}
