//! The data behind each card, taken from a [`Report`] (or, for trends, a list of stored values).
//! Drawing code reads only these structs, so what a card shows can be snapshot-tested as data.

use serde::Serialize;

use crate::benchmarks::{self, Better};
use crate::names;
use crate::report::{EventKind, PlayerId, Report};
use crate::summary::GameSummary;

/// Options that change what a card emphasises.
#[derive(Debug, Clone, Default)]
pub struct CardOptions {
    /// The uploader's in-game identity, highlighted on the match card when known.
    pub highlight: Option<PlayerId>,
    /// Rank benchmark for player cards (e.g. "GC1"); default [`DEFAULT_RANK`].
    pub rank: Option<String>,
}

pub const DEFAULT_RANK: &str = "GC1";

#[derive(Debug, Clone, Serialize)]
pub struct MatchCardSpec {
    pub score: [u32; 2],
    /// Winning team, None for a draw (forfeits and unfinished replays can end level).
    pub winner: Option<u8>,
    /// Map · playlist · duration.
    pub subtitle: String,
    pub date: Option<String>,
    pub teams: Vec<TeamBlock>,
    /// Whether per-player detail (boost, speed, supersonic) is available.
    pub detailed: bool,
    pub notes: Vec<String>,
    pub footer: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamBlock {
    pub team: u8,
    pub name: String,
    pub goals: u32,
    pub rows: Vec<PlayerRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlayerRow {
    pub name: String,
    pub score: u32,
    pub goals: u32,
    pub assists: u32,
    pub saves: u32,
    pub shots: u32,
    pub demos: u32,
    pub boost_collected: Option<f64>,
    pub avg_speed: Option<f64>,
    pub supersonic_seconds: Option<f64>,
    pub mvp: bool,
    pub highlighted: bool,
}

impl MatchCardSpec {
    pub fn from_report(r: &Report, opts: &CardOptions) -> Self {
        let m = &r.metadata;
        let game = GameSummary::from_report(r);
        let teams = game
            .teams
            .iter()
            .map(|t| TeamBlock {
                team: t.team,
                name: t.name.to_string(),
                goals: t.goals,
                rows: t
                    .players
                    .iter()
                    .map(|&i| {
                        let p = &r.players[i];
                        PlayerRow {
                            name: p.name.clone(),
                            score: p.core.score,
                            goals: p.core.goals,
                            assists: p.core.assists,
                            saves: p.core.saves,
                            shots: p.core.shots,
                            demos: p.core.demos_inflicted,
                            boost_collected: p.boost.as_ref().map(|b| b.amount_collected),
                            avg_speed: p.movement.as_ref().map(|x| x.avg_speed),
                            supersonic_seconds: p
                                .movement
                                .as_ref()
                                .map(|x| x.time_supersonic_speed),
                            mvp: game.mvp == Some(i),
                            highlighted: opts.highlight.as_ref() == Some(&p.id),
                        }
                    })
                    .collect(),
            })
            .collect();
        MatchCardSpec {
            score: game.score,
            winner: game.winner,
            subtitle: game.subtitle(),
            date: m.date.as_ref().map(|d| pretty_date(d)),
            teams,
            detailed: r.players.iter().any(|p| p.movement.is_some()),
            notes: game.notes.iter().map(|n| n.text().to_string()).collect(),
            footer: format!("rlcoach · replay {}", short_id(&m.replay_id)),
        }
    }
}

/// `2025-09-25 14-33-19` → `2025-09-25 14:33`.
fn pretty_date(raw: &str) -> String {
    match raw.split_once(' ') {
        Some((day, time)) => {
            let hm: Vec<&str> = time.split(['-', ':']).take(2).collect();
            format!("{day} {}", hm.join(":"))
        }
        None => raw.to_string(),
    }
}

fn short_id(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

/// One player's numbers against a rank benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct PlayerCardSpec {
    pub name: String,
    pub team: u8,
    /// e.g. "Win 3–2 · Mannfield · Doubles"
    pub subtitle: String,
    pub headline: Vec<(String, String)>,
    pub rank: String,
    pub benchmark_playlist: String,
    pub rows: Vec<MetricRow>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    pub key: String,
    pub label: String,
    pub value: f64,
    pub value_label: String,
    pub median: f64,
    pub p25: f64,
    pub p75: f64,
    /// Some(true) better than the rank median, Some(false) worse, None neutral metric or equal.
    pub better: Option<bool>,
    pub direction: Better,
}

/// The metrics a player card compares, in display order.
const PLAYER_CARD_METRICS: &[&str] = &[
    "bcpm",
    "avg_boost_amount",
    "pct_zero_boost",
    "avg_speed_uu_s",
    "pct_supersonic",
    "pct_behind_ball",
    "pct_defensive_third",
    "pct_offensive_third",
    "avg_distance_to_ball",
    "shooting_pct",
];

impl PlayerCardSpec {
    /// None when `player` is out of range.
    pub fn from_report(r: &Report, player: usize, opts: &CardOptions) -> Option<Self> {
        let p = r.players.get(player)?;
        let m = &r.metadata;
        let rank = opts
            .rank
            .clone()
            .filter(|rk| {
                benchmarks::ranks()
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(rk))
            })
            .unwrap_or_else(|| DEFAULT_RANK.to_string())
            .to_ascii_uppercase();
        let playlist = benchmarks::playlist_for(m.playlist.as_str());
        let own = m.score[usize::from(p.team.min(1))];
        let other = m.score[usize::from(1 - p.team.min(1))];
        let result = match own.cmp(&other) {
            std::cmp::Ordering::Greater => "Win",
            std::cmp::Ordering::Less => "Loss",
            std::cmp::Ordering::Equal => "Draw",
        };
        let subtitle = format!(
            "{result} {own}–{other}  ·  {}  ·  {}",
            m.map
                .as_deref()
                .map_or_else(|| "Unknown map".to_string(), names::map_name),
            m.playlist.display_name()
        );
        let c = &p.core;
        let mut headline = vec![
            ("Score".to_string(), c.score.to_string()),
            ("Goals".to_string(), c.goals.to_string()),
            ("Assists".to_string(), c.assists.to_string()),
            ("Saves".to_string(), c.saves.to_string()),
            ("Shots".to_string(), c.shots.to_string()),
            ("Demos".to_string(), c.demos_inflicted.to_string()),
        ];
        if c.mvp {
            headline.push(("MVP".to_string(), "★".to_string()));
        }
        let mut rows = Vec::new();
        for key in PLAYER_CARD_METRICS {
            let (Some(metric), Some(b)) = (
                benchmarks::Metric::by_key(key),
                benchmarks::lookup(key, playlist, &rank),
            ) else {
                continue;
            };
            let Some(value) = metric.value(p) else {
                continue;
            };
            rows.push(MetricRow {
                key: (*key).to_string(),
                label: metric.label.to_string(),
                value,
                value_label: format_value(value, metric.unit),
                median: b.median,
                p25: b.p25,
                p75: b.p75,
                better: benchmarks::is_better(b, value),
                direction: b.better,
            });
        }
        let mut notes = Vec::new();
        if rows.len() < PLAYER_CARD_METRICS.len() {
            notes.push(if r.quality.network_parsed {
                "Some stats are not available for this game mode".to_string()
            } else {
                "Only the scoreboard could be read from this replay".to_string()
            });
        }
        if !m.playlist.as_str().eq_ignore_ascii_case(playlist) {
            notes.push(format!("Compared with {playlist} benchmarks"));
        }
        Some(PlayerCardSpec {
            name: p.name.clone(),
            team: p.team,
            subtitle,
            headline,
            rank,
            benchmark_playlist: playlist.to_string(),
            rows,
            notes,
        })
    }
}

pub fn format_value(v: f64, unit: &str) -> String {
    let num = if v.abs() >= 100.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    };
    format!("{num}{unit}")
}

