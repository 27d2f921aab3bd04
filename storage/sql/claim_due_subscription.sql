-- Claim one subscriber due at $1 (oldest due first) for $2 seconds, skipping the readers in
-- $3 (already tried in this run) and any that another run holds.
UPDATE subscriptions
SET claimed_until = $1 + make_interval(secs => $2)
WHERE user_id = (
    SELECT user_id FROM subscriptions
    WHERE next_due_at <= $1
      AND (claimed_until IS NULL OR claimed_until < $1)
      AND user_id <> ALL($3::text[])
    ORDER BY next_due_at, user_id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *
