-- The staged events (stage_events.sql) whose paper exists are stored, with its index key;
-- an event_id already stored (a retry) is skipped. One row: how many were written now, and
-- the places in the batch of the events naming unknown papers (not stored).
WITH staged AS (
    SELECT s.*, p.id IS NOT NULL AS known, p.seq AS paper_seq
    FROM events_staging s
    LEFT JOIN papers p ON p.id = s.paper_id
), written AS (
    INSERT INTO events (event_id, user_id, paper_id, paper_seq, type, occurred_at, request_id)
    SELECT event_id, user_id, paper_id, paper_seq, type, occurred_at, request_id
    FROM staged
    WHERE known
    ON CONFLICT (event_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM written) AS stored,
       coalesce((SELECT array_agg(n) FROM staged WHERE NOT known), '{}') AS unknown
