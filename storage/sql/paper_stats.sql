-- Feedback and exposure per live paper: clicks and saves over 7 and 30 days, impressions over 30.
WITH feedback AS (
    SELECT p.seq,
           count(*) FILTER (WHERE e.type = 'click' AND e.occurred_at >= now() - interval '7 days') AS clicks_7d,
           count(*) FILTER (WHERE e.type = 'save' AND e.occurred_at >= now() - interval '7 days') AS saves_7d,
           count(*) FILTER (WHERE e.type = 'click') AS clicks_30d,
           count(*) FILTER (WHERE e.type = 'save') AS saves_30d
    FROM events e
    JOIN papers p ON p.id = e.paper_id
    WHERE e.occurred_at >= now() - interval '30 days' AND p.withdrawn_at IS NULL
    GROUP BY p.seq
), exposure AS (
    SELECT p.seq, count(*) AS impressions_30d
    FROM impressions i
    JOIN papers p ON p.id = i.paper_id
    WHERE i.served_at >= now() - interval '30 days' AND p.withdrawn_at IS NULL
    GROUP BY p.seq
)
SELECT coalesce(f.seq, x.seq) AS seq,
       coalesce(f.clicks_7d, 0) AS clicks_7d,
       coalesce(f.saves_7d, 0) AS saves_7d,
       coalesce(f.clicks_30d, 0) AS clicks_30d,
       coalesce(f.saves_30d, 0) AS saves_30d,
       coalesce(x.impressions_30d, 0) AS impressions_30d
FROM feedback f
FULL JOIN exposure x ON x.seq = f.seq
