//! The page shell (head, navigation, theme toggle, logout) and small formatting helpers shared
//! by the pages.

use axum::response::Html;
use maud::{DOCTYPE, Markup, html};
use rlcoach::storage::queries::GameRow;

use super::assets;
use super::auth::CurrentUser;

/// The sections in the navigation: (path, label).
const NAV: [(&str, &str); 9] = [
    ("/", "Home"),
    ("/replays", "Replays"),
    ("/sessions", "Sessions"),
    ("/trends", "Trends"),
    ("/compare", "Compare"),
    ("/coach", "Coach"),
    ("/upload", "Upload"),
    ("/billing", "Billing"),
    ("/settings", "Settings"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="dark light";
            title { (title) " · rlcoach" }
            link rel="icon" type="image/svg+xml" href=(assets::icon_url());
            link rel="stylesheet" href=(assets::css_url());
            script src=(assets::js_url()) defer {}
        }
    }
}

/// A page of the logged-in site; `active` is the navigation path to highlight.
pub fn page(title: &str, user: &CurrentUser, active: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" data-theme="dark" {
                (head(title))
                body {
                    header.top {
                        div.bar {
                            a.brand href="/" { "rl" span { "coach" } }
                            nav.main aria-label="Sections" {
                                @for (path, label) in NAV {
                                    a href=(path) class=[(path == active).then_some("on")] { (label) }
                                }
                            }
                            div.tools {
                                button.secondary #theme-toggle type="button" title="Light or dark theme" { "Theme" }
                                form.inline method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=(user.csrf());
                                    button.secondary type="submit" { "Log out" }
                                }
                            }
                        }
                    }
                    main { (body) }
                }
            }
        }
        .into_string(),
    )
}

/// A page without navigation: visitors, errors.
pub fn bare(title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" data-theme="dark" {
                (head(title))
                body {
                    header.top {
                        div.bar {
                            a.brand href="/" { "rl" span { "coach" } }
                            div.tools {
                                button.secondary #theme-toggle type="button" title="Light or dark theme" { "Theme" }
                            }
                        }
                    }
                    main { (body) }
                }
            }
        }
        .into_string(),
    )
}

/// `2026-03-14 18:20` (UTC).
pub fn datetime(ms: i64) -> String {
    let mins = ms.div_euclid(60_000).rem_euclid(24 * 60);
    format!(
        "{} {:02}:{:02}",
        rlcoach::storage::coach::date_string(ms),
        mins / 60,
        mins % 60
    )
}

pub fn date(ms: i64) -> String {
    rlcoach::storage::coach::date_string(ms)
}

/// A playlist as stored (`DOUBLES`) to its display name.
pub fn playlist(stored: &str) -> String {
    rlcoach::playlist::Playlist::from_label(stored)
        .map_or_else(|| stored.to_string(), |p| p.display_name().to_string())
}

pub fn map(stored: Option<&str>) -> String {
    stored.map_or_else(|| "Unknown map".to_string(), rlcoach::names::map_name)
}

/// W or L, coloured.
pub fn result(won: bool) -> Markup {
    html! {
        @if won { span.win { "W" } } @else { span.loss { "L" } }
    }
}

/// A metric value with its unit, as the cards print it.
pub fn metric(key: &str, value: f64) -> String {
    let unit = rlcoach::benchmarks::Metric::by_key(key).map_or("", |m| m.unit);
    rlcoach::cards::format_value(value, unit)
}

/// A table of games (the replay list, a session's games).
pub fn games_table(rows: &[GameRow]) -> Markup {
    html! {
        div.table-wrap {
            table {
                thead { tr {
                    th { "Date (UTC)" } th { "Result" } th.num { "Score" } th.num { "G/A/S" }
                    th { "Map" } th { "Playlist" } th { "Player" }
                } }
                tbody {
                    @for g in rows {
                        tr {
                            td { a href={ "/replays/" (g.replay_id) } { (datetime(g.played_at)) } }
                            td { (result(g.won)) }
                            td.num { (g.score) }
                            td.num { (g.goals) "/" (g.assists) "/" (g.saves) }
                            td { (map(g.map.as_deref())) }
                            td { (playlist(&g.playlist)) }
                            td { (g.name) }
                        }
                    }
                }
            }
        }
    }
}
