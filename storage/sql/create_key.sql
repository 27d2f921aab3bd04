INSERT INTO api_keys (key_id, name, secret_sha256, scopes)
VALUES ($1, $2, $3, $4)
RETURNING key_id, name, scopes, created_at, revoked_at
