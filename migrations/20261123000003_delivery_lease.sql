-- Deliveries are claimed for a short lease before the answer is sent and marked delivered
-- after, so a crash mid-send retries the (idempotent) edit instead of losing the answer.
ALTER TABLE uploads ADD COLUMN delivering_until BIGINT;
