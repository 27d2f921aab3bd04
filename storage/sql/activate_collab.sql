INSERT INTO collab_activations (version) VALUES ($1)
