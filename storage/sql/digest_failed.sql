-- A delivery failed: still due (next_due_at unchanged), so the next run retries it.
UPDATE subscriptions
SET failures = failures + 1, last_error = $2, claimed_until = NULL
WHERE user_id = $1
