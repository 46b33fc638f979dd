-- The site's pages for a user with thousands of games (`rlcoach bench --web`).
--
-- A game list reads each linked identity's games as one index range already in the page's order
-- and stops after the page; with `replay_id` in the index, counting a user's games (which checks
-- each game's uploader) never reads the wide table rows.
DROP INDEX game_stats_by_player;
CREATE INDEX game_stats_by_player ON game_stats (platform, platform_id, played_at, replay_id);
-- The "best score" and "most goals" orders of the list, likewise. The lists sort every column
-- the index's way (`replay_id` breaks ties), so a page is read in index order with no sort and
-- a deep page skips the rows before it without reading them out.
CREATE INDEX game_stats_by_player_score
    ON game_stats (platform, platform_id, score, played_at, replay_id);
CREATE INDEX game_stats_by_player_goals
    ON game_stats (platform, platform_id, goals, played_at, replay_id);

-- Mechanics counts per player and game (the report's `mechanics`; NULL when the report has none),
-- so Home can sum them without decoding reports. `mechanics_stored` is 0 on rows written before
-- these columns existed: `Store::backfill_mechanics` fills them from the stored reports.
ALTER TABLE game_stats ADD COLUMN mechanics_stored BIGINT NOT NULL DEFAULT 0;
ALTER TABLE game_stats ADD COLUMN flips BIGINT;
ALTER TABLE game_stats ADD COLUMN wavedashes BIGINT;
ALTER TABLE game_stats ADD COLUMN half_flips BIGINT;
ALTER TABLE game_stats ADD COLUMN speedflips BIGINT;
ALTER TABLE game_stats ADD COLUMN aerials BIGINT;
ALTER TABLE game_stats ADD COLUMN flip_resets BIGINT;
ALTER TABLE game_stats ADD COLUMN ceiling_touches BIGINT;
ALTER TABLE game_stats ADD COLUMN dribbles BIGINT;
ALTER TABLE game_stats ADD COLUMN flicks BIGINT;
-- The rows still to fill, found without scanning the table (empty once the fill is done).
CREATE INDEX game_stats_mechanics_pending ON game_stats (replay_id) WHERE mechanics_stored = 0;
