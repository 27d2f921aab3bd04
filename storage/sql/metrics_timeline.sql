-- Feeds served (by model version) and events received (by type) since $1, counted in
-- buckets of $2 seconds starting at $1.
SELECT 'feed' AS what, model_version AS kind,
       date_bin(make_interval(secs => $2), served_at, $1) AS bucket, count(*) AS n
FROM feeds
WHERE served_at >= $1
GROUP BY 2, 3
UNION ALL
SELECT 'event', type, date_bin(make_interval(secs => $2), received_at, $1), count(*)
FROM events
WHERE received_at >= $1
GROUP BY 2, 3
ORDER BY 3, 1, 2
