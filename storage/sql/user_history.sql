-- The reader's most recent events, newest first, with each paper's index key (kept with
-- the event since migration 0013; looked up for a row written without it);
-- $3: only events received by then (NULL: all), to replay a feed as it was served.
SELECT e.paper_id,
       coalesce(e.paper_seq, (SELECT p.seq FROM papers p WHERE p.id = e.paper_id)) AS seq,
       e.type,
       e.occurred_at
FROM events e
WHERE e.user_id = $1 AND ($3::timestamptz IS NULL OR e.received_at <= $3)
ORDER BY e.occurred_at DESC, e.received_at DESC
LIMIT $2
