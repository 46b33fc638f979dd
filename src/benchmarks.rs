//! Rank benchmarks: per-rank medians and p25–p75 bands for the stats players compare themselves
//! against (cards, `/compare`, the coach). The table is `assets/rank_benchmarks.csv`, compiled in.

use std::sync::OnceLock;

use crate::report::PlayerReport;

const CSV: &str = include_str!("../assets/rank_benchmarks.csv");

/// Which direction of a metric is better for the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Up,
    Down,
    Neutral,
}

/// One benchmark row: a metric's distribution at one rank in one playlist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Benchmark {
    pub metric: String,
    pub playlist: String,
    pub rank: String,
    pub median: f64,
    pub p25: f64,
    pub p75: f64,
    /// The top of the rank's distribution, where the table gives one.
    pub elite: Option<f64>,
    pub better: Better,
}

/// A benchmarked metric and how to read it from one game's player report.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    read: fn(&PlayerReport) -> Option<f64>,
}

impl Metric {
    /// The metric's value for one game (per-game metrics are the game's count).
    pub fn value(&self, p: &PlayerReport) -> Option<f64> {
        (self.read)(p).filter(|v| v.is_finite())
    }

    pub fn by_key(key: &str) -> Option<&'static Metric> {
        METRICS.iter().find(|m| m.key == key)
    }
}

/// Every metric in the benchmark table, in the order cards show them.
pub static METRICS: &[Metric] = &[
    Metric {
        key: "bcpm",
        label: "Boost collected / min",
        unit: "",
        read: |p| p.boost.as_ref().map(|b| b.bcpm),
    },
    Metric {
        key: "avg_boost_amount",
        label: "Avg boost",
        unit: "",
        read: |p| p.boost.as_ref().map(|b| b.avg_amount),
    },
    Metric {
        key: "pct_zero_boost",
        label: "Time at 0 boost",
        unit: "%",
        read: |p| p.boost.as_ref().map(|b| b.percent_zero_boost),
    },
    Metric {
        key: "pct_full_boost",
        label: "Time at 100 boost",
        unit: "%",
        read: |p| p.boost.as_ref().map(|b| b.percent_full_boost),
    },
    Metric {
        key: "big_pads_per_game",
        label: "Big pads",
        unit: "",
        read: |p| p.boost.as_ref().map(|b| f64::from(b.count_collected_big)),
    },
    Metric {
        key: "small_pads_per_game",
        label: "Small pads",
        unit: "",
        read: |p| p.boost.as_ref().map(|b| f64::from(b.count_collected_small)),
    },
    Metric {
        key: "boost_stolen",
        label: "Boost stolen",
        unit: "",
        read: |p| p.boost.as_ref().map(|b| b.amount_stolen),
    },
    Metric {
        key: "avg_speed_uu_s",
        label: "Avg speed",
        unit: " uu/s",
        read: |p| p.movement.as_ref().map(|m| m.avg_speed),
    },
    Metric {
        key: "pct_supersonic",
        label: "Supersonic",
        unit: "%",
        read: |p| p.movement.as_ref().map(|m| m.percent_supersonic_speed),
    },
    Metric {
        key: "pct_slow_speed",
        label: "Slow speed",
        unit: "%",
        read: |p| p.movement.as_ref().map(|m| m.percent_slow_speed),
    },
    Metric {
        key: "pct_on_ground",
        label: "On ground",
        unit: "%",
        read: |p| p.movement.as_ref().map(|m| m.percent_ground),
    },
    Metric {
        key: "pct_low_air",
        label: "Low air",
        unit: "%",
        read: |p| p.movement.as_ref().map(|m| m.percent_low_air),
    },
    Metric {
        key: "pct_high_air",
        label: "High air",
        unit: "%",
        read: |p| p.movement.as_ref().map(|m| m.percent_high_air),
    },
    Metric {
        key: "pct_offensive_third",
        label: "Offensive third",
        unit: "%",
        read: |p| p.positioning.as_ref().map(|x| x.percent_offensive_third),
    },
    Metric {
        key: "pct_defensive_third",
        label: "Defensive third",
        unit: "%",
        read: |p| p.positioning.as_ref().map(|x| x.percent_defensive_third),
    },
    Metric {
        key: "pct_behind_ball",
        label: "Behind ball",
        unit: "%",
        read: |p| p.positioning.as_ref().map(|x| x.percent_behind_ball),
    },
    Metric {
        key: "avg_distance_to_ball",
        label: "Dist. to ball",
        unit: " uu",
        read: |p| p.positioning.as_ref().map(|x| x.avg_distance_to_ball),
    },
    Metric {
        key: "avg_distance_to_teammates",
        label: "Dist. to mates",
        unit: " uu",
        read: |p| p.positioning.as_ref().and_then(|x| x.avg_distance_to_mates),
    },
    Metric {
        key: "goals_per_game",
        label: "Goals",
        unit: "",
        read: |p| Some(f64::from(p.core.goals)),
    },
    Metric {
        key: "assists_per_game",
        label: "Assists",
        unit: "",
        read: |p| Some(f64::from(p.core.assists)),
    },
    Metric {
        key: "saves_per_game",
        label: "Saves",
        unit: "",
        read: |p| Some(f64::from(p.core.saves)),
    },
    Metric {
        key: "shots_per_game",
        label: "Shots",
        unit: "",
        read: |p| Some(f64::from(p.core.shots)),
    },
    Metric {
        key: "shooting_pct",
        label: "Shooting",
        unit: "%",
        read: |p| Some(p.core.shooting_percentage),
    },
    Metric {
        key: "demos_inflicted_per_game",
        label: "Demos",
        unit: "",
        read: |p| Some(f64::from(p.core.demos_inflicted)),
    },
];

