-- Series summaries look uploads up by the user's message on every answer.
CREATE INDEX uploads_by_message ON uploads (message_id);
