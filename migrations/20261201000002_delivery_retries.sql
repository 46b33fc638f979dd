-- Deliveries that fail are retried with backoff when the failure is transient (Discord 5xx,
-- 429, timeouts, our database) and given up when it is permanent (the status message deleted,
-- 400, 401) or too old; a given-up answer keeps its result for /replays.
ALTER TABLE uploads ADD COLUMN delivery_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN next_delivery_at BIGINT;
ALTER TABLE uploads ADD COLUMN delivery_error TEXT;
ALTER TABLE uploads ADD COLUMN delivery_failed BIGINT NOT NULL DEFAULT 0;

-- Files of a multi-file message that never became uploads (a bad file refused at intake, a full
-- queue): they still count for the series summary, which says why they failed.
CREATE TABLE batch_refusals (
    message_id BIGINT NOT NULL,
    attachment_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, attachment_id)
);
CREATE INDEX batch_refusals_by_user ON batch_refusals (user_id);
