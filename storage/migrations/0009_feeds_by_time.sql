-- Training reads feeds by time range (`paperfeed train`, and each partition of Dask
-- training reads its own range), so find them by served_at without scanning every feed.
CREATE INDEX feeds_served_at ON feeds (served_at);
