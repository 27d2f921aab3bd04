-- Papers published in [$1, $5) (date of publication, or of arrival when unknown, as
-- fresh.sql), by weighted feedback so far (saves $3, clicks $4), then newest first.
SELECT p.seq, p.id, p.title,
       coalesce(f.score, 0)::float8 AS score,
       coalesce(f.saves, 0)::int AS saves,
       coalesce(f.clicks, 0)::int AS clicks
FROM papers p
LEFT JOIN LATERAL (
    SELECT sum(CASE e.type WHEN 'save' THEN $3::float8 WHEN 'click' THEN $4::float8 ELSE 0 END) AS score,
           count(*) FILTER (WHERE e.type = 'save') AS saves,
           count(*) FILTER (WHERE e.type = 'click') AS clicks
    FROM events e
    WHERE e.paper_id = p.id
) f ON true
WHERE coalesce(p.published_at, p.created_at) >= $1
  AND coalesce(p.published_at, p.created_at) < $5
  AND p.withdrawn_at IS NULL
ORDER BY score DESC, coalesce(p.published_at, p.created_at) DESC, p.seq DESC
LIMIT $2
