SELECT key_id, name, scopes, created_at, revoked_at
FROM api_keys
ORDER BY created_at, key_id
