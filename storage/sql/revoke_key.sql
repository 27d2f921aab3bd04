-- Revoking twice keeps the first time.
UPDATE api_keys
SET revoked_at = coalesce(revoked_at, now())
WHERE key_id = $1
RETURNING key_id, name, scopes, created_at, revoked_at
