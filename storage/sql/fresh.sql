-- The newest live papers that have a vector (so that they can be ranked), as of $2 (NULL: now).
SELECT seq
FROM papers
WHERE withdrawn_at IS NULL AND embedding IS NOT NULL
  AND ($2::timestamptz IS NULL OR created_at <= $2)
ORDER BY coalesce(published_at, created_at) DESC, seq DESC
LIMIT $1
