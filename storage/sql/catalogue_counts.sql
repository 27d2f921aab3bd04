-- $1: embedding model name.
SELECT count(*) FILTER (WHERE withdrawn_at IS NULL) AS live,
       count(*) FILTER (WHERE withdrawn_at IS NULL
                          AND (embedded_hash IS DISTINCT FROM content_hash
                               OR embedding_model IS DISTINCT FROM $1)) AS pending
FROM papers
