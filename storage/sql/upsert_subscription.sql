-- Create or replace a reader's subscription; delivery history (last_sent_at) is kept.
INSERT INTO subscriptions (user_id, email, frequency, max_items, send_hour_utc, next_due_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (user_id) DO UPDATE
SET email = EXCLUDED.email,
    frequency = EXCLUDED.frequency,
    max_items = EXCLUDED.max_items,
    send_hour_utc = EXCLUDED.send_hour_utc,
    next_due_at = EXCLUDED.next_due_at,
    updated_at = now()
RETURNING *
