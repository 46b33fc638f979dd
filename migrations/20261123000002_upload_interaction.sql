-- Uploads made through a slash command are answered by editing the interaction's original
-- response, which needs its token (valid for 15 minutes) and the application id.
ALTER TABLE uploads ADD COLUMN interaction_token TEXT;
ALTER TABLE uploads ADD COLUMN application_id BIGINT;
