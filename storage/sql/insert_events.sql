-- An event_id already stored (a retry) is skipped; RETURNING lists the ones written now.
INSERT INTO events (event_id, user_id, paper_id, type, occurred_at, request_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::uuid[])
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
