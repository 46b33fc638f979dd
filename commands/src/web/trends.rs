//! `/trends`: any benchmarked stat per game, per session or per week over a date range, with a
//! moving average (in the table and drawn on the chart); the chart is the core's trend card as
//! SVG, the same as the bot's /trends.

use axum::extract::{Query, State};
use axum::response::{Html, Response};
use maud::html;
use rlcoach::benchmarks::METRICS;
use rlcoach::cards::{ImageFormat, TrendChartSpec, moving_average};
use rlcoach::storage::queries::{DAY_MS, GameFilter, TrendBucket, TrendPoint};

use super::auth::CurrentUser;
use super::error::{WebError, WebResult};
use super::replays::{parse_day, parse_playlist};
use super::{AppState, layout};

/// The most games a per-session or per-week trend covers (a per-game trend takes the newest
/// games that have the stat, reading past those without it).
const MAX_GAMES: i64 = 2_000;
/// Points listed under the chart, newest first.
const TABLE_POINTS: usize = 100;

#[derive(Debug, Default, serde::Deserialize)]
pub struct TrendQuery {
    metric: Option<String>,
    per: Option<String>,
    playlist: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// Moving average window (points); 0 or 1: none.
    avg: Option<usize>,
}

struct Parsed {
    metric: &'static rlcoach::benchmarks::Metric,
    bucket: TrendBucket,
    filter: GameFilter,
    window: usize,
}

impl TrendQuery {
    fn parse(&self) -> WebResult<Parsed> {
        let metric = match self.metric.as_deref().filter(|m| !m.is_empty()) {
            None => &METRICS[0],
            Some(k) => rlcoach::benchmarks::Metric::by_key(k)
                .filter(|_| rlcoach::storage::queries::metric_column(k).is_some())
                .ok_or_else(|| WebError::BadRequest(format!("There is no stat {k:?}.")))?,
        };
        let bucket = match self.per.as_deref().filter(|p| !p.is_empty()) {
            None => TrendBucket::Game,
            Some(p) => TrendBucket::from_key(p).ok_or_else(|| {
                WebError::BadRequest(format!("{p:?} is not game, session or week."))
            })?,
        };
        Ok(Parsed {
            metric,
            bucket,
            filter: GameFilter {
                playlist: parse_playlist(self.playlist.as_deref())?.map(|p| p.as_str().to_string()),
                won: None,
                from: parse_day(self.from.as_deref())?,
                to: parse_day(self.to.as_deref())?.map(|t| t + DAY_MS),
                with_value: None,
            },
            window: self.avg.unwrap_or(5).min(50),
        })
    }

    fn query_string(&self) -> String {
        let mut q = Vec::new();
        for (k, v) in [
            ("metric", self.metric.clone()),
            ("per", self.per.clone()),
            ("playlist", self.playlist.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("avg", self.avg.map(|a| a.to_string())),
        ] {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                let v: String = v
                    .bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect();
                q.push(format!("{k}={v}"));
            }
        }
        q.join("&")
    }
}

/// The points of the trend, oldest first, from at most the newest `max_games` games.
async fn points(
    state: &AppState,
    user: &CurrentUser,
    p: &Parsed,
    max_games: i64,
) -> WebResult<Vec<TrendPoint>> {
    Ok(state
        .store
        .trend_series(
            &user.viewer(),
            user.user(),
            p.metric.key,
            &p.filter,
            p.bucket,
            max_games,
        )
        .await?)
}

/// `GET /trends`.
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<TrendQuery>,
) -> WebResult<Html<String>> {
    let p = q.parse()?;
    // The table shows the newest TABLE_POINTS points; per game, only they and the games their
    // moving average reaches back to are read (the chart reads them all).
    let max_games = match p.bucket {
        TrendBucket::Game => (TABLE_POINTS + p.window.max(1)) as i64,
        _ => MAX_GAMES,
    };
    let pts = points(&state, &user, &p, max_games).await?;
    let values: Vec<f64> = pts.iter().map(|t| t.value).collect();
    let smooth = moving_average(&values, p.window.max(1));
    let body = html! {
        h1 { "Trends" }
        form.filters method="get" action="/trends" {
            label { "Stat"
                select name="metric" {
                    @for m in METRICS.iter().filter(|m| rlcoach::storage::queries::metric_column(m.key).is_some()) {
                        option value=(m.key) selected[m.key == p.metric.key] { (m.label) }
                    }
                }
            }
            label { "Per"
                select name="per" {
                    @for b in TrendBucket::ALL {
                        option value=(b.key()) selected[b == p.bucket] { (b.key()) }
                    }
                }
            }
            label { "Playlist"
                select name="playlist" {
                    option value="" { "All" }
                    @for pl in rlcoach::playlist::Playlist::ALL {
                        option value=(pl.as_str()) selected[p.filter.playlist.as_deref() == Some(pl.as_str())] { (pl.display_name()) }
                    }
                }
            }
            label { "From" input type="date" name="from" value=[q.from.as_deref()]; }
            label { "To" input type="date" name="to" value=[q.to.as_deref()]; }
            label { "Moving average" input type="number" name="avg" min="1" max="50" value=(p.window.max(1)); }
            button type="submit" { "Show" }
        }
        @if pts.is_empty() {
            div.panel { p { "No games with this stat in this range." } }
        } @else {
            img.chart src={ "/trends/chart.svg?" (q.query_string()) } width="1200" height="675" alt={ (p.metric.label) " trend" };
            h2 { "Points" }
            div.table-wrap { table {
                thead { tr { th { "From (UTC)" } th.num { "Games" } th.num { (p.metric.label) } th.num { "Moving avg" } } }
                tbody {
                    @for (t, s) in pts.iter().zip(&smooth).rev().take(TABLE_POINTS) {
                        tr {
                            td { (layout::datetime(t.at)) }
                            td.num { (t.games) }
                            td.num { (layout::metric(p.metric.key, t.value)) }
                            td.num { (layout::metric(p.metric.key, *s)) }
                        }
                    }
                }
            } }
        }
    };
    Ok(layout::page("Trends", &user, "/trends", body))
}

/// `GET /trends/chart.svg`: the core's trend card (rank band for the playlist, else doubles).
pub async fn chart(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<TrendQuery>,
) -> WebResult<Response> {
    let p = q.parse()?;
    super::heavy(&state, &user, true)?;
    let pts = points(&state, &user, &p, MAX_GAMES).await?;
    let labels: Vec<(String, f64)> = pts
        .iter()
        .map(|t| (layout::date(t.at)[5..].to_string(), t.value))
        .collect();
    let playlist = p
        .filter
        .playlist
        .clone()
        .unwrap_or_else(|| "DOUBLES".into());
    let mut spec = TrendChartSpec::new("You", p.metric.key, labels, None, &playlist)
        .with_moving_average(p.window);
    if p.bucket != TrendBucket::Game {
        spec.title = format!(
            "You — {} per {} ({} {}s)",
            p.metric.label,
            p.bucket.key(),
            pts.len(),
            p.bucket.key()
        );
    }
    super::svg_response("private, no-cache", move || {
        rlcoach::cards::render_trend(&spec, ImageFormat::Svg)
    })
    .await
}
