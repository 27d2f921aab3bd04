-- Ranked lists of reader $1 kept since before $2: their cursors have expired.
DELETE FROM ranked_lists WHERE user_id = $1 AND created_at < $2
