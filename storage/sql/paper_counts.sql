-- Per paper: clicks and saves over the last 7 and 30 days, impressions over 30 (a paper
-- may have two rows, one of events and one of impressions: the caller sums them). The
-- servers' live statistics, counted in full at start, on request and every
-- STATS_RECOUNT_SECONDS; paper_counts_since.sql counts what changed in between.
-- $1: seconds to settle. Rows received (events) or served (impressions) before
-- now() - $1 are settled: kept, and updated incrementally; later ones are counted anew at
-- every refresh, because a transaction that began before then may not have committed yet.
-- One row per part (settled or not), each column its papers' values as one bytea of
-- big-endian integers (keys 64-bit, counts 32-bit): a full count at 1M papers is millions
-- of values, which as arrays the server would decode into as many Python objects. The
-- windows' ends are written out in each condition, not named once in a CTE: the planner
-- estimates a range only from a value it can see.
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
    WHERE e.occurred_at >= now() - interval '30 days' AND e.type IN ('click', 'save')
    GROUP BY 1, 2
    UNION ALL
    SELECT i.paper_id, i.served_at < now() - make_interval(secs => $1), 0, 0, 0, 0, count(*)
    FROM impressions i
    WHERE i.served_at >= now() - interval '30 days'
    GROUP BY 1, 2
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
