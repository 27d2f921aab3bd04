-- Impressions of feeds served in [$1, $2), each labelled with the best feedback on the same
-- paper that names the same feed (request_id) within $3 hours: save $4, click $5, dismiss $6.
-- With $7 > 1, only the feeds of readers whose hash is $8 modulo $7 (one part of $7; a
-- reader's feeds stay together and every part spans the whole time range).
SELECT i.request_id, f.served_at, i.position, i.paper_id, i.features, i.propensity, i.explored,
       f.feature_names, f.model_version,
       coalesce(max(CASE e.type WHEN 'save' THEN $4 WHEN 'click' THEN $5 WHEN 'dismiss' THEN $6
                                ELSE 0 END), 0)::int AS label
FROM feeds f
JOIN impressions i ON i.request_id = f.request_id
LEFT JOIN events e
       ON e.request_id = i.request_id
      AND e.paper_id = i.paper_id
      AND e.occurred_at >= f.served_at - interval '5 minutes'
      AND e.occurred_at < f.served_at + make_interval(hours => $3)
WHERE f.served_at >= $1 AND f.served_at < $2
  AND ($7 <= 1 OR mod(hashtext(f.user_id)::bigint + 2147483648, $7) = $8)
GROUP BY i.request_id, f.served_at, i.position, i.paper_id, i.features, i.propensity, i.explored,
         f.feature_names, f.model_version
ORDER BY f.served_at, i.request_id, i.position
