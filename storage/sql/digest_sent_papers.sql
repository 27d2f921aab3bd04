-- Index keys of every paper a delivered digest served before $2 (NULL: ever) showed the reader.
SELECT DISTINCT p.seq
FROM feeds f
JOIN impressions i ON i.request_id = f.request_id
JOIN papers p ON p.id = i.paper_id
WHERE f.user_id = $1 AND f.surface = 'digest'
  AND f.served_at < coalesce($2::timestamptz, 'infinity')
