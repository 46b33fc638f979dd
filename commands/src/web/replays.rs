//! `/replays`: the viewer's games (filter, sort, paginate in SQL), and `/replays/{id}`: one
//! game's report in tabs, with the core's cards as SVG (404 unless the viewer may see it).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Redirect, Response};
use maud::{Markup, html};
use rlcoach::Report;
use rlcoach::cards::{CardOptions, Chart, ImageFormat};
use rlcoach::playlist::Playlist;
use rlcoach::storage::queries::{DAY_MS, GameFilter, GameSort};
use rlcoach::summary::GameSummary;

use super::auth::{CsrfForm, CurrentUser, check_post};
use super::error::{WebError, WebResult};
use super::{AppState, layout};

const PER_PAGE: i64 = 25;

#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    playlist: Option<String>,
    result: Option<String>,
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
}

/// `YYYY-MM-DD` to ms at the start of that UTC day; empty is None.
pub fn parse_day(s: Option<&str>) -> WebResult<Option<i64>> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = || WebError::BadRequest(format!("{s:?} is not a date (use YYYY-MM-DD)."));
    let mut parts = s.splitn(3, '-');
    let (y, m, d) = (
        parts.next().and_then(|p| p.parse::<i64>().ok()),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    );
    match (y, m, d) {
        (Some(y), Some(m @ 1..=12), Some(d @ 1..=31)) if (1970..=9999).contains(&y) => {
            Ok(Some(rlcoach::storage::coach::day_start(y, m, d)))
        }
        _ => Err(bad()),
    }
}

/// The playlist filter of a query: a known label or nothing.
pub fn parse_playlist(s: Option<&str>) -> WebResult<Option<Playlist>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(p) => Playlist::from_label(p)
            .map(Some)
            .ok_or_else(|| WebError::BadRequest(format!("There is no playlist {p:?}."))),
    }
}

impl ListQuery {
    fn filter(&self) -> WebResult<GameFilter> {
        Ok(GameFilter {
            playlist: parse_playlist(self.playlist.as_deref())?.map(|p| p.as_str().to_string()),
            won: match self.result.as_deref() {
                Some("win") => Some(true),
                Some("loss") => Some(false),
                Some("") | None => None,
                Some(other) => {
                    return Err(WebError::BadRequest(format!(
                        "{other:?} is not a result (win or loss)."
                    )));
                }
            },
            from: parse_day(self.from.as_deref())?,
            // The "to" day is included.
            to: parse_day(self.to.as_deref())?.map(|t| t + DAY_MS),
            with_value: None,
        })
    }

    /// This query's link with another page number.
    fn page_link(&self, page: i64) -> String {
        let mut q: Vec<(&str, String)> = Vec::new();
        for (k, v) in [
            ("playlist", &self.playlist),
            ("result", &self.result),
            ("from", &self.from),
            ("to", &self.to),
            ("sort", &self.sort),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                q.push((k, v.clone()));
            }
        }
        q.push(("page", page.to_string()));
        let q: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{k}={}", query_encode(v)))
            .collect();
        format!("/replays?{}", q.join("&"))
    }
}

