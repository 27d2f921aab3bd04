INSERT INTO model_activations (version, reason) VALUES ($1, $2)
