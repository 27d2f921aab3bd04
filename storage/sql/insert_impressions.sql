-- A page of a feed's impressions in one statement, one array element per paper shown
-- (one statement instead of one per row: a feed logs twenty). $6: every row's features
-- one after another, $10 of them each. A retried page of a feed (same request_id and
-- positions) changes nothing.
INSERT INTO impressions (request_id, position, user_id, paper_id, score, features, propensity, explored, page)
SELECT $1, s.position, $2, s.paper_id, s.score,
       ($6::real[])[(s.n - 1) * $10::integer + 1 : s.n * $10::integer],
       s.propensity, s.explored, s.page
FROM unnest($3::integer[], $4::text[], $5::real[], $7::real[], $8::boolean[], $9::integer[])
     WITH ORDINALITY AS s (position, paper_id, score, propensity, explored, page, n)
ON CONFLICT (request_id, position) DO NOTHING
