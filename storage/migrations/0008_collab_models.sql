-- Collaborative-model artifacts written by `paperfeed fit`, and which one servers load.

CREATE TABLE collab_models (
    version     text PRIMARY KEY,
    path        text NOT NULL,          -- the artifact folder
    manifest    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Append-only history of activations; the newest is the active artifact.
CREATE TABLE collab_activations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version       text NOT NULL REFERENCES collab_models (version),
    activated_at  timestamptz NOT NULL DEFAULT now()
);
