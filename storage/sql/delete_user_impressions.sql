DELETE FROM impressions WHERE user_id = $1
