//! `/trends stat [games] [rank] [playlist]`: one stat over recent games of one playlist, drawn
//! with that playlist's rank band (doubles' when the benchmark table has none, and it says so) and
//! a moving average, as on the site's Trends page.

use rlcoach::cards::{self, ImageFormat, TrendChartSpec};

use super::{
    Rank, autocomplete_stat, defer, games_arg, private_answer, stat_label, target, viewer,
};
use crate::bot::{Context, Error, user_error};

/// The moving average drawn over the games: each game and the four before it.
const TREND_AVERAGE: usize = 5;

/// Chart one stat over your recent games against a rank band.
#[poise::command(slash_command)]
pub async fn trends(
    ctx: Context<'_>,
    #[description = "Which stat"]
    #[autocomplete = "autocomplete_stat"]
    stat: String,
    #[description = "How many recent games (default 20)"] games: Option<u32>,
    #[description = "Rank band to show (default GC1)"] rank: Option<Rank>,
    #[description = "Which playlist (default: the one of your newest game)"] playlist: Option<
        super::stats::Playlist,
    >,
) -> Result<(), Error> {
    stat_label(&stat)?;
    let n = games_arg(games, 20)?;
    let data = ctx.data();
    super::heavy(&ctx)?;
    let who = target(&ctx, None).await?;
    let private = private_answer(&ctx, &[who]);
    defer(&ctx, private).await?;
    // One playlist per chart: its games, against its own benchmark band.
    let newest = data
        .store
        .recent_games(&viewer(&ctx), who.user, 1, None)
        .await?;
    let Some(newest) = newest.first() else {
        return Err(user_error("No games yet. Drop a replay to get started."));
    };
    let playlist = playlist.map_or_else(|| newest.playlist.clone(), |p| p.key().to_string());
    let points = data
        .store
        .trend(&viewer(&ctx), who.user, &stat, n, Some(&playlist))
        .await?;
    if points.is_empty() {
        return Err(user_error("No games with that stat in that playlist yet."));
    }
    let name = newest.name.clone();
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
        &playlist,
    )
    .with_moving_average(TREND_AVERAGE);
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
