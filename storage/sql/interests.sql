-- Reader $1's interests in force at $2 (NULL: now), with the index keys of the live papers
-- among them, in the order the reader gave.
SELECT i.set_at, i.topics, i.paper_ids, i.topic_vectors, i.embedding_model,
       coalesce((SELECT array_agg(p.seq ORDER BY k.n)
                 FROM unnest(i.paper_ids) WITH ORDINALITY AS k(id, n)
                 JOIN papers p ON p.id = k.id AND p.withdrawn_at IS NULL), '{}') AS keys
FROM interests i
WHERE i.user_id = $1 AND ($2::timestamptz IS NULL OR i.set_at <= $2)
ORDER BY i.set_at DESC
LIMIT 1
