-- Papers by weighted feedback over the last $1 days: saves count $3, clicks $4
-- (ranking.stats.SAVE_WEIGHT and CLICK_WEIGHT, the feed's popularity).
SELECT p.seq, p.id, p.title,
       sum(CASE e.type WHEN 'save' THEN $3::float8 WHEN 'click' THEN $4::float8 ELSE 0 END)::float8 AS score
FROM events e
JOIN papers p ON p.id = e.paper_id
WHERE e.occurred_at >= now() - make_interval(days => $1)
  AND p.withdrawn_at IS NULL
GROUP BY p.seq, p.id, p.title
HAVING sum(CASE e.type WHEN 'save' THEN $3::float8 WHEN 'click' THEN $4::float8 ELSE 0 END) > 0
ORDER BY score DESC, p.seq DESC
LIMIT $2
