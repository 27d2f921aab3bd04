-- $1: embedding model name. Every live paper's current vector, for rebuilding the index, and
-- its facts as papers_by_seq reads them (ranking.catalogue: what servers keep in memory).
SELECT seq, embedding, id, title, length(abstract) AS abstract_chars,
       extract(epoch FROM coalesce(published_at, created_at))::float8 AS published_epoch,
       coalesce(authors[1], '') AS first_author
FROM papers
WHERE withdrawn_at IS NULL
  AND embedding IS NOT NULL
  AND embedded_hash = content_hash
  AND embedding_model = $1
ORDER BY seq
