SELECT set_at, topics, paper_ids FROM interests WHERE user_id = $1 ORDER BY set_at
