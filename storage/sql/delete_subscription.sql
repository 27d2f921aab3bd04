-- $2: only if the subscription still goes to this address (NULL: whatever the address).
DELETE FROM subscriptions
WHERE user_id = $1 AND ($2::text IS NULL OR email = $2)
RETURNING user_id
