-- $1: jsonb array of papers. Returns the rows that were inserted or changed. A change
-- records its transaction (changed_xid): servers read the paper's facts again (IndexFollower).
INSERT INTO papers AS p (id, title, abstract, authors, categories, published_at, url, content_hash)
SELECT r.id, r.title, r.abstract,
       ARRAY(SELECT jsonb_array_elements_text(r.authors)),
       ARRAY(SELECT jsonb_array_elements_text(r.categories)),
       r.published_at, r.url, r.content_hash
FROM jsonb_to_recordset($1::jsonb) AS r (
    id text, title text, abstract text, authors jsonb, categories jsonb,
    published_at timestamptz, url text, content_hash text
)
ON CONFLICT (id) DO UPDATE
SET title = EXCLUDED.title,
    abstract = EXCLUDED.abstract,
    authors = EXCLUDED.authors,
    categories = EXCLUDED.categories,
    published_at = EXCLUDED.published_at,
    url = EXCLUDED.url,
    content_hash = EXCLUDED.content_hash,
    updated_at = now(),
    changed_xid = pg_current_xact_id()
WHERE p.withdrawn_at IS NULL
  AND (p.title, p.abstract, p.authors, p.categories, p.published_at, p.url)
      IS DISTINCT FROM
      (EXCLUDED.title, EXCLUDED.abstract, EXCLUDED.authors, EXCLUDED.categories,
       EXCLUDED.published_at, EXCLUDED.url)
RETURNING p.id, (p.xmax = 0) AS inserted
