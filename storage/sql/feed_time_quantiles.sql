-- The served_at of the feeds served in [$1, $2) at each fraction of $3 (0..1), in time order:
-- time ranges between them hold about equal numbers of feeds, and never split a feed.
SELECT percentile_disc($3::float8[]) WITHIN GROUP (ORDER BY served_at) AS cuts
FROM feeds
WHERE served_at >= $1 AND served_at < $2
