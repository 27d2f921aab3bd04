-- Returns the paper's index key; withdrawing twice is a no-op that still returns it.
-- changed_xid tells every other process to drop the paper from its index.
UPDATE papers SET withdrawn_at = coalesce(withdrawn_at, now()), updated_at = now(),
                  changed_xid = pg_current_xact_id()
WHERE id = $1
RETURNING seq
