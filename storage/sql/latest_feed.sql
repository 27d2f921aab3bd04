-- The reader's newest feed on surface $2 served after $3, with the papers it showed in order.
SELECT f.request_id, f.served_at, f.model_version, i.position, i.paper_id, i.score
FROM feeds f
JOIN impressions i ON i.request_id = f.request_id
WHERE f.request_id = (
    SELECT request_id FROM feeds
    WHERE user_id = $1 AND surface = $2 AND served_at > $3
    ORDER BY served_at DESC
    LIMIT 1
)
ORDER BY i.position
