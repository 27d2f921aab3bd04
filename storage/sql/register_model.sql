INSERT INTO models (version, path, feature_names, metrics, manifest)
VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)
