-- Papers shown to the reader at least $3 times in the $2 days before $4 (NULL: now).
-- Counted by paper id on the impressions index first, then only the papers shown that
-- often joined to their keys: a reader shown 580 impressions in the window needs about a
-- hundred lookups of papers instead of 580.
SELECT p.seq
FROM (
    SELECT paper_id
    FROM impressions
    WHERE user_id = $1
      AND served_at >= coalesce($4::timestamptz, now()) - make_interval(days => $2)
      AND served_at < coalesce($4::timestamptz, 'infinity')
    GROUP BY paper_id
    HAVING count(*) >= $3
) i
JOIN papers p ON p.id = i.paper_id
