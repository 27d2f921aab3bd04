-- Exploration logging, statistics versions, and the model registry.

-- The catalogue statistics snapshot the feed's features were computed with.
ALTER TABLE feeds ADD COLUMN stats_version text NOT NULL DEFAULT 'none';

ALTER TABLE impressions
    ADD COLUMN propensity real NOT NULL DEFAULT 1,
    ADD COLUMN explored boolean NOT NULL DEFAULT false;

CREATE TABLE models (
    version        text PRIMARY KEY,
    path           text NOT NULL,          -- the artifact folder
    feature_names  text[] NOT NULL,
    metrics        jsonb NOT NULL,
    manifest       jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Append-only history of activations. The active model is the newest activation not
-- rolled back; version NULL means the heuristic ranker.
CREATE TABLE model_activations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version         text REFERENCES models (version),
    reason          text NOT NULL,
    activated_at    timestamptz NOT NULL DEFAULT now(),
    rolled_back_at  timestamptz
);
