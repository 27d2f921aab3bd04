-- A retried page of a feed (same request_id and positions) changes nothing.
INSERT INTO impressions (request_id, position, user_id, paper_id, score, features, propensity, explored, page)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (request_id, position) DO NOTHING