/// `150000` → `150,000` (token counts in the bot and on the site).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Boost amount over time per player, goals marked.
#[derive(Debug, Clone, Serialize)]
pub struct BoostChartSpec {
    pub t: Vec<f32>,
    pub lines: Vec<SeriesLine>,
    pub goals: Vec<GoalMark>,
    pub duration: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeriesLine {
    pub name: String,
    pub team: u8,
    /// Index among the team's players (picks the shade).
    pub nth: usize,
    /// −1 where the car is absent (the line breaks there).
    pub values: Vec<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GoalMark {
    pub t: f32,
    pub team: u8,
}

impl BoostChartSpec {
    /// None for header-only reports (no time series).
    pub fn from_report(r: &Report) -> Option<Self> {
        if r.series.t.is_empty() || r.series.boost.len() != r.players.len() {
            return None;
        }
        let nth = nth_in_team(r);
        Some(BoostChartSpec {
            t: r.series.t.clone(),
            lines: r
                .players
                .iter()
                .zip(&r.series.boost)
                .enumerate()
                .map(|(i, (p, v))| SeriesLine {
                    name: p.name.clone(),
                    team: p.team,
                    nth: nth[i],
                    values: v.clone(),
                })
                .collect(),
            goals: goal_marks(r),
            duration: r.series.t.last().copied().unwrap_or(0.0).max(1.0),
        })
    }
}

fn goal_marks(r: &Report) -> Vec<GoalMark> {
    r.timeline
        .iter()
        .filter(|e| e.kind == EventKind::Goal)
        .map(|e| GoalMark {
            t: e.t as f32,
            team: e.team.unwrap_or(0),
        })
        .collect()
}

fn nth_in_team(r: &Report) -> Vec<usize> {
    let mut count = [0usize; 2];
    r.players
        .iter()
        .map(|p| {
            let t = usize::from(p.team.min(1));
            count[t] += 1;
            count[t] - 1
        })
        .collect()
}

/// Speed bands and air time per player, as shares of their counted time (stacked bars).
#[derive(Debug, Clone, Serialize)]
pub struct MovementChartSpec {
    pub players: Vec<MovementBars>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MovementBars {
    pub name: String,
    pub team: u8,
    /// slow, boost speed, supersonic (percent, sums to ~100)
    pub speed: [f64; 3],
    /// ground, low air, high air (percent)
    pub height: [f64; 3],
}

impl MovementChartSpec {
    pub fn from_report(r: &Report) -> Option<Self> {
        let players: Vec<MovementBars> = sorted_by_team(r)
            .into_iter()
            .filter_map(|i| {
                let p = &r.players[i];
                let m = p.movement.as_ref()?;
                Some(MovementBars {
                    name: p.name.clone(),
                    team: p.team,
                    speed: [
                        m.percent_slow_speed,
                        m.percent_boost_speed,
                        m.percent_supersonic_speed,
                    ],
                    height: [m.percent_ground, m.percent_low_air, m.percent_high_air],
                })
            })
            .collect();
        (!players.is_empty()).then_some(MovementChartSpec { players })
    }
}

fn sorted_by_team(r: &Report) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..r.players.len()).collect();
    idx.sort_by_key(|&i| r.players[i].team);
    idx
}

/// Positioning heatmaps on a top-down pitch, one per player.
#[derive(Debug, Clone, Serialize)]
pub struct HeatmapChartSpec {
    pub players: Vec<PlayerHeat>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlayerHeat {
    pub name: String,
    pub team: u8,
    pub cols: u32,
    pub rows: u32,
    /// Row-major from the blue goal (y = −5120) up; shares of time, sum 1.
    #[serde(skip)]
    pub cells: Vec<f32>,
    /// Share of time in the busiest cell (drives the colour scale; snapshot-friendly).
    pub peak: f32,
}

impl HeatmapChartSpec {
    pub fn from_report(r: &Report, only: Option<usize>) -> Option<Self> {
        let players: Vec<PlayerHeat> = sorted_by_team(r)
            .into_iter()
            .filter(|i| only.is_none_or(|o| o == *i))
            .filter_map(|i| {
                let p = &r.players[i];
                let h = p.heatmap.as_ref()?;
                if h.cells.len() != (h.cols * h.rows) as usize {
                    return None;
                }
                Some(PlayerHeat {
                    name: p.name.clone(),
                    team: p.team,
                    cols: h.cols,
                    rows: h.rows,
                    peak: h.cells.iter().copied().fold(0.0, f32::max),
                    cells: h.cells.clone(),
                })
            })
            .collect();
        (!players.is_empty()).then_some(HeatmapChartSpec { players })
    }
}

/// Goals, shots, saves and demos along the match clock, with the running score.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineChartSpec {
    pub duration: f32,
    pub overtime_start: Option<f32>,
    pub events: Vec<TimelineMark>,
    pub final_score: [u32; 2],
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineMark {
    pub t: f32,
    /// GOAL, SHOT, SAVE, DEMO
    pub kind: EventKind,
    pub team: u8,
    pub player: String,
}

impl TimelineChartSpec {
    pub fn from_report(r: &Report) -> Option<Self> {
        if !r.quality.network_parsed {
            return None;
        }
        let duration = r.metadata.duration_seconds as f32;
        let events = r
            .timeline
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::Goal | EventKind::Shot | EventKind::Save | EventKind::Demo
                )
            })
            .filter_map(|e| {
                Some(TimelineMark {
                    t: e.t as f32,
                    kind: e.kind,
                    team: e.team?,
                    player: e
                        .player
                        .and_then(|i| r.players.get(i))
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                })
            })
            .collect();
        let m = &r.metadata;
        Some(TimelineChartSpec {
            duration: duration.max(1.0),
            overtime_start: (m.overtime && m.overtime_seconds > 0.0)
                .then(|| (m.duration_seconds - m.overtime_seconds).max(0.0) as f32),
            events,
            final_score: m.score,
        })
    }
}

