INSERT INTO ranked_lists (request_id, user_id, page_size, items)
VALUES ($1, $2, $3, $4)
