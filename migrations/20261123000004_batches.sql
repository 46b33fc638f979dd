-- Several replays in one message get a series summary once all are answered; the batch size is
-- stored with each upload and the summary is claimed once, so it survives restarts.
ALTER TABLE uploads ADD COLUMN batch_size BIGINT;
CREATE TABLE batch_summaries (
    message_id BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
