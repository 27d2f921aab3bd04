SELECT id FROM papers WHERE id = ANY($1::text[]) AND withdrawn_at IS NOT NULL
