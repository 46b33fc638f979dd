-- The web login's OAuth `state` values already used at /auth/callback (sha256 hex of the
-- state; the state itself rides in a signed cookie with its issue time, valid ten minutes).
-- A state found here is a replayed callback and is refused. Rows older than the ten minutes
-- can never match a valid cookie again and are swept.
CREATE TABLE oauth_states_used (
    state_hash TEXT PRIMARY KEY,
    used_at BIGINT NOT NULL
);
CREATE INDEX oauth_states_used_at ON oauth_states_used (used_at);
