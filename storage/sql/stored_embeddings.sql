-- $1: embedding model name. Every live paper's current vector, for rebuilding the index.
SELECT seq, embedding
FROM papers
WHERE withdrawn_at IS NULL
  AND embedding IS NOT NULL
  AND embedded_hash = content_hash
  AND embedding_model = $1
ORDER BY seq
