-- The kept ranked list of feed $1, if it was served to reader $2.
SELECT r.page_size, r.items, r.created_at, f.model_version
FROM ranked_lists r
JOIN feeds f USING (request_id)
WHERE r.request_id = $1 AND f.user_id = $2
