//! The coach's tools: what the model may ask about the player it coaches. Every tool reads
//! through the same `Viewer`-scoped queries as the bot, with the asking user as the viewer and
//! the target, so the model can only ever see that user's own games. Results are compact JSON,
//! capped at [`MAX_RESULT_CHARS`] (about 4K tokens); longer results are cut with a summary line.

use serde_json::{Value, json};

use super::model::ToolSpec;
use crate::benchmarks;
use crate::storage::queries::GameRow;
use crate::storage::{NoteCategory, NoteSource, StorageError, Store, Viewer};

/// A tool result's largest size (≈ 4K tokens at ~3 characters a token).
pub const MAX_RESULT_CHARS: usize = 12_000;

/// Metrics shown per game in game lists (the full set is in `game_details`).
const GAME_LIST_METRICS: &[&str] = &[
    "bcpm",
    "avg_boost_amount",
    "pct_zero_boost",
    "avg_speed_uu_s",
    "pct_supersonic",
    "pct_behind_ball",
    "pct_defensive_third",
    "avg_distance_to_ball",
];

/// The tools' descriptions, as sent to the model.
pub fn specs() -> Vec<ToolSpec> {
    let playlist = json!({"type": "string", "description": "Playlist: DUEL, DOUBLES, STANDARD, CHAOS, or omit for all"});
    vec![
        ToolSpec {
            name: "recent_games",
            description: "The player's most recent games, newest first: date, playlist, map, result, score, goals/assists/saves/shots and key boost, speed and positioning numbers. Use this first to see how the player has been doing.",
            input_schema: json!({"type": "object", "properties": {
                "n": {"type": "integer", "minimum": 1, "maximum": 25, "description": "How many games (default 10)"},
                "playlist": playlist}}),
        },
        ToolSpec {
            name: "stats_by_playlist",
            description: "Per playlist: games, wins and the player's average of every benchmarked stat over their last games.",
            input_schema: json!({"type": "object", "properties": {
                "games": {"type": "integer", "minimum": 1, "maximum": 500, "description": "How many recent games to average (default 50)"}}}),
        },
        ToolSpec {
            name: "sessions",
            description: "Play sessions (games less than 30 minutes apart), newest first, with wins/losses, goals, saves and average score; optionally within a date range.",
            input_schema: json!({"type": "object", "properties": {
                "from": {"type": "string", "description": "YYYY-MM-DD, inclusive"},
                "to": {"type": "string", "description": "YYYY-MM-DD, inclusive"},
                "max": {"type": "integer", "minimum": 1, "maximum": 20, "description": "Most sessions (default 5)"}}}),
        },
        ToolSpec {
            name: "game_details",
            description: "Everything measured in one of the player's games (scoreboard, boost, speed, positioning, possession, kickoffs, challenges, mechanics) for a replay_id taken from recent_games.",
            input_schema: json!({"type": "object", "properties": {
                "replay_id": {"type": "string"}}, "required": ["replay_id"]}),
        },
        ToolSpec {
            name: "compare_to_rank",
            description: "The player's averages over their last games of one playlist against a rank's benchmark (median, 25th and 75th percentile, and whether they are better). Ranks: C1, C2, C3, GC1, GC2, GC3, SSL and the others listed in the benchmark table.",
            input_schema: json!({"type": "object", "properties": {
                "rank": {"type": "string"},
                "playlist": playlist,
                "games": {"type": "integer", "minimum": 1, "maximum": 200, "description": "Games to average (default 20)"}},
                "required": ["rank"]}),
        },
        ToolSpec {
            name: "stat_trend",
            description: "One stat over the player's last games, oldest first, with the first and second half averages. Stats: the keys of the benchmark table (bcpm, avg_boost_amount, pct_zero_boost, pct_full_boost, boost_stolen, avg_speed_uu_s, pct_supersonic, pct_slow_speed, pct_on_ground, pct_low_air, pct_high_air, pct_offensive_third, pct_defensive_third, pct_behind_ball, avg_distance_to_ball, avg_distance_to_teammates, shooting_pct, goals_per_game, assists_per_game, saves_per_game, shots_per_game, demos_inflicted_per_game, big_pads_per_game, small_pads_per_game).",
            input_schema: json!({"type": "object", "properties": {
                "stat": {"type": "string"},
                "games": {"type": "integer", "minimum": 2, "maximum": 100, "description": "default 30"},
                "playlist": playlist},
                "required": ["stat"]}),
        },
        ToolSpec {
            name: "save_note",
            description: "Remember something about the player for future conversations (a strength, a weakness, a goal they set, an observation). Keep it short and factual, with the number behind it.",
            input_schema: json!({"type": "object", "properties": {
                "category": {"type": "string", "enum": ["strength", "weakness", "goal", "observation"]},
                "text": {"type": "string", "maxLength": 500}},
                "required": ["category", "text"]}),
        },
        ToolSpec {
            name: "list_notes",
            description: "Everything noted about the player so far (by you in earlier conversations, or by the player).",
            input_schema: json!({"type": "object", "properties": {}}),
        },
    ]
}

