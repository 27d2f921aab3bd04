DELETE FROM events WHERE user_id = $1
