//! `/trends stat [games] [rank]`: one stat over recent games, drawn with the rank band.

use rlcoach::cards::{self, ImageFormat, TrendChartSpec};

use super::{
    Rank, autocomplete_stat, defer, games_arg, private_answer, stat_label, target, viewer,
};
use crate::bot::{Context, Error, user_error};

/// Chart one stat over your recent games against a rank band.
#[poise::command(slash_command)]
pub async fn trends(
    ctx: Context<'_>,
    #[description = "Which stat"]
    #[autocomplete = "autocomplete_stat"]
    stat: String,
    #[description = "How many recent games (default 20)"] games: Option<u32>,
    #[description = "Rank band to show (default GC1)"] rank: Option<Rank>,
) -> Result<(), Error> {
    stat_label(&stat)?;
    let n = games_arg(games, 20)?;
    let data = ctx.data();
    super::heavy(&ctx)?;
    let who = target(&ctx, None).await?;
    let private = private_answer(&ctx, &[who]);
    defer(&ctx, private).await?;
    let points = data.store.trend(&viewer(&ctx), who.user, &stat, n).await?;
    if points.is_empty() {
        return Err(user_error("No games with that stat yet."));
    }
    let name = data
        .store
        .recent_games(&viewer(&ctx), who.user, 1, None)
        .await?
        .first()
        .map(|g| g.name.clone())
        .unwrap_or_default();
    let labelled: Vec<(String, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (format!("{}", i + 1), *v))
        .collect();
    let spec = TrendChartSpec::new(
        &name,
        &stat,
        labelled,
        Some(rank.unwrap_or(Rank::GC1).key()),
    );
    let img =
        tokio::task::spawn_blocking(move || cards::render_trend(&spec, ImageFormat::Png)).await??;
    ctx.send(
        poise::CreateReply::default()
            .attachment(poise::serenity_prelude::CreateAttachment::bytes(
                img.bytes, img.name,
            ))
            .ephemeral(private),
    )
    .await?;
    Ok(())
}
