//! Read-side queries for the bot, the web dashboard and the coach: recent games, per-playlist
//! aggregates, trends, sessions, comparisons (rank benchmarks, oneself) and guild leaderboards.
//!
//! **Scoping rule:** every query takes the [`Viewer`] asking (the rules are in [`super::scope`]).
//! A user's games are readable by that user, and by others only when the user made their profile
//! public; a replay's report only by its uploaders, its verified players and the channel it was
//! answered in publicly; a guild leaderboard only from inside that guild.

use serde::Serialize;
use sqlx::Row;

pub use super::scope::{UserId, Viewer};
use super::{Result, StorageError, Store};
use crate::Report;
use crate::benchmarks::{self, Better};

/// Whether game row `$g` counts for the user of link `i`, before copies of one match are merged:
/// not hidden by that user, and either a replay that user uploaded, or — through a verified link
/// only, for a row of the network data (`in_network`: the player's car is in the replay, not
/// only a scoreboard line) — a replay one of whose uploaders is a verified player of it, also in
/// the network data ([`vouched!`]). A header anyone can write names whoever it likes: it proves
/// nothing about who played. (Macros, so the constants below are built at
/// compile time.)
macro_rules! counts_alone {
    ($g:literal) => {
        concat!(
            "(NOT EXISTS (SELECT 1 FROM hidden_games h WHERE h.user_id = i.user_id AND h.match_key = ",
            $g,
            ".match_key)
             AND (EXISTS (SELECT 1 FROM uploads up WHERE up.replay_id = ",
            $g,
            ".replay_id AND up.user_id = i.user_id)
                  OR (i.verified = 1 AND ",
            $g,
            ".in_network = 1 AND EXISTS (",
            vouched!($g),
            "))))"
        )
    };
}

/// Rows when replay `$g.replay_id` was uploaded by someone verified as one of its players, whose
/// car is in the replay's network data (movement measured), and whom the user of link `i` has
/// played with: that player's car is in a replay the user uploaded themselves. Everything in a
/// file can be rewritten (header and network ids alike), so a file proves nothing about who
/// played; what the user uploaded is their own evidence of whom they play with, and only those
/// players' uploads can add games to their history.
macro_rules! vouched {
    ($g:literal) => {
        concat!(
            "SELECT 1 FROM uploads vu
               JOIN user_identities vi ON vi.user_id = vu.user_id AND vi.verified = 1
               JOIN game_stats vg ON vg.replay_id = vu.replay_id
                 AND vg.platform = vi.platform AND vg.platform_id = vi.platform_id
                 AND vg.in_network = 1
             WHERE vu.replay_id = ",
            $g,
            ".replay_id
               AND EXISTS (SELECT 1 FROM game_stats pg JOIN uploads pu ON pu.replay_id = pg.replay_id
                           WHERE pg.platform = vi.platform AND pg.platform_id = vi.platform_id
                             AND pg.in_network = 1 AND pu.user_id = i.user_id)"
        )
    };
}

/// 1 when the user of link `i` uploaded replay `$g.replay_id`, else 0.
macro_rules! own_upload {
    ($g:literal) => {
        concat!(
            "(CASE WHEN EXISTS (SELECT 1 FROM uploads o WHERE o.replay_id = ",
            $g,
            ".replay_id AND o.user_id = i.user_id) THEN 1 ELSE 0 END)"
        )
    };
}

/// Whether game row `g` counts for the user of link `i`: [`counts_alone!`], and (for a match with
/// copies, `has_twin`) no other copy of the same match (same `match_key`, same player) that
/// counts for them comes first — their own upload first, then the match's first stored copy
/// (whose id is the key: a later copy cannot win by a replay id ground low), then the lowest
/// replay id — so a match counts once however many copies of it were uploaded. The one
/// statement of the rule.
macro_rules! counts_for_link {
    () => {
        concat!(
            "(",
            counts_alone!("g"),
            " AND (g.has_twin = 0 OR NOT EXISTS (SELECT 1 FROM game_stats g2
                WHERE g2.match_key = g.match_key AND g2.platform = g.platform
                  AND g2.platform_id = g.platform_id AND g2.replay_id <> g.replay_id
                  AND ",
            counts_alone!("g2"),
            " AND (",
            own_upload!("g2"),
            " > ",
            own_upload!("g"),
            " OR (",
            own_upload!("g2"),
            " = ",
            own_upload!("g"),
            " AND (g2.replay_id = g.match_key
                      OR (g.replay_id <> g.match_key AND g2.replay_id < g.replay_id)))))))"
        )
    };
}

/// `FROM … WHERE …` selecting the rows of `game_stats g` that count for the user bound as `$1`
/// (`i` is the link).
pub(super) const USER_GAMES: &str = concat!(
    "FROM game_stats g
     JOIN user_identities i ON i.platform = g.platform AND i.platform_id = g.platform_id
     WHERE i.user_id = $1 AND ",
    counts_for_link!()
);

/// The rule for any user `i.user_id` (leaderboards, names).
pub(super) const COUNTS_FOR_LINK: &str = counts_for_link!();

/// The most linked identities read as one index walk each (see `user_game_rows`).
const MAX_BRANCHES: usize = 32;

/// Sessions: games of one player less than this far apart.
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GameRow {
    pub replay_id: String,
    pub name: String,
    pub team: i64,
    pub won: bool,
    pub playlist: String,
    pub map: Option<String>,
    pub played_at: i64,
    pub score: i64,
    pub goals: i64,
    pub assists: i64,
    pub saves: i64,
    pub shots: i64,
    pub demos: i64,
    pub mvp: bool,
    /// Benchmark metric values, keyed like [`benchmarks::METRICS`] (None when not measured).
    pub metrics: Vec<(String, Option<f64>)>,
}