/// A tool's answer: content for the `tool_result` block, and whether it is an error.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutput {
    fn ok(v: Value) -> ToolOutput {
        ToolOutput {
            content: cap(v.to_string()),
            is_error: false,
        }
    }

    pub fn error(message: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: message.into(),
            is_error: true,
        }
    }
}

/// Runs one tool for the viewer. Never fails: an unknown tool, bad input or a storage error
/// becomes an error result the model can read (the storage error's user-facing text only).
pub async fn run(store: &Store, viewer: &Viewer, name: &str, input: &Value) -> ToolOutput {
    let me = Viewer::user(viewer.user);
    let result = match name {
        "recent_games" => recent_games(store, &me, input).await,
        "stats_by_playlist" => stats_by_playlist(store, &me, input).await,
        "sessions" => sessions(store, &me, input).await,
        "game_details" => game_details(store, &me, input).await,
        "compare_to_rank" => compare_to_rank(store, &me, input).await,
        "stat_trend" => stat_trend(store, &me, input).await,
        "save_note" => save_note(store, &me, input).await,
        "list_notes" => list_notes(store, &me).await,
        _ => return ToolOutput::error(format!("unknown tool {name:?}")),
    };
    match result {
        Ok(out) => out,
        Err(StorageError::NotFound) => ToolOutput::error("nothing found"),
        Err(e) => {
            tracing::warn!(tool = name, error = %e, "coach tool failed");
            ToolOutput::error(e.user_message())
        }
    }
}

type ToolResult = Result<ToolOutput, StorageError>;

fn int(input: &Value, key: &str, default: i64, min: i64, max: i64) -> i64 {
    input
        .get(key)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .unwrap_or(default)
        .clamp(min, max)
}

fn text<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn playlist(input: &Value) -> Option<String> {
    text(input, "playlist").map(str::to_ascii_uppercase)
}

fn round(v: f64) -> Value {
    json!((v * 100.0).round() / 100.0)
}

fn game_json(g: &GameRow) -> Value {
    let mut stats = serde_json::Map::new();
    for key in GAME_LIST_METRICS {
        if let Some(v) = g.metric(key) {
            stats.insert((*key).to_string(), round(v));
        }
    }
    json!({
        "replay_id": g.replay_id,
        "date": crate::storage::coach::date_string(g.played_at),
        "playlist": g.playlist,
        "map": g.map.as_deref().map(crate::names::map_name),
        "result": if g.won { "win" } else { "loss" },
        "name": g.name,
        "score": g.score, "goals": g.goals, "assists": g.assists, "saves": g.saves,
        "shots": g.shots, "demos": g.demos, "mvp": g.mvp,
        "stats": stats,
    })
}

async fn recent_games(store: &Store, me: &Viewer, input: &Value) -> ToolResult {
    let n = int(input, "n", 10, 1, 25);
    let games = store
        .recent_games(me, me.user, n, playlist(input).as_deref())
        .await?;
    if games.is_empty() {
        return Ok(ToolOutput::ok(
            json!({"games": [], "note": "No games stored for this player yet (they need to upload replays and link their in-game account)."}),
        ));
    }
    Ok(ToolOutput::ok(
        json!({"games": games.iter().map(game_json).collect::<Vec<_>>()}),
    ))
}

async fn stats_by_playlist(store: &Store, me: &Viewer, input: &Value) -> ToolResult {
    let games = int(input, "games", 50, 1, 500);
    let summaries = store.playlist_summaries(me, me.user, games).await?;
    Ok(ToolOutput::ok(
        json!({"playlists": summaries.iter().map(|s| json!({
        "playlist": s.playlist,
        "games": s.games,
        "wins": s.wins,
        "averages": s.averages.iter().map(|(k, v)| (k.clone(), round(*v))).collect::<serde_json::Map<_, _>>(),
    })).collect::<Vec<_>>()}),
    ))
}

/// `YYYY-MM-DD` → ms at that day's start (UTC).
fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(crate::storage::coach::day_start(y, m, d))
}

async fn sessions(store: &Store, me: &Viewer, input: &Value) -> ToolResult {
    let max = int(input, "max", 5, 1, 20) as usize;
    let from = match text(input, "from") {
        Some(s) => Some(parse_date(s).ok_or_else(|| {
            StorageError::Invalid(format!("`from` must be YYYY-MM-DD, not {s:?}"))
        })?),
        None => None,
    };
    let to = match text(input, "to") {
        Some(s) => Some(
            parse_date(s).ok_or_else(|| {
                StorageError::Invalid(format!("`to` must be YYYY-MM-DD, not {s:?}"))
            })? + 86_400_000,
        ),
        None => None,
    };
    let all = store.sessions(me, me.user, 200).await?;
    let picked: Vec<Value> = all
        .iter()
        .filter(|s| from.is_none_or(|f| s.ended_at >= f) && to.is_none_or(|t| s.started_at < t))
        .take(max)
        .map(|s| {
            json!({
                "date": crate::storage::coach::date_string(s.started_at),
                "minutes": (s.ended_at - s.started_at) / 60_000,
                "games": s.games, "wins": s.wins, "losses": s.losses,
                "goals": s.goals, "saves": s.saves, "avg_score": round(s.avg_score),
            })
        })
        .collect();
    Ok(ToolOutput::ok(json!({"sessions": picked})))
}

