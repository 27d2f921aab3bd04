-- The oldest transaction still running: every change made by an older one is visible now.
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint
