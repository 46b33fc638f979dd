//! `/compare [rank] [user] [games]`: your averages against a rank's benchmark, against another
//! (public) player, or — with neither — your last 10 games against the 10 before.

use poise::serenity_prelude as serenity;
use rlcoach::storage::queries::Comparison;

use super::{Rank, games_arg, target, viewer};
use crate::bot::{Context, Error, sid, user_error};

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
    let me = target(&ctx, None).await?;
    let store = &ctx.data().store;
    let v = viewer(&ctx);
    let (title, rows) = match (rank, user) {
        (Some(_), Some(_)) => return Err(user_error("Pick either a rank or a player, not both.")),
        (Some(r), None) => (
            format!("You vs {} (median)", r.key()),
            store.compare_with_rank(&v, me, r.key(), n).await?,
        ),
        (None, Some(u)) => {
            let other = target(&ctx, Some(&u)).await?;
            let mine = store.playlist_summaries(&v, me, n).await?;
            let theirs = store.playlist_summaries(&v, other, n).await?;
            (format!("You vs {}", u.name), versus(&mine, &theirs))
        }
        (None, None) => (
            "Your last 10 games vs the 10 before".to_string(),
            store.compare_with_self(&v, me, 10).await?,
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
    let _ = sid;
    let embed = serenity::CreateEmbed::new()
        .title(title)
        .description(lines.join("\n"))
        .colour(crate::bot::reply::BLUE);
    ctx.send(poise::CreateReply::default().embed(embed)).await?;
    Ok(())
}

/// Metric averages of two players over all playlists in their windows.
fn versus(
    mine: &[rlcoach::storage::queries::PlaylistSummary],
    theirs: &[rlcoach::storage::queries::PlaylistSummary],
) -> Vec<Comparison> {
    let avg = |s: &[rlcoach::storage::queries::PlaylistSummary], key: &str| {
        let (sum, n) = s
            .iter()
            .filter_map(|p| {
                p.averages
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| (v * p.games as f64, p.games))
            })
            .fold((0.0, 0usize), |(a, b), (v, g)| (a + v, b + g));
        (n > 0).then(|| sum / n as f64)
    };
    rlcoach::benchmarks::METRICS
        .iter()
        .filter_map(|m| {
            let (a, b) = (avg(mine, m.key)?, avg(theirs, m.key)?);
            let dir = rlcoach::benchmarks::table()
                .iter()
                .find(|x| x.metric == m.key)
                .map(|x| x.better);
            let better = match dir {
                Some(rlcoach::benchmarks::Better::Up) if (a - b).abs() > 1e-9 => Some(a > b),
                Some(rlcoach::benchmarks::Better::Down) if (a - b).abs() > 1e-9 => Some(a < b),
                _ => None,
            };
            Some(Comparison {
                metric: m.key.into(),
                label: m.label.into(),
                value: a,
                reference: b,
                p25: None,
                p75: None,
                better,
            })
        })
        .collect()
}
