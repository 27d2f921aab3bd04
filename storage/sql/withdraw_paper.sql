-- Returns the paper's index key; withdrawing twice is a no-op that still returns it.
UPDATE papers SET withdrawn_at = coalesce(withdrawn_at, now()), updated_at = now()
WHERE id = $1
RETURNING seq
