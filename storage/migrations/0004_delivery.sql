-- Delivery beyond the JSON API: the e-mail digest and the Atom feed.

-- Where a feed was shown: 'api' (JSON), 'digest' (e-mail), 'atom' (feed readers). Every
-- surface logs impressions, so every surface teaches the next model.
ALTER TABLE feeds ADD COLUMN surface text NOT NULL DEFAULT 'api' CHECK (surface ~ '^[a-z]{1,20}$');
CREATE INDEX feeds_user_surface ON feeds (user_id, surface, served_at DESC);

-- One e-mail digest subscription per reader. Delivered digests are the feeds with surface
-- 'digest' (a failed delivery's feed is deleted: nothing was shown).
CREATE TABLE subscriptions (
    user_id        text PRIMARY KEY,
    email          text NOT NULL,
    frequency      text NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    max_items      integer NOT NULL CHECK (max_items BETWEEN 1 AND 50),
    send_hour_utc  integer NOT NULL CHECK (send_hour_utc BETWEEN 0 AND 23),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- Due when next_due_at <= now; a failed delivery leaves it as it was (retried next run).
    next_due_at    timestamptz NOT NULL,
    last_sent_at   timestamptz,
    failures       integer NOT NULL DEFAULT 0,  -- consecutive failed deliveries
    last_error     text,
    -- A run claims a subscriber until then, so that overlapping runs never send twice.
    claimed_until  timestamptz
);

CREATE INDEX subscriptions_due ON subscriptions (next_due_at);

-- Long-lived read-only tokens for Atom feed readers: `pff_<token_id>_<secret>`; only the
-- SHA-256 of the secret is kept (256 random bits: a fast hash is enough).
CREATE TABLE feed_tokens (
    token_id       text PRIMARY KEY,
    user_id        text NOT NULL,
    secret_sha256  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);

CREATE INDEX feed_tokens_user ON feed_tokens (user_id, created_at);
