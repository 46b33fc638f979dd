-- rlcoach schema. One file for SQLite and PostgreSQL: portable types only (BIGINT, TEXT,
-- DOUBLE PRECISION), timestamps as unix milliseconds, booleans as 0/1, ids made by the app.

-- Discord users. `plan` and the budget columns leave room for Pro and the coach.
CREATE TABLE users (
    user_id BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    plan TEXT NOT NULL DEFAULT 'free',
    -- 1: other users may see this user's stats (/stats @user, /compare); 0: private.
    public_profile BIGINT NOT NULL DEFAULT 0,
    -- 1: left out of guild leaderboards.
    leaderboard_opt_out BIGINT NOT NULL DEFAULT 0,
    coach_tokens_month TEXT,
    coach_tokens_used BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE guilds (
    guild_id BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    -- 'public' replies in channel, 'private' replies ephemeral/DM where possible.
    reply_mode TEXT NOT NULL DEFAULT 'public'
);

CREATE TABLE guild_channels (
    guild_id BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    auto_analyze BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (guild_id, channel_id)
);

-- In-game identities seen in replays.
CREATE TABLE players (
    platform TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    last_name TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (platform, platform_id)
);

CREATE TABLE player_names (
    platform TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    name TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (platform, platform_id, name)
);

-- A Discord user's claimed in-game identities (claimed from replays they uploaded).
CREATE TABLE user_identities (
    user_id BIGINT NOT NULL,
    platform TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, platform, platform_id)
);
CREATE INDEX user_identities_by_player ON user_identities (platform, platform_id);

-- One row per distinct replay file (sha256 of the bytes), stored content-addressed.
CREATE TABLE replays (
    replay_id TEXT PRIMARY KEY,
    match_guid TEXT UNIQUE,
    file_path TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Every time someone dropped a replay: who, where, and whether they got their answer.
CREATE TABLE uploads (
    upload_id TEXT PRIMARY KEY,
    replay_id TEXT NOT NULL REFERENCES replays (replay_id),
    user_id BIGINT NOT NULL,
    guild_id BIGINT,
    channel_id BIGINT,
    message_id BIGINT,
    -- the bot's own status message to edit with the result, once posted
    reply_message_id BIGINT,
    file_name TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX uploads_by_replay ON uploads (replay_id);
CREATE INDEX uploads_by_user ON uploads (user_id, created_at);
CREATE INDEX uploads_undelivered ON uploads (delivered_at);

-- The analysis of a replay (one per replay; a newer analyzer version replaces it).
CREATE TABLE analyses (
    replay_id TEXT PRIMARY KEY REFERENCES replays (replay_id),
    analyzer_version TEXT NOT NULL,
    schema_version BIGINT NOT NULL,
    report_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Per player per game, the columns trends and comparisons read.
CREATE TABLE game_stats (
    replay_id TEXT NOT NULL REFERENCES replays (replay_id),
    platform TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    name TEXT NOT NULL,
    team BIGINT NOT NULL,
    won BIGINT NOT NULL,
    playlist TEXT NOT NULL,
    map TEXT,
    played_at BIGINT NOT NULL,
    duration_s DOUBLE PRECISION NOT NULL,
    score BIGINT NOT NULL,
    goals BIGINT NOT NULL,
    assists BIGINT NOT NULL,
    saves BIGINT NOT NULL,
    shots BIGINT NOT NULL,
    demos BIGINT NOT NULL,
    mvp BIGINT NOT NULL,
    shooting_pct DOUBLE PRECISION NOT NULL,
    bcpm DOUBLE PRECISION,
    avg_boost_amount DOUBLE PRECISION,
    pct_zero_boost DOUBLE PRECISION,
    pct_full_boost DOUBLE PRECISION,
    big_pads BIGINT,
    small_pads BIGINT,
    boost_stolen DOUBLE PRECISION,
    avg_speed_uu_s DOUBLE PRECISION,
    pct_supersonic DOUBLE PRECISION,
    pct_slow_speed DOUBLE PRECISION,
    pct_on_ground DOUBLE PRECISION,
    pct_low_air DOUBLE PRECISION,
    pct_high_air DOUBLE PRECISION,
    pct_offensive_third DOUBLE PRECISION,
    pct_defensive_third DOUBLE PRECISION,
    pct_behind_ball DOUBLE PRECISION,
    avg_distance_to_ball DOUBLE PRECISION,
    avg_distance_to_teammates DOUBLE PRECISION,
    PRIMARY KEY (replay_id, platform, platform_id)
);
CREATE INDEX game_stats_by_player ON game_stats (platform, platform_id, played_at);

-- Durable job queue. One analysis job per replay (UNIQUE), claimed under a lease.
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    replay_id TEXT NOT NULL REFERENCES replays (replay_id),
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_after BIGINT NOT NULL,
    lease_token TEXT,
    lease_until BIGINT,
    last_error TEXT,
    user_error BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (kind, replay_id)
);
CREATE INDEX jobs_claim ON jobs (state, run_after);
