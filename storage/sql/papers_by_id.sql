SELECT seq, id, title, abstract, authors, categories, published_at, url,
       (embedded_hash IS NOT DISTINCT FROM content_hash AND embedding IS NOT NULL) AS embedded,
       (withdrawn_at IS NOT NULL) AS withdrawn
FROM papers
WHERE id = ANY($1::text[])
