-- Feed pages (the rest of a ranked list, kept for its cursor) and readers' onboarding
-- interests.

-- Which page of its feed an impression was on (1: the first answer).
ALTER TABLE impressions ADD COLUMN page integer NOT NULL DEFAULT 1;

-- The ranked list of a served feed beyond its first page, so that a cursor continues the
-- very list the first page came from. `items` is a msgpack array of storage.rows.KeptItem.
CREATE TABLE ranked_lists (
    request_id  uuid PRIMARY KEY REFERENCES feeds (request_id) ON DELETE CASCADE,
    user_id     text NOT NULL,
    page_size   integer NOT NULL CHECK (page_size > 0),
    items       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ranked_lists_user ON ranked_lists (user_id, created_at);

-- What a reader said they care about. Append-only: the newest row is in force, and a
-- feed can be replayed with the interests it was served with.
CREATE TABLE interests (
    user_id          text NOT NULL,
    set_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    topics           text[] NOT NULL,
    paper_ids        text[] NOT NULL,
    -- One little-endian float32 vector per topic, by `embedding_model`.
    topic_vectors    bytea[] NOT NULL,
    embedding_model  text NOT NULL,
    PRIMARY KEY (user_id, set_at)
);

-- Feedback per paper, for the papers published on one day (GET /v1/trending?by=published).
CREATE INDEX events_paper ON events (paper_id);