fn query_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /replays`.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> WebResult<Html<String>> {
    let filter = q.filter()?;
    let sort = match q.sort.as_deref().filter(|s| !s.is_empty()) {
        None => GameSort::Newest,
        Some(s) => GameSort::from_key(s)
            .ok_or_else(|| WebError::BadRequest(format!("{s:?} is not a sort order.")))?,
    };
    let page = state
        .store
        .games_page(
            &user.viewer(),
            user.user(),
            &filter,
            sort,
            q.page.unwrap_or(1),
            PER_PAGE,
        )
        .await?;
    let selected = |a: Option<&str>, b: &str| a.unwrap_or("") == b;
    let body = html! {
        h1 { "Replays" }
        form.filters method="get" action="/replays" {
            label { "Playlist"
                select name="playlist" {
                    option value="" { "All" }
                    @for p in Playlist::ALL {
                        option value=(p.as_str()) selected[selected(q.playlist.as_deref(), p.as_str())] { (p.display_name()) }
                    }
                }
            }
            label { "Result"
                select name="result" {
                    option value="" { "All" }
                    option value="win" selected[selected(q.result.as_deref(), "win")] { "Wins" }
                    option value="loss" selected[selected(q.result.as_deref(), "loss")] { "Losses" }
                }
            }
            label { "From" input type="date" name="from" value=[q.from.as_deref()]; }
            label { "To" input type="date" name="to" value=[q.to.as_deref()]; }
            label { "Sort"
                select name="sort" {
                    @for s in GameSort::ALL {
                        option value=(s.key()) selected[s == sort] { (s.label()) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        p.muted { (page.total) " games" @if page.total > 0 { " · page " (page.page) " of " (page.pages()) } }
        @if page.rows.is_empty() {
            div.panel {
                p { "No games here yet." }
                p { "Upload replays on the " a href="/upload" { "Upload" } " page or send them to the bot; "
                    "games count once one of the players in them is linked to you (Settings)." }
            }
        } @else {
            (layout::games_table(&page.rows))
        }
        div.pager {
            @if page.page > 1 { a href=(q.page_link(page.page - 1)) rel="prev" { "← Newer page" } }
            @if page.page < page.pages() { a href=(q.page_link(page.page + 1)) rel="next" { "Next page →" } }
        }
    };
    Ok(layout::page("Replays", &user, "/replays", body))
}

/// The tabs of a replay page: (key, label).
const TABS: [(&str, &str); 7] = [
    ("overview", "Overview"),
    ("mechanics", "Mechanics"),
    ("boost", "Boost"),
    ("positioning", "Positioning"),
    ("timeline", "Timeline"),
    ("defense", "Defense"),
    ("offense", "Offense"),
];

#[derive(Debug, Default, serde::Deserialize)]
pub struct DetailQuery {
    tab: Option<String>,
}

async fn report_for(state: &AppState, user: &CurrentUser, id: &str) -> WebResult<Report> {
    state
        .store
        .report(&user.viewer(), id)
        .await?
        .ok_or(WebError::NotFound)
}

/// `GET /replays/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> WebResult<Html<String>> {
    let report = report_for(&state, &user, &id).await?;
    let tab = q.tab.as_deref().unwrap_or("overview");
    if !TABS.iter().any(|(k, _)| *k == tab) {
        return Err(WebError::NotFound);
    }
    let summary = GameSummary::from_report(&report);
    let hidden = state.store.is_hidden(&user.viewer(), &id).await?;
    let body = html! {
        h1 { (summary.title) }
        p.muted { (summary.subtitle())
            @if let Some(at) = report.metadata.started_at_unix { " · " (layout::datetime(at * 1000)) " UTC" } }
        (hide_form(&user, &id, hidden))
        @for note in &summary.notes { p.panel { (note.text()) } }
        nav.tabs aria-label="Replay sections" {
            @for (key, label) in TABS {
                a href={ "/replays/" (id) "?tab=" (key) } class=[(key == tab).then_some("on")] { (label) }
            }
        }
        @match tab {
            "mechanics" => (mechanics(&report, &summary)),
            "boost" => (boost(&report, &summary, &id)),
            "positioning" => (positioning(&report, &summary, &id)),
            "timeline" => (timeline(&report, &id)),
            "defense" => (defense(&report, &summary)),
            "offense" => (offense(&report, &summary)),
            _ => (overview(&report, &summary, &id)),
        }
    };
    Ok(layout::page(&summary.title, &user, "/replays", body))
}

/// "Hide from my history" (or, once hidden, "Put back"), for the replay page.
fn hide_form(user: &CurrentUser, id: &str, hidden: bool) -> Markup {
    html! {
        form.inline method="post" action={ "/replays/" (id) (if hidden { "/unhide" } else { "/hide" }) } {
            input type="hidden" name="csrf" value=(user.csrf());
            @if hidden {
                span.muted { "Hidden from your history: it counts nowhere for you. " }
                button.secondary type="submit" { "Put it back" }
            } @else {
                button.secondary type="submit" title="It then counts nowhere for you: lists, trends, sessions, comparisons, leaderboards and the coach" { "Hide from my history" }
            }
        }
    }
}

