DELETE FROM subscriptions WHERE user_id = $1
