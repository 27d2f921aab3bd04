-- Papers shown to the reader at least $3 times in the $2 days before $4 (NULL: now).
SELECT p.seq
FROM impressions i
JOIN papers p ON p.id = i.paper_id
WHERE i.user_id = $1
  AND i.served_at >= coalesce($4::timestamptz, now()) - make_interval(days => $2)
  AND i.served_at < coalesce($4::timestamptz, 'infinity')
GROUP BY p.seq
HAVING count(*) >= $3