/// `POST /replays/{id}/hide`: takes the game out of the viewer's history (every copy of the
/// match); not the viewer's to see → 404, as on the page.
pub async fn hide(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> WebResult<Redirect> {
    check_post(&state, &headers, &user, &form.csrf)?;
    if !state.store.hide_game(&user.viewer(), &id).await? {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to(&format!("/replays/{id}")))
}

/// `POST /replays/{id}/unhide`: puts a hidden game back (to the page, or to Settings when the
/// replay can no longer be opened).
pub async fn unhide(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> WebResult<Redirect> {
    check_post(&state, &headers, &user, &form.csrf)?;
    if !state.store.unhide_game(&user.viewer(), &id).await? {
        return Err(WebError::NotFound);
    }
    if state.store.can_see_replay(&user.viewer(), &id).await? {
        Ok(Redirect::to(&format!("/replays/{id}")))
    } else {
        Ok(Redirect::to("/settings"))
    }
}

/// A card as an image of known size (no layout shift while it loads).
fn chart_img(id: &str, chart: Chart, alt: &str) -> Markup {
    html! {
        img.chart src={ "/replays/" (id) "/charts/" (chart.slug()) ".svg" } width="1200" height="675" alt=(alt) loading="lazy";
    }
}

/// Players in the summary's order (blue then orange, best score first).
fn ordered(summary: &GameSummary) -> Vec<usize> {
    summary
        .teams
        .iter()
        .flat_map(|t| t.players.iter().copied())
        .collect()
}

/// A table with one row per player (team-coloured) and the given columns.
fn player_table(
    report: &Report,
    summary: &GameSummary,
    columns: &[&str],
    cells: impl Fn(&rlcoach::report::PlayerReport) -> Vec<String>,
) -> Markup {
    html! {
        div.table-wrap { table {
            thead { tr { th { "Player" } @for c in columns { th.num { (c) } } } }
            tbody {
                @for i in ordered(summary) {
                    @let p = &report.players[i];
                    tr class={ "team-" (p.team) } {
                        td { (p.name) @if summary.mvp == Some(i) { " ★" } }
                        @for c in cells(p) { td.num { (c) } }
                    }
                }
            }
        } }
    }
}

fn num(v: f64) -> String {
    rlcoach::cards::format_value(v, "")
}

fn pct(v: f64) -> String {
    rlcoach::cards::format_value(v, "%")
}

fn or_dash<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "—".to_string(), f)
}

fn overview(report: &Report, summary: &GameSummary, id: &str) -> Markup {
    html! {
        (chart_img(id, Chart::Match, "Match card"))
        h2 { "Scoreboard" }
        (player_table(report, summary, &["Score", "Goals", "Assists", "Saves", "Shots", "Demos"], |p| vec![
            p.core.score.to_string(), p.core.goals.to_string(), p.core.assists.to_string(),
            p.core.saves.to_string(), p.core.shots.to_string(), p.core.demos_inflicted.to_string(),
        ]))
    }
}

fn mechanics(report: &Report, summary: &GameSummary) -> Markup {
    html! {
        h2 { "Mechanics" }
        (player_table(report, summary, &["Flips", "Wavedashes", "Half-flips", "Speedflips", "Aerials", "Flip resets", "Ceiling", "Dribbles", "Flicks"], |p| {
            match &p.mechanics {
                Some(m) => [m.flips, m.wavedashes, m.half_flips, m.speedflips, m.aerials, m.flip_resets, m.ceiling_touches, m.dribbles, m.flicks]
                    .iter().map(u32::to_string).collect(),
                None => vec!["—".to_string(); 9],
            }
        }))
    }
}

fn boost(report: &Report, summary: &GameSummary, id: &str) -> Markup {
    html! {
        (chart_img(id, Chart::Boost, "Boost over time"))
        h2 { "Boost" }
        (player_table(report, summary, &["BCPM", "Avg", "Big pads", "Small pads", "Stolen", "Time at 0", "Time at 100"], |p| {
            match &p.boost {
                Some(b) => vec![num(b.bcpm), num(b.avg_amount), b.count_collected_big.to_string(),
                    b.count_collected_small.to_string(), num(b.amount_stolen),
                    format!("{}s", num(b.time_zero_boost)), format!("{}s", num(b.time_full_boost))],
                None => vec!["—".to_string(); 7],
            }
        }))
    }
}

fn positioning(report: &Report, summary: &GameSummary, id: &str) -> Markup {
    html! {
        (chart_img(id, Chart::Heatmap, "Positioning heatmap"))
        h2 { "Positioning" }
        (player_table(report, summary, &["Def. third", "Mid third", "Off. third", "Behind ball", "To ball", "To mates"], |p| {
            match &p.positioning {
                Some(x) => vec![pct(x.percent_defensive_third), pct(x.percent_neutral_third),
                    pct(x.percent_offensive_third), pct(x.percent_behind_ball),
                    num(x.avg_distance_to_ball), or_dash(x.avg_distance_to_mates, num)],
                None => vec!["—".to_string(); 6],
            }
        }))
        (chart_img(id, Chart::Movement, "Speed and air time"))
    }
}

fn timeline(report: &Report, id: &str) -> Markup {
    html! {
        (chart_img(id, Chart::Timeline, "Timeline"))
        h2 { "Events" }
        div.table-wrap { table {
            thead { tr { th { "Time" } th { "Event" } th { "Player" } } }
            tbody {
                @for e in report.timeline.iter().filter(|e| !matches!(e.kind, rlcoach::report::EventKind::Challenge)) {
                    tr class=[e.team.map(|t| format!("team-{t}"))] {
                        td { (rlcoach::names::clock(e.t)) }
                        td { (format!("{:?}", e.kind)) }
                        td { (e.player.and_then(|i| report.players.get(i)).map_or("", |p| p.name.as_str())) }
                    }
                }
            }
        } }
    }
}

fn defense(report: &Report, summary: &GameSummary) -> Markup {
    html! {
        h2 { "Defense" }
        (player_table(report, summary, &["Saves", "Shots against", "Goals against", "As last back", "Demos taken"], |p| vec![
            p.core.saves.to_string(), p.core.shots_against.to_string(), p.core.goals_against.to_string(),
            or_dash(p.core.goals_against_while_last_defender, |v| v.to_string()), p.core.demos_taken.to_string(),
        ]))
    }
}

fn offense(report: &Report, summary: &GameSummary) -> Markup {
    html! {
        h2 { "Offense" }
        (player_table(report, summary, &["Goals", "Shots", "Shooting", "Assists", "Passes", "Hard hits", "Demos"], |p| vec![
            p.core.goals.to_string(), p.core.shots.to_string(), pct(p.core.shooting_percentage),
            p.core.assists.to_string(),
            or_dash(p.touches.as_ref(), |t| t.passes_completed.to_string()),
            or_dash(p.touches.as_ref(), |t| t.hard_hits.to_string()),
            p.core.demos_inflicted.to_string(),
        ]))
    }
}

/// `GET /replays/{id}/charts/{chart}.svg`: one of the core's cards, as SVG.
pub async fn chart(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, file)): Path<(String, String)>,
) -> WebResult<Response> {
    let chart = file
        .strip_suffix(".svg")
        .and_then(Chart::from_slug)
        .ok_or(WebError::NotFound)?;
    super::heavy(&state, &user, true)?;
    let report = report_for(&state, &user, &id).await?;
    super::svg_response("private, max-age=3600", move || {
        rlcoach::cards::render_chart(&report, chart, &CardOptions::default(), ImageFormat::Svg)
    })
    .await
}
