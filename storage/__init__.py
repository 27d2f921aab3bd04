"""PostgreSQL: the one store module (queries in `sql/`, numbered migrations in
`migrations/`), the model registry, and the feed inputs that serving and offline jobs share.
No web stack: offline jobs import it without Litestar."""
