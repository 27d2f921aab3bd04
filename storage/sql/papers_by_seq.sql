SELECT seq, id, title, length(abstract) AS abstract_chars,
       extract(epoch FROM coalesce(published_at, created_at))::float8 AS published_epoch,
       coalesce(authors[1], '') AS first_author
FROM papers
WHERE seq = ANY($1::bigint[])
