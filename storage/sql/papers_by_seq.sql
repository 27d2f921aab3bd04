-- $2: only live papers (serving: a paper withdrawn through another process may still be in
-- this one's index for a moment) or withdrawn ones too (replaying a feed served earlier).
-- The columns are storage.rows.PaperMeta's fields, in order.
SELECT seq, id, title, length(abstract) AS abstract_chars,
       extract(epoch FROM coalesce(published_at, created_at))::float8 AS published_epoch,
       coalesce(authors[1], '') AS first_author
FROM papers
WHERE seq = ANY($1::bigint[]) AND (withdrawn_at IS NULL OR NOT $2::boolean)
