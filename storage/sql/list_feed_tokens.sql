SELECT token_id, user_id, created_at, revoked_at FROM feed_tokens WHERE user_id = $1 ORDER BY created_at, token_id
