//! `/`: the last 30 days against the 30 before (games, win rate, per-game averages, mechanics
//! counts; summed up in SQL), the player against their rank's band, and an upload drop zone.
//! Visitors get the login.

use axum::extract::State;
use axum::response::Html;
use maud::{Markup, html};
use rlcoach::storage::now_ms;
use rlcoach::storage::queries::{DAY_MS, GameFilter, GamesSummary};

use super::auth::MaybeUser;
use super::error::WebResult;
use super::{AppState, layout, upload};

/// The metrics of the topline, as benchmark keys.
const TOPLINE: [&str; 4] = ["goals_per_game", "saves_per_game", "bcpm", "avg_speed_uu_s"];

pub async fn page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
) -> WebResult<Html<String>> {
    let Some(user) = user else {
        return Ok(layout::bare(
            "Welcome",
            html! {
                h1 { "Your Rocket League season, one replay at a time" }
                p { "rlcoach reads your replays and shows your games, sessions and trends, "
                    "next to the numbers of your rank." }
                p { a.button href="/login" { "Log in with Discord" } }
                p.muted { "We read your Discord name and connected accounts (Steam, Epic, Xbox) "
                    "to find your games; nothing is posted anywhere." }
            },
        ));
    };
    let viewer = user.viewer();
    let now = now_ms();
    let period = |from: i64, to: i64| GameFilter {
        from: Some(from),
        to: Some(to),
        ..GameFilter::default()
    };
    let summary = |f: GameFilter| {
        let store = state.store.clone();
        async move { store.games_summary(&viewer, viewer.user, &f).await }
    };
    let recent = summary(period(now - 30 * DAY_MS, now + DAY_MS)).await?;
    let before = summary(period(now - 60 * DAY_MS, now - 30 * DAY_MS)).await?;
    let rank = state
        .store
        .compare_with_rank(&viewer, viewer.user, rlcoach::cards::DEFAULT_RANK, 50, None)
        .await
        .ok();
    let body = html! {
        h1 { "Last 30 days" }
        div.grid {
            (tile("Games", recent.games as f64, Some(before.games as f64), "", true))
            (tile("Win rate", recent.win_rate().unwrap_or(0.0), before.win_rate(), "%", true))
            @for key in TOPLINE {
                @if let Some(m) = rlcoach::benchmarks::Metric::by_key(key) {
                    @if let Some(v) = recent.average(key) {
                        (tile(m.label, v, before.average(key), m.unit,
                            rlcoach::benchmarks::direction(key) != rlcoach::benchmarks::Better::Down))
                    }
                }
            }
        }
        p.muted { "Against the 30 days before. " a href="/replays" { "All replays →" } }
        @if recent.mechanics_games > 0 {
            (mechanics(&recent, &before))
        }
        @if let Some(c) = rank.filter(|c| !c.rows.is_empty()) {
            h2 { "You against " (rlcoach::cards::DEFAULT_RANK) " · " (layout::playlist(&c.playlist)) }
            p.muted { "Your last " (c.games) " games; the band is the rank's middle half." }
            div.table-wrap { table {
                thead { tr { th { "Stat" } th.num { "You" } th.num { "Rank band" } th.num { "Median" } } }
                tbody {
                    @for r in c.rows.iter().take(8) {
                        tr {
                            td { (r.label) }
                            td.num class=[r.better.map(|b| if b { "win" } else { "loss" })] { (layout::metric(&r.metric, r.value)) }
                            td.num { (r.p25.map_or_else(String::new, |v| layout::metric(&r.metric, v))) "–"
                                     (r.p75.map_or_else(String::new, |v| layout::metric(&r.metric, v))) }
                            td.num { (layout::metric(&r.metric, r.reference)) }
                        }
                    }
                }
            } }
            p { a href="/compare" { "Compare in detail →" } }
        }
        h2 { "Upload replays" }
        (upload::form(&user))
    };
    Ok(layout::page("Home", &user, "/", body))
}

/// Mechanics counted in the last 30 days, per game against the 30 days before.
fn mechanics(recent: &GamesSummary, before: &GamesSummary) -> Markup {
    let per_game = |s: &GamesSummary, i: usize| {
        (s.mechanics_games > 0).then(|| s.mechanics[i].1 as f64 / s.mechanics_games as f64)
    };
    html! {
        h2 { "Mechanics" }
        p.muted { "Counted in " (recent.mechanics_games) " games of the last 30 days; per game against the 30 days before." }
        div.grid {
            @for (i, (label, total)) in recent.mechanics.iter().enumerate() {
                div.stat {
                    div.label { (label) }
                    div.value { (total) }
                    @let now = per_game(recent, i).unwrap_or(0.0);
                    @match per_game(before, i) {
                        Some(b) if (now - b).abs() > 1e-9 => {
                            div.delta.muted { (rlcoach::cards::format_value(now, "")) " a game, "
                                @if now > b { "up from " } @else { "down from " } (rlcoach::cards::format_value(b, "")) }
                        }
                        _ => { div.delta.muted { (rlcoach::cards::format_value(now, "")) " a game" } }
                    }
                }
            }
        }
    }
}

/// A number with its change against the earlier period (green when it went the right way).
fn tile(label: &str, value: f64, before: Option<f64>, unit: &str, up_is_good: bool) -> Markup {
    let delta = before.map(|b| value - b).filter(|d| d.abs() > 1e-9);
    html! {
        div.stat {
            div.label { (label) }
            div.value { (rlcoach::cards::format_value(value, unit)) }
            @if let Some(d) = delta {
                div class={ "delta " @if (d > 0.0) == up_is_good { "up" } @else { "down" } } {
                    @if d > 0.0 { "+" } (rlcoach::cards::format_value(d, unit))
                }
            } @else {
                div.delta.muted { "—" }
            }
        }
    }
}