async fn game_details(store: &Store, me: &Viewer, input: &Value) -> ToolResult {
    let Some(id) = text(input, "replay_id") else {
        return Ok(ToolOutput::error("replay_id is required"));
    };
    // Only the user's own games: their uploads and games of their verified accounts, and not a
    // game they hid from their history.
    let Some(report) = store.report(me, id).await? else {
        return Ok(ToolOutput::error(
            "no game of this player has that replay_id (take one from recent_games)",
        ));
    };
    if store.is_hidden(me, id).await? {
        return Ok(ToolOutput::error(
            "the player hid that game from their history; leave it out",
        ));
    }
    let mine: Vec<crate::report::PlayerId> = store
        .identities(me)
        .await?
        .into_iter()
        .map(|l| l.player)
        .collect();
    let index = report.players.iter().position(|p| mine.contains(&p.id));
    let summary = crate::export::text(&report, index);
    let who = index.map(|i| report.players[i].name.clone());
    Ok(ToolOutput {
        content: cap(json!({"player": who, "summary": summary}).to_string()),
        is_error: false,
    })
}

async fn compare_to_rank(store: &Store, me: &Viewer, input: &Value) -> ToolResult {
    let Some(rank) = text(input, "rank") else {
        return Ok(ToolOutput::error("rank is required"));
    };
    let ranks = benchmarks::ranks();
    let Some(rank) = ranks.iter().find(|r| r.eq_ignore_ascii_case(rank)) else {
        return Ok(ToolOutput::error(format!(
            "unknown rank {rank:?}; known ranks: {}",
            ranks.join(", ")
        )));
    };
    let games = int(input, "games", 20, 1, 200);
    let cmp = store
        .compare_with_rank(me, me.user, rank, games, playlist(input).as_deref())
        .await?;
    Ok(ToolOutput::ok(json!({
        "rank": rank,
        "playlist": cmp.playlist,
        "benchmark_playlist": cmp.benchmark_playlist,
        "note": cmp.benchmark_note(),
        "games_averaged": cmp.games,
        "stats": cmp.rows.iter().map(|r| json!({
            "stat": r.metric, "label": r.label, "player": round(r.value),
            "rank_median": round(r.reference), "p25": r.p25.map(round), "p75": r.p75.map(round),
            "better_than_median": r.better,
        })).collect::<Vec<_>>(),
    })))
}

async fn stat_trend(store: &Store, me: &Viewer, input: &Value) -> ToolResult {
    let Some(stat) = text(input, "stat") else {
        return Ok(ToolOutput::error("stat is required"));
    };
    let games = int(input, "games", 30, 2, 100);
    let points = store
        .trend(me, me.user, stat, games, playlist(input).as_deref())
        .await?;
    let half = points.len() / 2;
    let avg = |s: &[(i64, f64)]| {
        (!s.is_empty()).then(|| round(s.iter().map(|p| p.1).sum::<f64>() / s.len() as f64))
    };
    Ok(ToolOutput::ok(json!({
        "stat": stat,
        "games": points.len(),
        "first_half_avg": avg(&points[..half]),
        "second_half_avg": avg(&points[half..]),
        "values": points.iter().map(|p| round(p.1)).collect::<Vec<_>>(),
    })))
}

async fn save_note(store: &Store, me: &Viewer, input: &Value) -> ToolResult {
    let Some(category) = text(input, "category").and_then(NoteCategory::parse) else {
        return Ok(ToolOutput::error(
            "category must be one of strength, weakness, goal, observation",
        ));
    };
    let Some(body) = text(input, "text") else {
        return Ok(ToolOutput::error("text is required"));
    };
    let note = store
        .add_note(me, category, body, NoteSource::Coach)
        .await?;
    Ok(ToolOutput::ok(json!({"saved": note.id})))
}

async fn list_notes(store: &Store, me: &Viewer) -> ToolResult {
    let notes = store.notes(me).await?;
    Ok(ToolOutput::ok(json!({"notes": notes.iter().map(|n| json!({
        "id": n.id, "category": n.category, "text": n.body, "by": n.source,
        "date": crate::storage::coach::date_string(n.created_at),
    })).collect::<Vec<_>>()})))
}

/// Cuts a result to [`MAX_RESULT_CHARS`], saying so (the model then asks for less).
fn cap(s: String) -> String {
    if s.len() <= MAX_RESULT_CHARS {
        return s;
    }
    let mut end = MAX_RESULT_CHARS - 120;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} …[cut: the result was {} characters; ask for fewer games or one game at a time]",
        &s[..end],
        s.len()
    )
}
