-- Catalogue, feedback and served impressions.

CREATE TABLE papers (
    -- Dense integer key: the id inside the FAISS index.
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id             text PRIMARY KEY,
    title          text NOT NULL,
    abstract       text NOT NULL DEFAULT '',
    authors        text[] NOT NULL DEFAULT '{}',
    categories     text[] NOT NULL DEFAULT '{}',
    published_at   timestamptz,
    url            text,
    -- Hash of the text that is embedded; the embedding is current when embedded_hash = content_hash.
    content_hash   text NOT NULL,
    embedding      bytea,
    embedded_hash  text,
    embedding_model text,
    withdrawn_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX papers_pending_embedding ON papers (seq)
    WHERE withdrawn_at IS NULL AND embedded_hash IS DISTINCT FROM content_hash;
CREATE INDEX papers_fresh ON papers ((coalesce(published_at, created_at)) DESC)
    WHERE withdrawn_at IS NULL;

CREATE TABLE events (
    event_id     text PRIMARY KEY,  -- the client's idempotency key
    user_id      text NOT NULL,
    paper_id     text NOT NULL REFERENCES papers (id),
    type         text NOT NULL CHECK (type IN ('click', 'save', 'unsave', 'dismiss')),
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    request_id   uuid
);

CREATE INDEX events_user ON events (user_id, occurred_at DESC);
CREATE INDEX events_recent ON events (occurred_at, paper_id);
CREATE INDEX events_request ON events (request_id, paper_id) WHERE request_id IS NOT NULL;

-- One row per served feed.
CREATE TABLE feeds (
    request_id     uuid PRIMARY KEY,
    user_id        text NOT NULL,
    served_at      timestamptz NOT NULL DEFAULT now(),
    model_version  text NOT NULL,
    feature_names  text[] NOT NULL,
    candidates     integer NOT NULL
);

CREATE INDEX feeds_user ON feeds (user_id, served_at DESC);

-- One row per paper shown: what the ranker saw and decided, for training later.
CREATE TABLE impressions (
    request_id  uuid NOT NULL REFERENCES feeds (request_id) ON DELETE CASCADE,
    position    integer NOT NULL,
    user_id     text NOT NULL,
    paper_id    text NOT NULL REFERENCES papers (id),
    score       real NOT NULL,
    features    real[] NOT NULL,
    served_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, position)
);

CREATE INDEX impressions_user_paper ON impressions (user_id, paper_id, served_at);
