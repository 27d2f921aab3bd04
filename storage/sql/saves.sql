-- Current saves (the latest of save/unsave per reader and paper) of live papers: what the
-- collaborative models are fitted on. Readers are numbered 1, 2, ... in id order.
WITH latest AS (
    SELECT DISTINCT ON (e.user_id, e.paper_id) e.user_id, e.paper_id, e.type
    FROM events e
    WHERE e.type IN ('save', 'unsave')
    ORDER BY e.user_id, e.paper_id, e.occurred_at DESC
)
SELECT dense_rank() OVER (ORDER BY l.user_id) AS reader, p.seq AS paper
FROM latest l
JOIN papers p ON p.id = l.paper_id
WHERE l.type = 'save' AND p.withdrawn_at IS NULL
