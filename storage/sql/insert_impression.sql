INSERT INTO impressions (request_id, position, user_id, paper_id, score, features, propensity, explored)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
