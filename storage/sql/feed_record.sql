SELECT f.user_id, f.served_at, f.stats_version, f.model_version, f.surface,
       coalesce(json_object_agg(i.paper_id, i.features) FILTER (WHERE i.paper_id IS NOT NULL), '{}')::text
           AS features
FROM feeds f
LEFT JOIN impressions i ON i.request_id = f.request_id
WHERE f.request_id = $1
GROUP BY f.request_id
