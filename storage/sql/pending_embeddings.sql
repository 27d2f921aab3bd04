-- $1: embedding model name, $2: batch size.
SELECT seq, id, title, abstract, content_hash
FROM papers
WHERE withdrawn_at IS NULL
  AND (embedded_hash IS DISTINCT FROM content_hash OR embedding_model IS DISTINCT FROM $1)
ORDER BY seq
LIMIT $2
