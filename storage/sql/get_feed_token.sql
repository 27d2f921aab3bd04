SELECT token_id, user_id, secret_sha256, created_at, revoked_at FROM feed_tokens WHERE token_id = $1