/// One stat over a player's last games, with the rank band behind it.
#[derive(Debug, Clone, Serialize)]
pub struct TrendChartSpec {
    pub title: String,
    pub unit: String,
    /// (label under the point, value), oldest first.
    pub points: Vec<(String, f64)>,
    pub band: Option<TrendBand>,
    pub direction: Better,
    /// The moving average drawn over the points (one value per point; empty: none), and its
    /// window in points. See [`TrendChartSpec::with_moving_average`].
    pub average: Vec<f64>,
    pub average_window: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendBand {
    pub rank: String,
    /// The benchmark playlist when it is not the games' own (the table has no numbers for it).
    pub borrowed_from: Option<String>,
    pub p25: f64,
    pub median: f64,
    pub p75: f64,
}

impl TrendChartSpec {
    /// `metric` is a benchmark key (see [`benchmarks::METRICS`]); unknown keys chart without a
    /// band. `points` are oldest first, all games of `playlist` (as stored, e.g. `DUEL`); the
    /// band is that playlist's benchmark, or doubles' when the table has none (and the band
    /// says so).
    pub fn new(
        player: &str,
        metric: &str,
        points: Vec<(String, f64)>,
        rank: Option<&str>,
        playlist: &str,
    ) -> Self {
        let m = benchmarks::Metric::by_key(metric);
        let rank = rank.unwrap_or(DEFAULT_RANK).to_ascii_uppercase();
        let bench = benchmarks::playlist_for(playlist);
        let b = benchmarks::lookup(metric, bench, &rank);
        TrendChartSpec {
            title: format!(
                "{} — {} over the last {} games",
                player,
                m.map_or(metric, |m| m.label),
                points.len()
            ),
            unit: m.map_or("", |m| m.unit).trim().to_string(),
            points: points.into_iter().filter(|(_, v)| v.is_finite()).collect(),
            band: b.map(|b| TrendBand {
                rank: rank.clone(),
                borrowed_from: (!bench.eq_ignore_ascii_case(playlist)).then(|| bench.to_string()),
                p25: b.p25,
                median: b.median,
                p75: b.p75,
            }),
            direction: b.map_or(Better::Neutral, |b| b.better),
            average: Vec::new(),
            average_window: 0,
        }
    }

    /// Also draws the moving average of each point and the `window - 1` before it (a window
    /// below 2, or a single point, draws none).
    pub fn with_moving_average(mut self, window: usize) -> Self {
        let values: Vec<f64> = self.points.iter().map(|p| p.1).collect();
        if window >= 2 && values.len() >= 2 {
            self.average = moving_average(&values, window);
            self.average_window = window;
        }
        self
    }
}

/// The average of each value and the `window - 1` before it (fewer at the start).
pub fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let window = window.max(1);
    (0..values.len())
        .map(|i| {
            let from = (i + 1).saturating_sub(window);
            let part = &values[from..=i];
            part.iter().sum::<f64>() / part.len() as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_by_three() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (150_000, "150,000"),
            (1_234_567, "1,234,567"),
        ];
        for (n, text) in cases {
            assert_eq!(super::thousands(n), text);
        }
    }
}
