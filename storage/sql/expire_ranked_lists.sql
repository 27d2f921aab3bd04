-- Ranked lists kept since before $1, of every reader: their cursors have expired (run
-- periodically, not per feed; storage/migrations/0009 indexes created_at for it).
DELETE FROM ranked_lists WHERE created_at < $1
