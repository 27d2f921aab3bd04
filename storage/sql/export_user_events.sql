SELECT event_id, paper_id, type, occurred_at, received_at, request_id
FROM events
WHERE user_id = $1
ORDER BY occurred_at, event_id
