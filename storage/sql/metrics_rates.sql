-- Feeds served since $1 and the papers shown in them, grouped by model version and, apart,
-- by position (GROUPING SETS). A shown paper counts as clicked, saved or dismissed when an
-- event carrying the feed's request_id names it. A feed with no papers has one row with a
-- NULL position, which the position grouping leaves to the caller to skip.
WITH recent AS (
    SELECT request_id, model_version FROM feeds WHERE served_at >= $1
),
feedback AS (
    SELECT e.request_id, e.paper_id,
           bool_or(e.type = 'click') AS clicked,
           bool_or(e.type = 'save') AS saved,
           bool_or(e.type = 'dismiss') AS dismissed
    FROM events e
    WHERE e.request_id IN (SELECT request_id FROM recent)
    GROUP BY e.request_id, e.paper_id
)
SELECT r.model_version,
       i.position,
       grouping(r.model_version) = 0 AS by_model,
       count(DISTINCT r.request_id) AS feeds,
       count(i.position) AS impressions,
       count(*) FILTER (WHERE f.clicked) AS clicked,
       count(*) FILTER (WHERE f.saved) AS saved,
       count(*) FILTER (WHERE f.dismissed) AS dismissed
FROM recent r
LEFT JOIN impressions i ON i.request_id = r.request_id
LEFT JOIN feedback f ON f.request_id = i.request_id AND f.paper_id = i.paper_id
GROUP BY GROUPING SETS ((r.model_version), (i.position))
ORDER BY by_model DESC, r.model_version, i.position
