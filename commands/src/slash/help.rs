//! `/help`: what the bot does and how to use it.

use crate::bot::{Context, Error};

/// How to use rlcoach.
#[poise::command(slash_command)]
pub async fn help(ctx: Context<'_>) -> Result<(), Error> {
    let text = "\
**rlcoach** analyzes your Rocket League replays.

**Drop a `.replay` file** in a DM with me or in a channel where a server admin turned auto-analyze on (`/setup channel`), or use `/analyze`. You'll get the score, everyone's key stats and a match card; the buttons show player cards, boost, heatmap and timeline charts.
Replays live in `Documents/My Games/Rocket League/TAGame/Demos`.

Press **This is me** under a result (or `/link`) so your games follow you:
• `/stats` — your averages (per playlist, last N games)
• `/trends stat` — one stat over your last games, against a rank band
• `/sessions` — your sessions with wins and losses
• `/compare` — against a rank, your own past, or another player
• `/replays` — your recent uploads
• `/leaderboard` — this server's best (public profiles only)
• `/privacy` — export or delete your data, make your profile public or private
Admins: `/setup`.";
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}
