-- The newest activation of a collaborative-model artifact; no row: none is active.
SELECT a.id, a.version, m.path
FROM collab_activations a
JOIN collab_models m ON m.version = a.version
ORDER BY a.id DESC
LIMIT 1
