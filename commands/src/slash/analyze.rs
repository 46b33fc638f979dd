//! `/analyze replay:<file>`: the same intake as a dropped file, answered by editing the
//! deferred interaction response.

use poise::serenity_prelude as serenity;
use rlcoach::storage::{NewUpload, UserId};

use crate::bot::intake::{self, StatusTarget};
use crate::bot::{Context, Error, sid, user_error};

/// Analyze a Rocket League replay file.
#[poise::command(slash_command)]
pub async fn analyze(
    ctx: Context<'_>,
    #[description = "The .replay file (Documents/My Games/Rocket League/TAGame/Demos)"]
    replay: serenity::Attachment,
) -> Result<(), Error> {
    if !intake::is_replay_name(&replay.filename) {
        return Err(user_error(format!(
            "`{}` isn't a `.replay` file. Rocket League saves replays in Documents/My Games/Rocket League/TAGame/Demos.",
            replay.filename
        )));
    }
    let data = ctx.data();
    if let (0, Some(wait)) = data.limits.files(ctx.author().id.get(), 1) {
        return Err(user_error(crate::bot::wait_message(wait)));
    }
    let private = match ctx.guild_id() {
        Some(g) => data
            .store
            .guild_settings(sid(g.get()))
            .await?
            .private_replies(),
        None => true,
    };
    // In a DM the answer is private anyway; an ephemeral defer there is the same to the user.
    if private && ctx.guild_id().is_some() {
        ctx.defer_ephemeral().await?
    } else {
        ctx.defer().await?
    };
    let poise::Context::Application(app) = ctx else {
        return Err(user_error("Use this as a slash command."));
    };
    let token = app.interaction.token.clone();
    let upload = NewUpload {
        guild_id: ctx.guild_id().map(|g| sid(g.get())),
        channel_id: Some(sid(ctx.channel_id().get())),
        file_name: Some(replay.filename.clone()),
        interaction_token: Some(token.clone()),
        application_id: Some(sid(app.interaction.application_id.get())),
        private_reply: private,
        ..NewUpload::by(UserId::from_discord(ctx.author().id.get()))
    };
    intake::accept(
        data,
        &replay,
        upload,
        &StatusTarget::Interaction { token },
        None,
    )
    .await;
    Ok(())
}