impl GameRow {
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| *v)
    }
}

/// Metric keys and the `game_stats` columns holding them (a fixed whitelist: keys never reach
/// SQL).
const METRIC_COLUMNS: [(&str, &str); 24] = [
    ("goals_per_game", "goals"),
    ("assists_per_game", "assists"),
    ("saves_per_game", "saves"),
    ("shots_per_game", "shots"),
    ("demos_inflicted_per_game", "demos"),
    ("big_pads_per_game", "big_pads"),
    ("small_pads_per_game", "small_pads"),
    ("bcpm", "bcpm"),
    ("avg_boost_amount", "avg_boost_amount"),
    ("pct_zero_boost", "pct_zero_boost"),
    ("pct_full_boost", "pct_full_boost"),
    ("boost_stolen", "boost_stolen"),
    ("avg_speed_uu_s", "avg_speed_uu_s"),
    ("pct_supersonic", "pct_supersonic"),
    ("pct_slow_speed", "pct_slow_speed"),
    ("pct_on_ground", "pct_on_ground"),
    ("pct_low_air", "pct_low_air"),
    ("pct_high_air", "pct_high_air"),
    ("pct_offensive_third", "pct_offensive_third"),
    ("pct_defensive_third", "pct_defensive_third"),
    ("pct_behind_ball", "pct_behind_ball"),
    ("avg_distance_to_ball", "avg_distance_to_ball"),
    ("avg_distance_to_teammates", "avg_distance_to_teammates"),
    ("shooting_pct", "shooting_pct"),
];

/// The `game_stats` column holding a benchmark metric.
pub fn metric_column(key: &str) -> Option<&'static str> {
    METRIC_COLUMNS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, c)| *c)
}

/// [`metric_column`], or the error an unknown stat key gets.
fn stat_column(metric: &str) -> Result<&'static str> {
    metric_column(metric).ok_or_else(|| StorageError::Invalid(format!("unknown stat {metric:?}")))
}

/// One of the columns [`metric_column`] names.
fn is_stat_column(col: &str) -> bool {
    METRIC_COLUMNS.iter().any(|(_, c)| *c == col)
}

/// The mechanics counted per player and game: (`game_stats` column, label).
pub const MECHANICS: [(&str, &str); 9] = [
    ("flips", "Flips"),
    ("wavedashes", "Wavedashes"),
    ("half_flips", "Half-flips"),
    ("speedflips", "Speedflips"),
    ("aerials", "Aerials"),
    ("flip_resets", "Flip resets"),
    ("ceiling_touches", "Ceiling touches"),
    ("dribbles", "Dribbles"),
    ("flicks", "Flicks"),
];

/// A user's games that pass a filter, summed up in SQL (no rows are read out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GamesSummary {
    pub games: i64,
    pub wins: i64,
    /// Benchmark metric averages over the games that measured them, keyed like
    /// [`benchmarks::METRICS`] (absent when none did).
    pub averages: Vec<(String, f64)>,
    /// Games whose mechanics were counted.
    pub mechanics_games: i64,
    /// (label, total over those games) per mechanic, in [`MECHANICS`]' order.
    pub mechanics: Vec<(&'static str, i64)>,
}

