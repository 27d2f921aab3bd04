DELETE FROM interests WHERE user_id = $1
