-- Indexes for the researcher console's live numbers (GET /v1/admin/metrics/summary), which
-- read the feeds served and the events received in the last hours; training reads feeds by
-- time range too (`paperfeed train`, and each partition of Dask training).
CREATE INDEX feeds_served ON feeds (served_at);
CREATE INDEX events_received ON events (received_at);
