SELECT i.request_id, i.position, i.paper_id, i.score, i.served_at, f.model_version
FROM impressions i
JOIN feeds f USING (request_id)
WHERE i.user_id = $1
ORDER BY i.served_at, i.request_id, i.position
