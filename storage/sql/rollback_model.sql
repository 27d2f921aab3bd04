-- Undo the newest activation in force; returns its id, or nothing if there is none.
UPDATE model_activations SET rolled_back_at = now()
WHERE id = (SELECT id FROM model_activations WHERE rolled_back_at IS NULL ORDER BY id DESC LIMIT 1)
RETURNING id
