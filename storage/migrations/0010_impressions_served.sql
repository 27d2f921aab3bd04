-- The servers' incremental statistics refresh (storage/sql/paper_counts_since.sql) reads
-- the impressions served since its last refresh and those leaving the 30-day window by
-- time. Rows arrive in served_at order, so a block-range index serves both ranges at a
-- tiny fraction of a B-tree's size and insert cost.
CREATE INDEX impressions_served ON impressions USING brin (served_at);