impl GamesSummary {
    pub fn average(&self, key: &str) -> Option<f64> {
        self.averages
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// Percent of games won; None without games.
    pub fn win_rate(&self) -> Option<f64> {
        (self.games > 0).then(|| 100.0 * self.wins as f64 / self.games as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaylistSummary {
    pub playlist: String,
    pub games: usize,
    pub wins: usize,
    pub averages: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub started_at: i64,
    pub ended_at: i64,
    pub games: usize,
    pub wins: usize,
    pub losses: usize,
    pub goals: i64,
    pub saves: i64,
    pub avg_score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub metric: String,
    pub label: String,
    pub value: f64,
    /// Rank median, or the earlier window's average for self-comparisons.
    pub reference: f64,
    pub p25: Option<f64>,
    pub p75: Option<f64>,
    pub better: Option<bool>,
}

/// Games of one playlist compared with a reference (a rank's benchmark, one's own earlier
/// games, another player's games in the same playlist).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaylistComparison {
    /// The playlist of every game averaged (as stored, e.g. `DOUBLES`).
    pub playlist: String,
    /// Rank comparisons: the benchmark table's playlist used. It is `doubles` when the table
    /// has no numbers for `playlist` yet — say so wherever it is shown.
    pub benchmark_playlist: Option<&'static str>,
    /// Games averaged on the asker's side.
    pub games: usize,
    pub rows: Vec<Comparison>,
}

impl PlaylistComparison {
    /// "Compared with doubles numbers" when the benchmark is another playlist's.
    pub fn benchmark_note(&self) -> Option<String> {
        let bench = self.benchmark_playlist?;
        (benchmarks::playlist_for(&self.playlist) != self.playlist.to_ascii_lowercase()).then(
            || {
                format!(
                    "No {} benchmarks exist yet: these are {bench} numbers.",
                    crate::names::playlist_name(&self.playlist)
                )
            },
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaderboardRow {
    pub user_id: UserId,
    pub games: i64,
    pub value: f64,
}

/// Which of a user's games a list shows (every field optional; dates are unix ms, `to`
/// exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GameFilter {
    /// As stored, e.g. `DOUBLES`.
    pub playlist: Option<String>,
    /// Some(true): wins only; Some(false): losses only.
    pub won: Option<bool>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only games where this stat column has a value (games analyzed from the header alone
    /// have none). Set from [`metric_column`], never from a request.
    pub with_value: Option<&'static str>,
}

impl GameFilter {
    /// `AND …` for the fields that are set, with parameters numbered from `$2` (after the user
    /// at `$1`), and the number of the next free parameter. Only set fields appear: a
    /// `($2 IS NULL OR g.playlist = $2)` for an unset one still made SQLite read every game's
    /// row, where counting a user's games otherwise reads an index alone.
    fn clause(&self) -> (String, usize) {
        let mut sql = String::new();
        let mut next = 2;
        for (set, term) in [
            (self.playlist.is_some(), "g.playlist ="),
            (self.won.is_some(), "g.won ="),
            (self.from.is_some(), "g.played_at >="),
            (self.to.is_some(), "g.played_at <"),
        ] {
            if set {
                sql.push_str(&format!(" AND {term} ${next}"));
                next += 1;
            }
        }
        // Only a stat column reaches the SQL, whoever set the field.
        if let Some(col) = self.with_value.filter(|c| is_stat_column(c)) {
            sql.push_str(&format!(" AND g.{col} IS NOT NULL"));
        }
        (sql, next)
    }

    /// This filter, keeping only games that have a value for `metric`: "the last N games" of a
    /// trend are N points, not N games less those without the stat.
    fn with_value_of(&self, metric: &str) -> Result<GameFilter> {
        let col = stat_column(metric)?;
        Ok(GameFilter {
            with_value: Some(col),
            ..self.clone()
        })
    }

    /// Binds the values of [`GameFilter::clause`] (after the user).
    fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        if let Some(p) = &self.playlist {
            q = q.bind(p.as_str());
        }
        if let Some(won) = self.won {
            q = q.bind(i64::from(won));
        }
        for at in [self.from, self.to].into_iter().flatten() {
            q = q.bind(at);
        }
        q
    }
}

/// The orders a game list can take (a fixed set: nothing from a request reaches SQL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GameSort {
    #[default]
    Newest,
    Oldest,
    BestScore,
    MostGoals,
}

impl GameSort {
    pub const ALL: [GameSort; 4] = [
        GameSort::Newest,
        GameSort::Oldest,
        GameSort::BestScore,
        GameSort::MostGoals,
    ];

    pub fn key(self) -> &'static str {
        match self {
            GameSort::Newest => "newest",
            GameSort::Oldest => "oldest",
            GameSort::BestScore => "score",
            GameSort::MostGoals => "goals",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GameSort::Newest => "Newest first",
            GameSort::Oldest => "Oldest first",
            GameSort::BestScore => "Best score",
            GameSort::MostGoals => "Most goals",
        }
    }

    pub fn from_key(key: &str) -> Option<GameSort> {
        GameSort::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Every column goes the same way, as in the `game_stats_by_player*` indexes (which end in
    /// `replay_id`): one identity's games are then read in index order, with no sort, and the
    /// rows before a deep page are skipped without being read out.
    fn order_by(self) -> &'static str {
        match self {
            GameSort::Newest => "g.played_at DESC, g.replay_id DESC",
            GameSort::Oldest => "g.played_at ASC, g.replay_id ASC",
            GameSort::BestScore => "g.score DESC, g.played_at DESC, g.replay_id DESC",
            GameSort::MostGoals => "g.goals DESC, g.played_at DESC, g.replay_id DESC",
        }
    }

    /// The same order over the merged rows of several links (columns named without `g.`).
    fn merged_order_by(self) -> &'static str {
        match self {
            GameSort::Newest => "played_at DESC, replay_id DESC",
            GameSort::Oldest => "played_at ASC, replay_id ASC",
            GameSort::BestScore => "score DESC, played_at DESC, replay_id DESC",
            GameSort::MostGoals => "goals DESC, played_at DESC, replay_id DESC",
        }
    }
}

/// A session and its games, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionGames {
    pub session: Session,
    pub games: Vec<GameRow>,
}

/// What one point of a trend stands for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrendBucket {
    #[default]
    Game,
    Session,
    /// Monday to Sunday, UTC.
    Week,
}

impl TrendBucket {
    pub const ALL: [TrendBucket; 3] = [TrendBucket::Game, TrendBucket::Session, TrendBucket::Week];

    pub fn key(self) -> &'static str {
        match self {
            TrendBucket::Game => "game",
            TrendBucket::Session => "session",
            TrendBucket::Week => "week",
        }
    }

    pub fn from_key(key: &str) -> Option<TrendBucket> {
        TrendBucket::ALL.into_iter().find(|b| b.key() == key)
    }
}

/// One point of a trend: the average of a metric over the games of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrendPoint {
    /// The bucket's first game (for weeks: the Monday 00:00 UTC it starts), unix ms.
    pub at: i64,
    pub value: f64,
    pub games: usize,
}

/// Monday 00:00 UTC of the week containing `ms` (1970-01-01 was a Thursday).
pub fn week_start(ms: i64) -> i64 {
    let day = ms.div_euclid(DAY_MS);
    (day - (day + 3).rem_euclid(7)) * DAY_MS
}

/// One day in ms.
pub const DAY_MS: i64 = 86_400_000;

/// Games (newest first) split into sessions where two games are more than
/// [`SESSION_GAP_MS`] apart.
pub fn group_sessions(rows: Vec<GameRow>) -> Vec<Vec<GameRow>> {
    let mut out: Vec<Vec<GameRow>> = Vec::new();
    for g in rows {
        match out.last_mut() {
            Some(s)
                if s.last()
                    .is_some_and(|l| l.played_at - g.played_at <= SESSION_GAP_MS) =>
            {
                s.push(g)
            }
            _ => out.push(vec![g]),
        }
    }
    out
}

