SELECT key_id, name, secret_sha256, scopes, created_at, revoked_at
FROM api_keys
WHERE key_id = $1
