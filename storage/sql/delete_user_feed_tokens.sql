DELETE FROM feed_tokens WHERE user_id = $1
