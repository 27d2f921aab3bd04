-- A digest went out (or there was nothing new: $2 is the previous send): schedule the next
-- one and clear the claim and any failure.
UPDATE subscriptions
SET last_sent_at = $2, next_due_at = $3, failures = 0, last_error = NULL, claimed_until = NULL
WHERE user_id = $1
