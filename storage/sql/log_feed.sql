-- A served feed in one statement (one round trip, atomic without BEGIN and COMMIT): its
-- row, its first page's impressions and the rest of its ranked list for later pages.
-- $1-$10 as in insert_impressions.sql (the same select); then the feed's $11 served_at,
-- $12 model_version, $13 stats_version, $14 feature_names, $15 candidates, $16 surface,
-- and the kept list's $17 page_size and $18 items (NULL: nothing kept). The impressions'
-- and the list's references to the feed are checked at the statement's end, when the
-- feed's row is there.
WITH feed AS (
    INSERT INTO feeds (request_id, user_id, served_at, model_version, stats_version,
                       feature_names, candidates, surface)
    VALUES ($1, $2, $11, $12, $13, $14, $15, $16)
), shown AS (
    INSERT INTO impressions (request_id, position, user_id, paper_id, score, features,
                             propensity, explored, page)
    SELECT $1, s.position, $2, s.paper_id, s.score,
           ($6::real[])[(s.n - 1) * $10::integer + 1 : s.n * $10::integer],
           s.propensity, s.explored, s.page
    FROM unnest($3::integer[], $4::text[], $5::real[], $7::real[], $8::boolean[],
                $9::integer[])
         WITH ORDINALITY AS s (position, paper_id, score, propensity, explored, page, n)
), kept AS (
    INSERT INTO ranked_lists (request_id, user_id, page_size, items)
    SELECT $1, $2, $17, $18::bytea
    WHERE $18::bytea IS NOT NULL
)
SELECT 1