/// One page of a game list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GamePage {
    pub rows: Vec<GameRow>,
    /// Games passing the filter, all pages together.
    pub total: i64,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
}

impl GamePage {
    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

fn game_row(r: &sqlx::any::AnyRow) -> Result<GameRow> {
    let mut metrics = Vec::with_capacity(benchmarks::METRICS.len());
    for (i, m) in benchmarks::METRICS.iter().enumerate() {
        metrics.push((m.key.to_string(), r.try_get::<Option<f64>, _>(14 + i)?));
    }
    Ok(GameRow {
        replay_id: r.try_get(0)?,
        name: r.try_get(1)?,
        team: r.try_get(2)?,
        won: r.try_get::<i64, _>(3)? == 1,
        playlist: r.try_get(4)?,
        map: r.try_get(5)?,
        played_at: r.try_get(6)?,
        score: r.try_get(7)?,
        goals: r.try_get(8)?,
        assists: r.try_get(9)?,
        saves: r.try_get(10)?,
        shots: r.try_get(11)?,
        demos: r.try_get(12)?,
        mvp: r.try_get::<i64, _>(13)? == 1,
        metrics,
    })
}

const GAME_COLUMNS: &str =
    "g.replay_id, g.name, g.team, g.won, g.playlist, g.map, g.played_at, g.score, g.goals,
    g.assists, g.saves, g.shots, g.demos, g.mvp";

/// What [`Store::user_game_rows`] reads.
#[derive(Clone, Copy)]
struct GamesQuery<'a> {
    /// Of `game_stats g`; must include `g.replay_id` and the sort's columns (several links are
    /// merged by them).
    columns: &'a str,
    filter: &'a GameFilter,
    sort: GameSort,
    limit: i64,
    offset: i64,
    /// SQL around the games' rows, which `{games}` stands for; None: the rows themselves.
    around: Option<&'a str>,
}

impl<'a> GamesQuery<'a> {
    /// The newest `limit` games.
    fn newest(columns: &'a str, filter: &'a GameFilter, limit: i64) -> GamesQuery<'a> {
        GamesQuery {
            columns,
            filter,
            sort: GameSort::Newest,
            limit,
            offset: 0,
            around: None,
        }
    }
}

/// `replay_id, played_at, v` (the metric) of a game row, for trends; the metric key is checked
/// against the whitelist.
fn metric_columns(metric: &str) -> Result<String> {
    let col = stat_column(metric)?;
    Ok(format!(
        "g.replay_id, g.played_at, CAST(g.{col} AS DOUBLE PRECISION) AS v"
    ))
}

impl Store {
    /// The user's games are theirs; others see them only when the profile is public.
    async fn check_access(&self, viewer: &Viewer, target_user: UserId) -> Result<()> {
        if viewer.user == target_user || self.is_public(target_user).await? {
            Ok(())
        } else {
            Err(StorageError::Forbidden)
        }
    }

    /// Most recent games of a user's linked identities, newest first.
    pub async fn recent_games(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        limit: i64,
        playlist: Option<&str>,
    ) -> Result<Vec<GameRow>> {
        let filter = GameFilter {
            playlist: playlist.map(str::to_string),
            ..GameFilter::default()
        };
        self.games(viewer, target_user, &filter, GameSort::Newest, limit, 0)
            .await
    }

