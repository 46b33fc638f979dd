-- The web site's login sessions. The cookie holds `session_id` (random, signed with
-- RLCOACH_SESSION_KEY); `csrf_token` is the per-session token every state-changing form carries.
-- A row past `expires_at` is never honoured and is swept.
CREATE TABLE web_sessions (
    session_id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- Account deletion asked for on the web: everything goes 30 days later unless the user logs in
-- again before then (which cancels it). NULL: no deletion pending.
ALTER TABLE users ADD COLUMN deletion_requested_at BIGINT;


-- "A user's games" checks, per game row, whether the user uploaded that replay (claimed links):
-- with only `uploads_by_user` SQLite scanned every upload of the user for each row (1.7 s for a
-- user with 5,000 games); this makes it one index probe.
CREATE INDEX uploads_by_replay_user ON uploads (replay_id, user_id);
