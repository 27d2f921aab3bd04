-- A batch of events is copied (COPY) into this staging table, then inserted from it by
-- insert_staged_events.sql in the same transaction; its rows go at commit. Temporary, so
-- one per connection, made once per pooled connection.
CREATE TEMPORARY TABLE IF NOT EXISTS events_staging (
    n            integer NOT NULL,  -- the event's place in the batch
    event_id     text NOT NULL,
    user_id      text NOT NULL,
    paper_id     text NOT NULL,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    request_id   uuid
) ON COMMIT DELETE ROWS