    /// One page of a user's games that pass `filter`, in `sort` order, and how many pass in
    /// all: paginated in SQL, so a user with thousands of games costs one page.
    pub async fn games_page(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        filter: &GameFilter,
        sort: GameSort,
        page: i64,
        per_page: i64,
    ) -> Result<GamePage> {
        let per_page = per_page.clamp(1, 200);
        // Any page past the last is empty; a huge one must not overflow the offset.
        let page = page.clamp(1, 1_000_000);
        let rows = self
            .games(
                viewer,
                target_user,
                filter,
                sort,
                per_page,
                (page - 1) * per_page,
            )
            .await?;
        let sql = format!("SELECT COUNT(*) {USER_GAMES} {}", filter.clause().0);
        let total: i64 = filter
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(target_user.get()))
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(GamePage {
            rows,
            total,
            page,
            per_page,
        })
    }

    /// A user's games that pass `filter`, in `sort` order (`limit` from `offset`).
    pub async fn games(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        filter: &GameFilter,
        sort: GameSort,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<GameRow>> {
        let metric_cols: Vec<String> = benchmarks::METRICS
            .iter()
            .filter_map(|m| metric_column(m.key))
            // Aliased: PostgreSQL would name an unaliased cast after its column, and `goals`
            // would then be two columns of the merged rows (an ambiguous ORDER BY).
            .map(|c| format!("CAST(g.{c} AS DOUBLE PRECISION) AS m_{c}"))
            .collect();
        let columns = format!("{GAME_COLUMNS}, {}", metric_cols.join(", "));
        let q = GamesQuery {
            columns: &columns,
            filter,
            sort,
            limit,
            offset,
            around: None,
        };
        let rows = self.user_game_rows(viewer, target_user, q).await?;
        rows.iter().map(game_row).collect()
    }

    /// The columns `q.columns` of a user's games that pass `q.filter`, in `q.sort` order, `limit`
    /// from `offset` (or what `q.around` makes of those rows).
    ///
    /// The user's linked identities are read first, and each becomes its own branch: one
    /// identity's games are a range of `game_stats_by_player` (or of its score or goals twin)
    /// already in the list's order, so a page walks that range and stops after
    /// `offset + limit` rows instead of checking and sorting every game (a join on the
    /// identities table hides that order from the planner). Each branch still joins its link
    /// and applies [`USER_GAMES`]'s rule.
    async fn user_game_rows(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        q: GamesQuery<'_>,
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        let GamesQuery {
            columns,
            filter,
            sort,
            limit,
            offset,
            around,
        } = q;
        self.check_access(viewer, target_user).await?;
        let links = self.linked_players(target_user).await?;
        // $1 user, the filter's, then limit, offset, limit + offset (used only when several
        // links are merged; unused, it is still bound, which both databases accept), and each
        // link's platform and id.
        let (filter_sql, lim) = filter.clause();
        let (off, lim_off) = (lim + 1, lim + 2);
        let branch = |k: usize| {
            let (platform, id) = (lim + 3 + 2 * k, lim + 4 + 2 * k);
            format!(
                "SELECT {columns} {USER_GAMES} {filter_sql}
                   AND i.platform = ${platform} AND i.platform_id = ${id}
                   AND g.platform = ${platform} AND g.platform_id = ${id}
                 ORDER BY {}",
                sort.order_by()
            )
        };
        let games = match links.len() {
            0 => return Ok(Vec::new()),
            1 => format!("{} LIMIT ${lim} OFFSET ${off}", branch(0)),
            // Past this many links, one branch each would make a huge statement (SQLite allows
            // 500 terms in a compound SELECT): one join over all links, sorted once, instead.
            n if n > MAX_BRANCHES => format!(
                "SELECT {columns} {USER_GAMES} {filter_sql} ORDER BY {} LIMIT ${lim} OFFSET ${off}",
                sort.order_by()
            ),
            n => {
                let branches: Vec<String> = (0..n)
                    .map(|k| format!("SELECT * FROM ({} LIMIT ${lim_off}) AS b{k}", branch(k)))
                    .collect();
                format!(
                    "SELECT * FROM ({}) AS u ORDER BY {} LIMIT ${lim} OFFSET ${off}",
                    branches.join(" UNION ALL "),
                    sort.merged_order_by()
                )
            }
        };
        let sql = match around {
            Some(around) => around.replace("{games}", &games),
            None => games,
        };
        let (limit, offset) = (limit.clamp(1, 10_000), offset.max(0));
        let mut q = filter
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(target_user.get()))
            .bind(limit)
            .bind(offset)
            .bind(limit.saturating_add(offset));
        if links.len() <= MAX_BRANCHES {
            for (platform, id) in &links {
                q = q.bind(platform).bind(id);
            }
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// The platform ids linked to a user (claimed or verified).
    async fn linked_players(&self, user: UserId) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT platform, platform_id FROM user_identities WHERE user_id = $1
             ORDER BY platform, platform_id",
        )
        .bind(user.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// One metric of a user's games that pass `filter`, newest first (the newest `limit`):
    /// (played_at ms, value), None where it was not measured. Reads two columns, not rows.
    async fn metric_values(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        metric: &str,
        filter: &GameFilter,
        limit: i64,
    ) -> Result<Vec<(i64, f64)>> {
        let columns = metric_columns(metric)?;
        let filter = filter.with_value_of(metric)?;
        let q = GamesQuery::newest(&columns, &filter, limit);
        let rows = self.user_game_rows(viewer, target_user, q).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Games, wins, metric averages and mechanics totals of a user's games that pass `filter`,
    /// aggregated in SQL.
    pub async fn games_summary(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        filter: &GameFilter,
    ) -> Result<GamesSummary> {
        self.check_access(viewer, target_user).await?;
        let metrics: Vec<(&str, &str)> = benchmarks::METRICS
            .iter()
            .filter_map(|m| Some((m.key, metric_column(m.key)?)))
            .collect();
        let mut columns = vec![
            "COUNT(*)".to_string(),
            "CAST(COALESCE(SUM(g.won), 0) AS BIGINT)".to_string(),
            "COUNT(g.flips)".to_string(),
        ];
        columns.extend(
            MECHANICS
                .iter()
                .map(|(c, _)| format!("CAST(COALESCE(SUM(g.{c}), 0) AS BIGINT)")),
        );
        columns.extend(metrics.iter().map(|(_, c)| {
            format!("CAST(AVG(CAST(g.{c} AS DOUBLE PRECISION)) AS DOUBLE PRECISION)")
        }));
        let sql = format!(
            "SELECT {} {USER_GAMES} {}",
            columns.join(", "),
            filter.clause().0
        );
        let r = filter
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(target_user.get()))
            .fetch_one(&self.pool)
            .await?;
        let first_metric = 3 + MECHANICS.len();
        let mut averages = Vec::new();
        for (i, (key, _)) in metrics.iter().enumerate() {
            if let Some(v) = r.try_get::<Option<f64>, _>(first_metric + i)? {
                averages.push((key.to_string(), v));
            }
        }
        Ok(GamesSummary {
            games: r.try_get(0)?,
            wins: r.try_get(1)?,
            mechanics_games: r.try_get(2)?,
            mechanics: MECHANICS
                .iter()
                .enumerate()
                .map(|(i, (_, label))| Ok((*label, r.try_get(3 + i)?)))
                .collect::<Result<_>>()?,
            averages,
        })
    }

    /// Games, wins and metric averages per playlist over the last `games` games.
    pub async fn playlist_summaries(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        games: i64,
    ) -> Result<Vec<PlaylistSummary>> {
        let rows = self.recent_games(viewer, target_user, games, None).await?;
        let mut playlists: Vec<String> = rows.iter().map(|g| g.playlist.clone()).collect();
        playlists.sort();
        playlists.dedup();
        Ok(playlists
            .into_iter()
            .map(|pl| {
                let of: Vec<&GameRow> = rows.iter().filter(|g| g.playlist == pl).collect();
                PlaylistSummary {
                    games: of.len(),
                    wins: of.iter().filter(|g| g.won).count(),
                    averages: benchmarks::METRICS
                        .iter()
                        .filter_map(|m| {
                            average(of.iter().map(|g| g.metric(m.key)))
                                .map(|v| (m.key.to_string(), v))
                        })
                        .collect(),
                    playlist: pl,
                }
            })
            .collect())
    }

    /// One metric over the last `games` games (of one playlist, if given), oldest first:
    /// (played_at ms, value).
    pub async fn trend(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        metric: &str,
        games: i64,
        playlist: Option<&str>,
    ) -> Result<Vec<(i64, f64)>> {
        let filter = GameFilter {
            playlist: playlist.map(str::to_string),
            ..GameFilter::default()
        };
        let values = self
            .metric_values(viewer, target_user, metric, &filter, games)
            .await?;
        Ok(values.into_iter().rev().collect())
    }

    /// Sessions (games less than 30 minutes apart), newest first.
    pub async fn sessions(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        max_sessions: usize,
    ) -> Result<Vec<Session>> {
        Ok(self
            .sessions_with_games(viewer, target_user, max_sessions)
            .await?
            .into_iter()
            .map(|s| s.session)
            .collect())
    }

    /// Sessions with their games (newest first, both), from the user's last 500 games.
    pub async fn sessions_with_games(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        max_sessions: usize,
    ) -> Result<Vec<SessionGames>> {
        let rows = self.recent_games(viewer, target_user, 500, None).await?;
        Ok(group_sessions(rows)
            .into_iter()
            .take(max_sessions)
            .map(|games| SessionGames {
                session: session_of(&games.iter().collect::<Vec<_>>()),
                games,
            })
            .collect())
    }

    /// One metric over the user's games that pass `filter` (the newest `max_games` of them),
    /// per game, per session or per week, oldest first.
    pub async fn trend_series(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        metric: &str,
        filter: &GameFilter,
        bucket: TrendBucket,
        max_games: i64,
    ) -> Result<Vec<TrendPoint>> {
        // Sessions and weeks are averaged in SQL: a point per bucket comes back, not a row per
        // game. A session starts where the game before (newer) is more than the gap away.
        let bucket_of = match bucket {
            TrendBucket::Game => {
                let values = self
                    .metric_values(viewer, target_user, metric, filter, max_games)
                    .await?;
                return Ok(values
                    .into_iter()
                    .rev()
                    .map(|(at, value)| TrendPoint {
                        at,
                        value,
                        games: 1,
                    })
                    .collect());
            }
            TrendBucket::Week => format!(
                "SELECT played_at, v, (played_at / {DAY_MS} + 3) / 7 AS bucket FROM ({{games}}) AS n"
            ),
            TrendBucket::Session => format!(
                "SELECT played_at, v,
                        SUM(brk) OVER (ORDER BY played_at DESC, replay_id DESC ROWS UNBOUNDED PRECEDING) AS bucket
                 FROM (SELECT played_at, v, replay_id,
                              CASE WHEN LAG(played_at) OVER (ORDER BY played_at DESC, replay_id DESC)
                                        - played_at > {SESSION_GAP_MS} THEN 1 ELSE 0 END AS brk
                       FROM ({{games}}) AS n) AS f"
            ),
        };
        let around = format!(
            "SELECT MIN(played_at), CAST(AVG(v) AS DOUBLE PRECISION), COUNT(v)
             FROM ({bucket_of}) AS b GROUP BY bucket ORDER BY MIN(played_at)"
        );
        // Sessions are cut on every game (a game without the stat still joins or splits
        // sessions as on `/sessions`); a bucket's average and count take the games with it.
        let columns = metric_columns(metric)?;
        let q = GamesQuery {
            around: Some(&around),
            ..GamesQuery::newest(&columns, filter, max_games)
        };
        let rows = self.user_game_rows(viewer, target_user, q).await?;
        let mut points = Vec::with_capacity(rows.len());
        for r in &rows {
            let (at, games): (i64, i64) = (r.try_get(0)?, r.try_get(2)?);
            if let Some(value) = r.try_get::<Option<f64>, _>(1)? {
                points.push(TrendPoint {
                    at: match bucket {
                        TrendBucket::Week => week_start(at),
                        _ => at,
                    },
                    value,
                    games: usize::try_from(games).unwrap_or(0),
                });
            }
        }
        Ok(points)
    }

    /// The playlist a comparison is about: the one asked for, else the playlist of the target's
    /// newest game. Averages never mix playlists.
    async fn comparison_playlist(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        playlist: Option<&str>,
    ) -> Result<String> {
        if let Some(p) = playlist {
            return Ok(p.to_ascii_uppercase());
        }
        let newest = self.recent_games(viewer, target_user, 1, None).await?;
        newest
            .first()
            .map(|g| g.playlist.clone())
            .ok_or(StorageError::NotFound)
    }

    /// The average of the target's last `games` games of one playlist per metric against a
    /// rank's benchmark for that playlist (the benchmark table's doubles numbers when it has none
    /// for it: `benchmark_playlist` says which).
    pub async fn compare_with_rank(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        rank: &str,
        games: i64,
        playlist: Option<&str>,
    ) -> Result<PlaylistComparison> {
        let playlist = self
            .comparison_playlist(viewer, target_user, playlist)
            .await?;
        let rows = self
            .recent_games(viewer, target_user, games, Some(&playlist))
            .await?;
        let bench = benchmarks::playlist_for(&playlist);
        let comparisons = benchmarks::METRICS
            .iter()
            .filter_map(|m| {
                let b = benchmarks::lookup(m.key, bench, rank)?;
                let value = average(rows.iter().map(|g| g.metric(m.key)))?;
                Some(Comparison {
                    metric: m.key.to_string(),
                    label: m.label.to_string(),
                    value,
                    reference: b.median,
                    p25: Some(b.p25),
                    p75: Some(b.p75),
                    better: benchmarks::is_better(b, value),
                })
            })
            .collect();
        Ok(PlaylistComparison {
            games: rows.len(),
            benchmark_playlist: Some(bench),
            playlist,
            rows: comparisons,
        })
    }

    /// The last `window` games of one playlist against the `window` before them.
    pub async fn compare_with_self(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        window: usize,
        playlist: Option<&str>,
    ) -> Result<PlaylistComparison> {
        let playlist = self
            .comparison_playlist(viewer, target_user, playlist)
            .await?;
        let rows = self
            .recent_games(viewer, target_user, (2 * window) as i64, Some(&playlist))
            .await?;
        let (recent, earlier) = rows.split_at(rows.len().min(window));
        Ok(PlaylistComparison {
            games: recent.len(),
            benchmark_playlist: None,
            rows: compare_games(recent, earlier),
            playlist,
        })
    }

    /// The target's games of one playlist played in `recent` (from, to: unix ms, `to`
    /// exclusive) against those played in `earlier` (e.g. this week against last week).
    pub async fn compare_periods(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        recent: (i64, i64),
        earlier: (i64, i64),
        playlist: Option<&str>,
    ) -> Result<PlaylistComparison> {
        let playlist = self
            .comparison_playlist(viewer, target_user, playlist)
            .await?;
        let period = |(from, to): (i64, i64)| GameFilter {
            playlist: Some(playlist.clone()),
            won: None,
            from: Some(from),
            to: Some(to),
            with_value: None,
        };
        let games = |f: GameFilter| async move {
            self.games(viewer, target_user, &f, GameSort::Newest, 10_000, 0)
                .await
        };
        let mine = games(period(recent)).await?;
        let before = games(period(earlier)).await?;
        Ok(PlaylistComparison {
            games: mine.len(),
            benchmark_playlist: None,
            rows: compare_games(&mine, &before),
            playlist,
        })
    }

    /// The target's last `games` games of one playlist against another user's in the same
    /// playlist (who must be visible to the viewer: themselves, or a public profile).
    pub async fn compare_with_user(
        &self,
        viewer: &Viewer,
        target_user: UserId,
        other_user: UserId,
        games: i64,
        playlist: Option<&str>,
    ) -> Result<PlaylistComparison> {
        self.check_access(viewer, other_user).await?;
        let playlist = self
            .comparison_playlist(viewer, target_user, playlist)
            .await?;
        let mine = self
            .recent_games(viewer, target_user, games, Some(&playlist))
            .await?;
        let theirs = self
            .recent_games(viewer, other_user, games, Some(&playlist))
            .await?;
        Ok(PlaylistComparison {
            games: mine.len(),
            benchmark_playlist: None,
            rows: compare_games(&mine, &theirs),
            playlist,
        })
    }

    /// Best average of a metric among users with games uploaded in this guild.
    pub async fn leaderboard(
        &self,
        viewer: &Viewer,
        guild_id: i64,
        metric: &str,
        min_games: i64,
        limit: i64,
    ) -> Result<Vec<LeaderboardRow>> {
        if viewer.guild_id != Some(guild_id) {
            return Err(StorageError::Forbidden);
        }
        let col = stat_column(metric)?;
        let order = if benchmarks::direction(metric) == Better::Down {
            "ASC"
        } else {
            "DESC"
        };
        let sql = format!(
            "SELECT i.user_id, COUNT(DISTINCT g.replay_id) AS games, CAST(AVG(CAST(g.{col} AS DOUBLE PRECISION)) AS DOUBLE PRECISION) AS value
             FROM game_stats g
             JOIN user_identities i ON i.platform = g.platform AND i.platform_id = g.platform_id
             JOIN users us ON us.user_id = i.user_id
             WHERE g.{col} IS NOT NULL AND {COUNTS_FOR_LINK}
               AND (us.public_profile = 1 OR us.user_id = $2) AND us.leaderboard_opt_out = 0
               AND EXISTS (SELECT 1 FROM game_stats gm JOIN uploads u ON u.replay_id = gm.replay_id
                           WHERE gm.match_key = g.match_key AND gm.platform = g.platform
                             AND gm.platform_id = g.platform_id AND u.guild_id = $1)
             GROUP BY i.user_id
             HAVING COUNT(DISTINCT g.replay_id) >= $3
             ORDER BY value {order}, i.user_id
             LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(guild_id)
            .bind(viewer.user.get())
            .bind(min_games.max(1))
            .bind(limit.clamp(1, 100))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LeaderboardRow {
                    user_id: UserId::from_db(r.try_get(0)?),
                    games: r.try_get(1)?,
                    value: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// The viewer's own most recent uploads: (replay id, file name, uploaded at ms).
    pub async fn my_uploads(
        &self,
        viewer: &Viewer,
        limit: i64,
    ) -> Result<Vec<(String, Option<String>, i64)>> {
        let rows = sqlx::query(
            "SELECT replay_id, file_name, created_at FROM uploads WHERE user_id = $1 ORDER BY created_at DESC, upload_id LIMIT $2",
        )
        .bind(viewer.user.get())
        .bind(limit.clamp(1, 100))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}

impl Store {
    /// Whether the viewer may open a replay (see [`super::scope`]): they uploaded these very
    /// bytes, its answer was posted publicly in the viewer's channel, or a verified identity of
    /// theirs played in it and it was uploaded by a verified player of it (so it counts in their
    /// history). Uploading another copy of the same match, or a file claiming its GUID, grants
    /// nothing.
    pub async fn can_see_replay(&self, viewer: &Viewer, replay_id: &str) -> Result<bool> {
        Ok(sqlx::query(concat!(
            "SELECT 1 FROM uploads u WHERE u.replay_id = $1
               AND (u.user_id = $2 OR (u.private_reply = 0 AND u.channel_id = $3))
             UNION ALL
             SELECT 1 FROM game_stats g JOIN user_identities i
               ON i.platform = g.platform AND i.platform_id = g.platform_id
             WHERE g.replay_id = $1 AND i.user_id = $2 AND i.verified = 1 AND g.in_network = 1
               AND EXISTS (",
            vouched!("g"),
            ")
             LIMIT 1"
        ))
        .bind(replay_id)
        .bind(viewer.user.get())
        .bind(viewer.channel_id)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Takes a game out of the viewer's history: the match of a replay they may open (every
    /// copy of it) then counts nowhere for them (lists, trends, sessions, comparisons,
    /// leaderboards, the coach). False when the replay is not theirs to see (nothing changes).
    pub async fn hide_game(&self, viewer: &Viewer, replay_id: &str) -> Result<bool> {
        let me = Viewer::user(viewer.user);
        if !self.can_see_replay(&me, replay_id).await? {
            return Ok(false);
        }
        let key = self.match_key_of(replay_id).await?;
        let mut tx = self.write_tx().await?;
        super::users::ensure_user(&mut tx, me.user.get()).await?;
        sqlx::query(
            "INSERT INTO hidden_games (user_id, match_key, replay_id, hidden_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(me.user.get())
        .bind(&key)
        .bind(replay_id)
        .bind(super::now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Puts a hidden game back in the viewer's history; false when it was not hidden.
    pub async fn unhide_game(&self, viewer: &Viewer, replay_id: &str) -> Result<bool> {
        let key = self.match_key_of(replay_id).await?;
        Ok(sqlx::query(
            "DELETE FROM hidden_games WHERE user_id = $1 AND (match_key = $2 OR replay_id = $3)",
        )
        .bind(viewer.user.get())
        .bind(&key)
        .bind(replay_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            > 0)
    }

    /// Whether the viewer hid the match of this replay.
    pub async fn is_hidden(&self, viewer: &Viewer, replay_id: &str) -> Result<bool> {
        let key = self.match_key_of(replay_id).await?;
        Ok(
            sqlx::query("SELECT 1 FROM hidden_games WHERE user_id = $1 AND match_key = $2")
                .bind(viewer.user.get())
                .bind(&key)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// The games the viewer hid, newest first: (the replay it was hidden from, hidden at ms).
    pub async fn hidden_games(&self, viewer: &Viewer, limit: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT replay_id, hidden_at FROM hidden_games WHERE user_id = $1
             ORDER BY hidden_at DESC, replay_id LIMIT $2",
        )
        .bind(viewer.user.get())
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// A replay's match key (its own id until it is analyzed, or without stat rows).
    async fn match_key_of(&self, replay_id: &str) -> Result<String> {
        let key: Option<String> =
            sqlx::query("SELECT match_key FROM game_stats WHERE replay_id = $1 LIMIT 1")
                .bind(replay_id)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
                .flatten();
        Ok(key.unwrap_or_else(|| replay_id.to_string()))
    }

    /// The stored report of a replay the viewer may see; None when it is not analyzed, does
    /// not exist, or is not the viewer's to see (a forged id is "not found").
    pub async fn report(&self, viewer: &Viewer, replay_id: &str) -> Result<Option<Report>> {
        if !self.can_see_replay(viewer, replay_id).await? {
            return Ok(None);
        }
        self.load_report(replay_id).await
    }
}

/// Per metric, the average over `games` against the average over `reference`.
fn compare_games(games: &[GameRow], reference: &[GameRow]) -> Vec<Comparison> {
    benchmarks::METRICS
        .iter()
        .filter_map(|m| {
            let value = average(games.iter().map(|g| g.metric(m.key)))?;
            let reference = average(reference.iter().map(|g| g.metric(m.key)))?;
            Some(Comparison {
                metric: m.key.to_string(),
                label: m.label.to_string(),
                value,
                reference,
                p25: None,
                p75: None,
                better: benchmarks::better(benchmarks::direction(m.key), value, reference),
            })
        })
        .collect()
}

fn average(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, n) = values
        .flatten()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn session_of(games: &[&GameRow]) -> Session {
    let wins = games.iter().filter(|g| g.won).count();
    Session {
        started_at: games.iter().map(|g| g.played_at).min().unwrap_or(0),
        ended_at: games.iter().map(|g| g.played_at).max().unwrap_or(0),
        games: games.len(),
        wins,
        losses: games.len() - wins,
        goals: games.iter().map(|g| g.goals).sum(),
        saves: games.iter().map(|g| g.saves).sum(),
        avg_score: games.iter().map(|g| g.score as f64).sum::<f64>() / games.len().max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::GameSort;

    /// A merged list sorts exactly as a single link's does.
    #[test]
    fn merged_orders_are_the_link_orders_unqualified() {
        for sort in GameSort::ALL {
            assert_eq!(
                sort.merged_order_by(),
                sort.order_by().replace("g.", ""),
                "{sort:?}"
            );
        }
    }
}
