INSERT INTO collab_models (version, path, manifest) VALUES ($1, $2, $3::jsonb)
