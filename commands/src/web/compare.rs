//! `/compare`: the viewer against a rank's benchmark, this week against last week, or against
//! another player whose profile is public (by Discord user id).

use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use rlcoach::storage::queries::{PlaylistComparison, week_start};
use rlcoach::storage::{UserId, now_ms};

use super::auth::CurrentUser;
use super::error::{WebError, WebResult};
use super::replays::parse_playlist;
use super::{AppState, layout};

const WEEK_MS: i64 = 7 * 86_400_000;

#[derive(Debug, Default, serde::Deserialize)]
pub struct CompareQuery {
    /// `rank` (default), `week` or `player`.
    with: Option<String>,
    rank: Option<String>,
    player: Option<String>,
    playlist: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<CompareQuery>,
) -> WebResult<Html<String>> {
    let viewer = user.viewer();
    let playlist = parse_playlist(q.playlist.as_deref())?.map(|p| p.as_str());
    super::heavy(&state, &user, false)?;
    let with = q.with.as_deref().unwrap_or("rank");
    let ranks = rlcoach::benchmarks::ranks();
    let rank = q
        .rank
        .as_deref()
        .and_then(|r| ranks.iter().find(|k| k.eq_ignore_ascii_case(r)).copied())
        .unwrap_or(rlcoach::cards::DEFAULT_RANK);
    let (heading, reference, result) = match with {
        "rank" => (
            format!("You against {rank}"),
            format!("{rank} median"),
            state
                .store
                .compare_with_rank(&viewer, user.user(), rank, 50, playlist)
                .await,
        ),
        "week" => {
            let this = week_start(now_ms());
            (
                "This week against last week".to_string(),
                "Last week".to_string(),
                state
                    .store
                    .compare_periods(
                        &viewer,
                        user.user(),
                        (this, this + WEEK_MS),
                        (this - WEEK_MS, this),
                        playlist,
                    )
                    .await,
            )
        }
        "player" => {
            let id = q.player.as_deref().unwrap_or("").trim();
            let other: u64 = id.parse().map_err(|_| {
                WebError::BadRequest(
                    "Give the other player's Discord user id (a number; Discord: Copy User ID)."
                        .into(),
                )
            })?;
            (
                format!("You against player {other}"),
                "Them".to_string(),
                state
                    .store
                    .compare_with_user(
                        &viewer,
                        user.user(),
                        UserId::from_discord(other),
                        50,
                        playlist,
                    )
                    .await,
            )
        }
        _ => {
            return Err(WebError::BadRequest(
                "Compare with rank, week or player.".into(),
            ));
        }
    };
    let comparison: Option<PlaylistComparison> = match result {
        Ok(c) => Some(c),
        Err(rlcoach::storage::StorageError::NotFound) => None,
        Err(rlcoach::storage::StorageError::Forbidden) => {
            return Err(WebError::BadRequest(
                "That player's profile is private (or they have no games here).".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let body = html! {
        h1 { "Compare" }
        form.filters method="get" action="/compare" {
            label { "With"
                select name="with" {
                    option value="rank" selected[with == "rank"] { "A rank" }
                    option value="week" selected[with == "week"] { "Last week" }
                    option value="player" selected[with == "player"] { "Another player" }
                }
            }
            label { "Rank"
                select name="rank" { @for r in &ranks { option value=(r) selected[*r == rank] { (r) } } }
            }
            label { "Player (Discord id)" input type="text" name="player" inputmode="numeric" value=[q.player.as_deref()]; }
            label { "Playlist"
                select name="playlist" {
                    option value="" { "Latest played" }
                    @for pl in rlcoach::playlist::Playlist::ALL {
                        option value=(pl.as_str()) selected[playlist == Some(pl.as_str())] { (pl.display_name()) }
                    }
                }
            }
            button type="submit" { "Compare" }
        }
        h2 { (heading) }
        @match &comparison {
            None => div.panel { p { "No games to compare yet." } },
            Some(c) => {
                p.muted { (layout::playlist(&c.playlist)) " · your " (c.games) " games"
                    @if let Some(b) = c.benchmark_playlist.filter(|b| !b.eq_ignore_ascii_case(&c.playlist)) {
                        " · benchmark of " (layout::playlist(b)) } }
                div.table-wrap { table {
                    thead { tr { th { "Stat" } th.num { "You" } th.num { (reference) } th.num { "Band" } } }
                    tbody {
                        @for r in &c.rows {
                            tr {
                                td { (r.label) }
                                td.num class=[r.better.map(|b| if b { "win" } else { "loss" })] { (layout::metric(&r.metric, r.value)) }
                                td.num { (layout::metric(&r.metric, r.reference)) }
                                td.num { @if let (Some(a), Some(b)) = (r.p25, r.p75) {
                                    (layout::metric(&r.metric, a)) "–" (layout::metric(&r.metric, b)) } }
                            }
                        }
                    }
                } }
            }
        }
    };
    Ok(layout::page("Compare", &user, "/compare", body))
}
