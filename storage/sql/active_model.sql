-- The newest activation not rolled back; no row or version NULL: the heuristic.
SELECT a.id, a.version, m.path
FROM model_activations a
LEFT JOIN models m ON m.version = a.version
WHERE a.rolled_back_at IS NULL
ORDER BY a.id DESC
LIMIT 1
