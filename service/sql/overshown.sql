-- Papers shown to the reader at least $3 times in the last $2 days.
SELECT p.seq
FROM impressions i
JOIN papers p ON p.id = i.paper_id
WHERE i.user_id = $1 AND i.served_at >= now() - make_interval(days => $2)
GROUP BY p.seq
HAVING count(*) >= $3
