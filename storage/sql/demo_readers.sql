-- The readers with the most recent events, newest first (the demo page offers them).
SELECT user_id
FROM events
GROUP BY user_id
ORDER BY max(received_at) DESC, user_id
LIMIT $1
