-- $1: embedding model name, $2: batch size. The live papers that need a vector, oldest
-- first: none yet, one of older content, or one of another model. One branch per index
-- (the partial papers_pending_embedding; papers_embedding_model below, above and without
-- a model), so that a poll finds nothing waiting without reading the table; one filter
-- over all three conditions read every paper.
SELECT p.seq, p.id, p.title, p.abstract, p.content_hash
FROM (
    (SELECT seq FROM papers
     WHERE withdrawn_at IS NULL AND embedded_hash IS DISTINCT FROM content_hash
     ORDER BY seq LIMIT $2)
    UNION
    (SELECT seq FROM papers
     WHERE withdrawn_at IS NULL AND embedding_model < $1
     ORDER BY seq LIMIT $2)
    UNION
    (SELECT seq FROM papers
     WHERE withdrawn_at IS NULL AND embedding_model > $1
     ORDER BY seq LIMIT $2)
    UNION
    (SELECT seq FROM papers
     WHERE withdrawn_at IS NULL AND embedding_model IS NULL
     ORDER BY seq LIMIT $2)
) waiting
JOIN papers p ON p.seq = waiting.seq
ORDER BY p.seq
LIMIT $2
