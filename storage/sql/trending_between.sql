-- Papers by weighted feedback in [$1, $5): saves count $3, clicks $4 (as popular.sql),
-- best first, with the counts.
SELECT p.seq, p.id, p.title,
       sum(CASE e.type WHEN 'save' THEN $3::float8 WHEN 'click' THEN $4::float8 ELSE 0 END)::float8 AS score,
       count(*) FILTER (WHERE e.type = 'save')::int AS saves,
       count(*) FILTER (WHERE e.type = 'click')::int AS clicks
FROM events e
JOIN papers p ON p.id = e.paper_id
WHERE e.occurred_at >= $1 AND e.occurred_at < $5
  AND p.withdrawn_at IS NULL
GROUP BY p.seq, p.id, p.title
HAVING sum(CASE e.type WHEN 'save' THEN $3::float8 WHEN 'click' THEN $4::float8 ELSE 0 END) > 0
ORDER BY score DESC, p.seq DESC
LIMIT $2
