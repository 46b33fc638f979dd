-- Trust: a replay proves only its own bytes.
--
-- A replay is one distinct file (sha256 of its bytes): two different files claiming one match
-- GUID are two replays, each analyzed from its own bytes, and an upload points at the replay
-- made from the bytes it sent. `replays.match_guid` was UNIQUE and merged such files into the
-- first one stored; it is left empty from now on (dropping a column constraint needs a table
-- rebuild on SQLite) and the GUID the header claims moves to `claimed_guid`, which only groups
-- candidates for "the same match".
ALTER TABLE replays ADD COLUMN claimed_guid TEXT;
UPDATE replays SET claimed_guid = match_guid;
UPDATE replays SET match_guid = NULL;

-- The match a game row belongs to: the replay's own id, or the match key of an earlier replay of
-- the same claimed GUID whose content agrees (same players and platform ids, score, goal times
-- and scorers, network data parsed in both). A player's history counts one row per match key.
-- Rows stored before this migration were already one per GUID: each is its own match.
-- `content_key` is a digest of the content that must agree exactly (players and platform ids, the
-- score, the goal scorers in order), set with the analysis; goal times are compared with a
-- tolerance between candidates.
ALTER TABLE replays ADD COLUMN content_key TEXT;
-- Candidates for "the same match" are found by GUID (then digest): one index serves both.
CREATE INDEX replays_by_content ON replays (claimed_guid, content_key);
ALTER TABLE game_stats ADD COLUMN match_key TEXT;
UPDATE game_stats SET match_key = replay_id;
CREATE INDEX game_stats_by_match ON game_stats (match_key, platform, platform_id);

-- 1 when the player's car is in the replay's network data (movement measured); 0 for a row made
-- from the header's scoreboard alone, which anyone can write. Someone else's upload counts for a
-- verified player only when both that player and the uploader are in the network data.
ALTER TABLE game_stats ADD COLUMN in_network BIGINT NOT NULL DEFAULT 0;
UPDATE game_stats SET in_network = 1 WHERE avg_speed_uu_s IS NOT NULL;

-- 1 once another copy of the row's match is stored (rows of a match without copies, nearly all,
-- skip the look for a preferred copy).
ALTER TABLE game_stats ADD COLUMN has_twin BIGINT NOT NULL DEFAULT 0;
-- A user's lists and counts walk these indexes and apply the history rule to each row: with the
-- match key and the two flags in them, the rule reads no table row (as before it).
DROP INDEX game_stats_by_player;
CREATE INDEX game_stats_by_player
    ON game_stats (platform, platform_id, played_at, replay_id, match_key, has_twin, in_network);
DROP INDEX game_stats_by_player_score;
CREATE INDEX game_stats_by_player_score
    ON game_stats (platform, platform_id, score, played_at, replay_id, match_key, has_twin, in_network);
DROP INDEX game_stats_by_player_goals;
CREATE INDEX game_stats_by_player_goals
    ON game_stats (platform, platform_id, goals, played_at, replay_id, match_key, has_twin, in_network);

-- Games a user took out of their history (by match, so every agreeing copy goes with it): they
-- then count nowhere for that user (lists, trends, sessions, leaderboards, comparisons, coach).
CREATE TABLE hidden_games (
    user_id BIGINT NOT NULL,
    match_key TEXT NOT NULL,
    -- the copy it was hidden from (to show and unhide it)
    replay_id TEXT NOT NULL,
    hidden_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, match_key)
);
