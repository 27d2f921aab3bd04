-- Stores vectors only where the text has not changed since it was read ($4 hashes).
-- Returns the papers whose vectors belong in the index, and this transaction's id (the
-- other processes' indexes follow the change by it: storage/migrations/0006).
UPDATE papers AS p
SET embedding = r.vector, embedded_hash = r.content_hash, embedding_model = $1,
    changed_xid = pg_current_xact_id()
FROM unnest($2::text[], $3::bytea[], $4::text[]) AS r (id, vector, content_hash)
WHERE p.id = r.id AND p.content_hash = r.content_hash
RETURNING p.seq, (p.withdrawn_at IS NULL) AS live, p.changed_xid::text::bigint AS xid
