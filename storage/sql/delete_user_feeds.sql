DELETE FROM feeds WHERE user_id = $1
