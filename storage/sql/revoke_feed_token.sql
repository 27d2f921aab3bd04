-- Idempotent: a revoked token keeps its first revocation time.
UPDATE feed_tokens SET revoked_at = coalesce(revoked_at, now())
WHERE token_id = $1 AND user_id = $2
RETURNING token_id, user_id, created_at, revoked_at
