INSERT INTO feed_tokens (token_id, user_id, secret_sha256)
VALUES ($1, $2, $3)
RETURNING token_id, user_id, created_at, revoked_at
