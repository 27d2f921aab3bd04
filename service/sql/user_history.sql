-- The reader's most recent events, newest first, with each paper's index key.
SELECT e.paper_id, p.seq, e.type, e.occurred_at
FROM events e
JOIN papers p ON p.id = e.paper_id
WHERE e.user_id = $1
ORDER BY e.occurred_at DESC, e.received_at DESC
LIMIT $2
