"""Pure ranking code: embeddings, the vector index, profiles, candidates, features, models.

Nothing here reads the environment, touches the network or knows about HTTP or SQL.
"""