/// The compiled-in benchmark table.
pub fn table() -> &'static [Benchmark] {
    static TABLE: OnceLock<Vec<Benchmark>> = OnceLock::new();
    TABLE
        .get_or_init(|| parse(CSV).expect("assets/rank_benchmarks.csv is valid (checked by tests)"))
}

/// Ranks present in the table, lowest first (table order).
pub fn ranks() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for b in table() {
        if !out.contains(&b.rank.as_str()) {
            out.push(&b.rank);
        }
    }
    out
}

/// The benchmark playlist used for a report playlist. The table only covers doubles today, so
/// every playlist falls back to it; callers show which playlist the band came from.
pub fn playlist_for(report_playlist: &str) -> &'static str {
    let wanted = match report_playlist.to_ascii_uppercase().as_str() {
        "DUEL" => "duel",
        "STANDARD" => "standard",
        _ => "doubles",
    };
    if table().iter().any(|b| b.playlist == wanted) {
        wanted
    } else {
        "doubles"
    }
}

/// Look up one metric at one rank (rank matched case-insensitively).
pub fn lookup(metric: &str, playlist: &str, rank: &str) -> Option<&'static Benchmark> {
    table()
        .iter()
        .find(|b| b.metric == metric && b.playlist == playlist && b.rank.eq_ignore_ascii_case(rank))
}

/// Whether `value` is better than the rank's median (None when the metric is neutral or equal).
pub fn is_better(b: &Benchmark, value: f64) -> Option<bool> {
    better(b.better, value, b.median)
}

/// Whether `value` beats `reference` for a metric read in `direction` (None when neutral or equal).
pub fn better(direction: Better, value: f64, reference: f64) -> Option<bool> {
    match direction {
        Better::Neutral => None,
        _ if (value - reference).abs() < 1e-9 => None,
        Better::Up => Some(value > reference),
        Better::Down => Some(value < reference),
    }
}

