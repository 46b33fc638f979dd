-- The Pro coach and plans.

-- A user's plan comes from its sources (an operator's grant, a Stripe subscription, a Discord
-- entitlement): one row per (user, source). The user is Pro while any source's row says 'pro'
-- and has not ended (`ends_at` NULL or in the future). `period_start` / `period_end` are the
-- billing period a source defines (the coach budget resets with it); NULL: calendar months.
CREATE TABLE user_plans (
    user_id BIGINT NOT NULL,
    source TEXT NOT NULL,
    plan TEXT NOT NULL,
    ends_at BIGINT,
    period_start BIGINT,
    period_end BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, source)
);
-- `users.plan` (never written until now) becomes an operator grant; it is no longer read.
INSERT INTO user_plans (user_id, source, plan, updated_at)
    SELECT user_id, 'operator', 'pro', created_at FROM users WHERE plan = 'pro';

-- A conversation with the coach: a Discord thread or DM channel (`channel_id`), or the web.
CREATE TABLE coach_conversations (
    conversation_id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    channel_id BIGINT,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX coach_conversations_channel ON coach_conversations (channel_id)
    WHERE channel_id IS NOT NULL;
CREATE INDEX coach_conversations_user ON coach_conversations (user_id, updated_at);

-- Its history, append-only, exactly as sent to and received from the model (`content`: the
-- JSON array of content blocks), with each model turn's token counts.
CREATE TABLE coach_messages (
    conversation_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    thinking_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    -- 1: the answer was cut off (a stream error); it is shown but not sent back to the model.
    incomplete BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- What the coach (or the user) wrote down about the user, added to new conversations.
CREATE TABLE coach_notes (
    note_id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    category TEXT NOT NULL,
    body TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX coach_notes_user ON coach_notes (user_id, created_at);

-- The token ledger: per user and budget period, tokens charged (input + visible output),
-- tokens reserved by calls in flight, and thinking tokens (our cost, not the user's).
CREATE TABLE coach_usage (
    user_id BIGINT NOT NULL,
    period_start BIGINT NOT NULL,
    used_tokens BIGINT NOT NULL DEFAULT 0,
    reserved_tokens BIGINT NOT NULL DEFAULT 0,
    thinking_tokens BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    warned BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, period_start)
);
-- One row per model call in flight; a crash leaves it for the sweeper to release.
CREATE TABLE coach_reservations (
    reservation_id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    period_start BIGINT NOT NULL,
    tokens BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX coach_reservations_age ON coach_reservations (created_at);
