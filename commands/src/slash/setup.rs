//! `/setup` (Manage Server only): auto-analyze channels and public/private replies.

use poise::serenity_prelude as serenity;

use crate::bot::{Context, Error, sid, user_error};

/// Configure rlcoach for this server (Manage Server permission required).
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    subcommands("channel", "replies", "show")
)]
pub async fn setup(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Discord hides the command from others, but the check is ours too: the interaction carries
/// the member's permissions.
async fn require_manage_guild(ctx: &Context<'_>) -> Result<i64, Error> {
    let guild = ctx
        .guild_id()
        .ok_or_else(|| user_error("Run this in a server."))?;
    let allowed = match ctx {
        poise::Context::Application(app) => app
            .interaction
            .member
            .as_ref()
            .and_then(|m| m.permissions)
            .is_some_and(|p| p.manage_guild() || p.administrator()),
        poise::Context::Prefix(_) => false,
    };
    if !allowed {
        return Err(user_error(
            "You need the **Manage Server** permission to change rlcoach's settings.",
        ));
    }
    Ok(sid(guild.get()))
}

/// Turn automatic analysis of dropped replays on or off in a channel.
#[poise::command(slash_command, guild_only)]
pub async fn channel(
    ctx: Context<'_>,
    #[description = "Analyze replays dropped here automatically"] enabled: bool,
    #[description = "Which channel (default: this one)"]
    #[channel_types("Text")]
    channel: Option<serenity::GuildChannel>,
) -> Result<(), Error> {
    let guild = require_manage_guild(&ctx).await?;
    let channel_id = channel.map_or(ctx.channel_id(), |c| c.id);
    ctx.data()
        .store
        .set_auto_analyze(guild, sid(channel_id.get()), enabled)
        .await?;
    let text = if enabled {
        format!("✅ Replays dropped in <#{channel_id}> will be analyzed automatically.")
    } else {
        format!("Auto-analyze is off in <#{channel_id}>. `/analyze` still works.")
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Answer uploads publicly or only to the uploader.
#[poise::command(slash_command, guild_only)]
pub async fn replies(
    ctx: Context<'_>,
    #[description = "Only the uploader sees results (dropped replays by DM, /analyze ephemerally)"]
    private: bool,
) -> Result<(), Error> {
    let guild = require_manage_guild(&ctx).await?;
    ctx.data().store.set_reply_mode(guild, private).await?;
    let text = if private {
        "Results are now private to the uploader: replays dropped in auto-analyze channels are answered by DM, `/analyze` only to the uploader. Nothing about them is posted in the channel."
    } else {
        "Results are now posted in the channel."
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}

/// Show this server's settings.
#[poise::command(slash_command, guild_only)]
pub async fn show(ctx: Context<'_>) -> Result<(), Error> {
    let guild = require_manage_guild(&ctx).await?;
    let s = ctx.data().store.guild_settings(guild).await?;
    let channels = if s.auto_analyze_channels.is_empty() {
        "none (replays are analyzed in DMs and with /analyze)".to_string()
    } else {
        s.auto_analyze_channels
            .iter()
            .map(|c| format!("<#{c}>"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        "Auto-analyze channels: {channels}\nReplies: {}",
        s.reply_mode
    );
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}