/// Which way a metric is better (the table gives the same direction at every rank).
pub fn direction(metric: &str) -> Better {
    table()
        .iter()
        .find(|b| b.metric == metric)
        .map_or(Better::Neutral, |b| b.better)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BenchmarkError {
    #[error("line {line}: expected 8 columns, found {found}")]
    Columns { line: usize, found: usize },
    #[error("line {line}: {what} is not a number: {value:?}")]
    Number {
        line: usize,
        what: &'static str,
        value: String,
    },
    #[error("line {line}: `better` must be up, down or neutral, found {value:?}")]
    Better { line: usize, value: String },
}

/// Parse the benchmark CSV (header `metric,playlist,rank,median,p25,p75,elite,better`).
pub fn parse(csv: &str) -> Result<Vec<Benchmark>, BenchmarkError> {
    let mut out = Vec::new();
    for (i, line) in csv.lines().enumerate().skip(1) {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() != 8 {
            return Err(BenchmarkError::Columns {
                line: line_no,
                found: cols.len(),
            });
        }
        let num = |idx: usize, what: &'static str| {
            cols[idx]
                .parse::<f64>()
                .map_err(|_| BenchmarkError::Number {
                    line: line_no,
                    what,
                    value: cols[idx].to_string(),
                })
        };
        let better = match cols[7] {
            "up" => Better::Up,
            "down" => Better::Down,
            "neutral" => Better::Neutral,
            other => {
                return Err(BenchmarkError::Better {
                    line: line_no,
                    value: other.into(),
                });
            }
        };
        out.push(Benchmark {
            metric: cols[0].to_string(),
            playlist: cols[1].to_string(),
            rank: cols[2].to_string(),
            median: num(3, "median")?,
            p25: num(4, "p25")?,
            p75: num(5, "p75")?,
            elite: if cols[6].is_empty() {
                None
            } else {
                Some(num(6, "elite")?)
            },
            better,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_table_covers_every_metric_at_every_rank() {
        let t = table();
        assert_eq!(t.len(), 144);
        assert_eq!(ranks(), ["C2", "C3", "GC1", "GC2", "GC3", "SSL"]);
        for m in METRICS {
            for r in ranks() {
                let b = lookup(m.key, "doubles", r)
                    .unwrap_or_else(|| panic!("{} at {r} missing", m.key));
                assert!(b.p25 <= b.median && b.median <= b.p75, "{b:?}");
            }
        }
        // every metric in the table has a reader
        for b in t {
            assert!(
                Metric::by_key(&b.metric).is_some(),
                "no reader for {}",
                b.metric
            );
        }
    }

    #[test]
    fn better_direction() {
        let b = lookup("pct_zero_boost", "doubles", "gc1").unwrap();
        assert_eq!(b.median, 12.0);
        assert_eq!(is_better(b, 5.0), Some(true));
        assert_eq!(is_better(b, 20.0), Some(false));
        let b = lookup("bcpm", "doubles", "GC1").unwrap();
        assert_eq!(is_better(b, 400.0), Some(true));
        assert_eq!(is_better(b, 380.0), None);
        let b = lookup("pct_on_ground", "doubles", "GC1").unwrap();
        assert_eq!(is_better(b, 99.0), None);
    }

    #[test]
    fn bad_csv_is_rejected_with_the_line() {
        let head = "metric,playlist,rank,median,p25,p75,elite,better\n";
        assert_eq!(
            parse(&format!("{head}bcpm,doubles,C2,abc,1,2,3,up\n")),
            Err(BenchmarkError::Number {
                line: 2,
                what: "median",
                value: "abc".into()
            })
        );
        assert!(matches!(
            parse(&format!("{head}bcpm,doubles\n")),
            Err(BenchmarkError::Columns { line: 2, found: 2 })
        ));
        assert!(matches!(
            parse(&format!("{head}bcpm,doubles,C2,1,1,2,3,sideways\n")),
            Err(BenchmarkError::Better { .. })
        ));
    }

    #[test]
    fn playlists_fall_back_to_doubles() {
        assert_eq!(playlist_for("DOUBLES"), "doubles");
        assert_eq!(playlist_for("DUEL"), "doubles");
        assert_eq!(playlist_for("PRIVATE"), "doubles");
    }
}
