INSERT INTO interests (user_id, topics, paper_ids, topic_vectors, embedding_model)
VALUES ($1, $2, $3, $4, $5)
RETURNING set_at
