INSERT INTO feeds (request_id, user_id, served_at, model_version, stats_version, feature_names, candidates, surface)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
