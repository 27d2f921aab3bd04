-- What changed in paper_counts.sql's counts since the refresh that ran at $3 (its now())
-- and settled the rows received before $2 (its mark); $1: seconds to settle, as there.
-- Settled part: the rows received from $2 to this refresh's mark, counted in the current
-- windows, less the rows settled before that have since left a window (by occurred_at or
-- served_at, through their indexes). The other part: the rows received from the mark on,
-- counted in full. Same columns as paper_counts.sql (and its note on the windows' ends);
-- a paper may have several rows.
WITH counted AS (
    SELECT e.paper_id, e.received_at < now() - make_interval(secs => $1) AS settled,
           count(*) FILTER (
               WHERE e.type = 'click' AND e.occurred_at >= now() - interval '7 days'
           ) AS clicks_7d,
           count(*) FILTER (
               WHERE e.type = 'save' AND e.occurred_at >= now() - interval '7 days'
           ) AS saves_7d,
           count(*) FILTER (WHERE e.type = 'click') AS clicks_30d,
           count(*) FILTER (WHERE e.type = 'save') AS saves_30d,
           0 AS impressions_30d
    FROM events e
    WHERE e.received_at >= $2
      AND e.occurred_at >= now() - interval '30 days' AND e.type IN ('click', 'save')
    GROUP BY 1, 2
    UNION ALL
    SELECT e.paper_id, true, 0, 0,
           -count(*) FILTER (WHERE e.type = 'click'), -count(*) FILTER (WHERE e.type = 'save'), 0
    FROM events e
    WHERE e.received_at < $2
      AND e.occurred_at >= $3::timestamptz - interval '30 days'
      AND e.occurred_at < now() - interval '30 days'
      AND e.type IN ('click', 'save')
    GROUP BY 1
    UNION ALL
    SELECT e.paper_id, true,
           -count(*) FILTER (WHERE e.type = 'click'), -count(*) FILTER (WHERE e.type = 'save'),
           0, 0, 0
    FROM events e
    WHERE e.received_at < $2
      AND e.occurred_at >= $3::timestamptz - interval '7 days'
      AND e.occurred_at < now() - interval '7 days'
      AND e.type IN ('click', 'save')
    GROUP BY 1
    UNION ALL
    SELECT i.paper_id, i.served_at < now() - make_interval(secs => $1), 0, 0, 0, 0, count(*)
    FROM impressions i
    WHERE i.served_at >= $2 AND i.served_at >= now() - interval '30 days'
    GROUP BY 1, 2
    UNION ALL
    SELECT i.paper_id, true, 0, 0, 0, 0, -count(*)
    FROM impressions i
    WHERE i.served_at < $2
      AND i.served_at >= $3::timestamptz - interval '30 days'
      AND i.served_at < now() - interval '30 days'
    GROUP BY 1
)
SELECT c.settled,
       string_agg(int8send(p.seq), ''::bytea) AS keys,
       string_agg(int4send(c.clicks_7d::integer), ''::bytea) AS clicks_7d,
       string_agg(int4send(c.saves_7d::integer), ''::bytea) AS saves_7d,
       string_agg(int4send(c.clicks_30d::integer), ''::bytea) AS clicks_30d,
       string_agg(int4send(c.saves_30d::integer), ''::bytea) AS saves_30d,
       string_agg(int4send(c.impressions_30d::integer), ''::bytea) AS impressions_30d
FROM counted c
JOIN papers p ON p.id = c.paper_id
GROUP BY c.settled
