-- Papers by weighted feedback (save 3, click 1) over the last $1 days.
SELECT p.seq, p.id, p.title,
       sum(CASE e.type WHEN 'save' THEN 3 WHEN 'click' THEN 1 ELSE 0 END)::float8 AS score
FROM events e
JOIN papers p ON p.id = e.paper_id
WHERE e.occurred_at >= now() - make_interval(days => $1)
  AND p.withdrawn_at IS NULL
GROUP BY p.seq, p.id, p.title
HAVING sum(CASE e.type WHEN 'save' THEN 3 WHEN 'click' THEN 1 ELSE 0 END) > 0
ORDER BY score DESC, p.seq DESC
LIMIT $2
