SELECT m.version, m.path, m.created_at, m.metrics::text AS metrics,
       coalesce(m.manifest -> 'data', '{}'::jsonb)::text AS data_window
FROM models m
ORDER BY m.created_at DESC, m.version DESC
