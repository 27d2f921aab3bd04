SELECT id FROM papers WHERE id = ANY($1::text[])
