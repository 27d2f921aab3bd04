-- The newest live papers that have a vector (so that they can be ranked).
SELECT seq
FROM papers
WHERE withdrawn_at IS NULL AND embedding IS NOT NULL
ORDER BY coalesce(published_at, created_at) DESC, seq DESC
LIMIT $1
