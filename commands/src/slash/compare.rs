//! `/compare [rank] [user] [playlist] [games]`: your averages against a rank's benchmark, against
//! another (public) player, or — with neither — your last 10 games against the 10 before. One
//! playlist at a time (default: the playlist of your newest game); playlists are never mixed.

use poise::serenity_prelude as serenity;

use super::stats::Playlist;
use super::{Rank, defer, games_arg, private_answer, target, viewer};
use crate::bot::{Context, Error, user_error};

/// Compare yourself with a rank, another player, or your own past.
#[poise::command(slash_command)]
pub async fn compare(
    ctx: Context<'_>,
    #[description = "Compare with this rank's benchmark"] rank: Option<Rank>,
    #[description = "Compare with this player (their profile must be public)"] user: Option<
        serenity::User,
    >,
    #[description = "Which playlist (default: the one of your newest game)"] playlist: Option<
        Playlist,
    >,
    #[description = "Recent games to average (default 20)"] games: Option<u32>,
) -> Result<(), Error> {
    let playlist = playlist.map(Playlist::key);
    let n = games_arg(games, 20)?;
    super::heavy(&ctx)?;
    let me = target(&ctx, None).await?;
    let store = &ctx.data().store;
    let v = viewer(&ctx);
    let other = match (&rank, &user) {
        (Some(_), Some(_)) => return Err(user_error("Pick either a rank or a player, not both.")),
        (None, Some(u)) => Some(target(&ctx, Some(u)).await?),
        _ => None,
    };
    let private = private_answer(
        &ctx,
        &[Some(me), other].into_iter().flatten().collect::<Vec<_>>(),
    );
    defer(&ctx, private).await?;
    let (title, cmp) = match (rank, other, user) {
        (Some(r), _, _) => (
            format!("You vs {} (median)", r.key()),
            store
                .compare_with_rank(&v, me.user, r.key(), n, playlist)
                .await,
        ),
        (None, Some(other), Some(u)) => (
            format!("You vs {}", u.name),
            store
                .compare_with_user(&v, me.user, other.user, n, playlist)
                .await,
        ),
        _ => (
            "Your last 10 games vs the 10 before".to_string(),
            store.compare_with_self(&v, me.user, 10, playlist).await,
        ),
    };
    let cmp = match cmp {
        Err(rlcoach::storage::StorageError::NotFound) => {
            return Err(user_error("Not enough games to compare yet."));
        }
        other => other?,
    };
    let rows = &cmp.rows;
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
    let mut description = format!(
        "{} · {} games\n\n{}",
        rlcoach::names::playlist_name(&cmp.playlist),
        cmp.games,
        lines.join("\n")
    );
    if let Some(note) = cmp.benchmark_note() {
        description.push_str(&format!("\n\n⚠️ {note}"));
    }
    let embed = serenity::CreateEmbed::new()
        .title(title)
        .description(crate::bot::reply::truncate(&description, 4000))
        .colour(crate::bot::reply::BLUE);
    ctx.send(
        poise::CreateReply::default()
            .embed(embed)
            .ephemeral(private),
    )
    .await?;
    Ok(())
}
