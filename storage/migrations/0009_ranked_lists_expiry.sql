-- Expired ranked lists are dropped for all readers at once by a periodic task
-- (storage/sql/expire_ranked_lists.sql) instead of per reader on every feed.
CREATE INDEX ranked_lists_created ON ranked_lists (created_at);
