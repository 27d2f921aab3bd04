INSERT INTO impressions (request_id, position, user_id, paper_id, score, features)
VALUES ($1, $2, $3, $4, $5, $6)
