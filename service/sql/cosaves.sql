-- For each paper, the $1 papers most often saved by the same readers (current saves only).
WITH latest AS (
    SELECT DISTINCT ON (e.user_id, e.paper_id) e.user_id, e.paper_id, e.type
    FROM events e
    WHERE e.type IN ('save', 'unsave')
    ORDER BY e.user_id, e.paper_id, e.occurred_at DESC
), saved AS (
    SELECT l.user_id, p.seq
    FROM latest l
    JOIN papers p ON p.id = l.paper_id
    WHERE l.type = 'save' AND p.withdrawn_at IS NULL
), pairs AS (
    SELECT a.seq AS paper, b.seq AS neighbour, count(*) AS together
    FROM saved a
    JOIN saved b ON a.user_id = b.user_id AND a.seq <> b.seq
    GROUP BY a.seq, b.seq
)
SELECT paper, neighbour, together
FROM (
    SELECT *, row_number() OVER (PARTITION BY paper ORDER BY together DESC, neighbour) AS n
    FROM pairs
) ranked
WHERE n <= $1
