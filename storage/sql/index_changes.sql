-- $1: embedding model name, $2: horizon (an xid8 as bigint). Papers whose vector was stored
-- or withdrawn or edited by a transaction from the horizon on, in their current state: the
-- vector of a live one, NULL for one to drop (withdrawn, embedded by another model, or its
-- text changed since it was embedded: back when its new vector is stored).
SELECT seq, changed_xid::text::bigint AS xid,
       CASE WHEN withdrawn_at IS NULL AND embedding_model = $1 AND embedded_hash = content_hash
            THEN embedding END AS embedding
FROM papers
WHERE changed_xid >= $2::bigint::text::xid8
ORDER BY changed_xid, seq
