-- An event's paper is checked once, by the insert itself (storage/sql/insert_staged_events.sql
-- joins the papers and stores only the events naming one), and papers are never deleted (a
-- withdrawn paper keeps its row). The foreign key checked each event's paper a second
-- time, row by row, and locked that paper's row (FOR KEY SHARE). At 1M papers and 10M
-- events it cost PostgreSQL 77-95 µs of CPU per event stored instead of 45-54 µs, and
-- halved the events stored per second (bench/events_pg.py; README, "Events without a
-- foreign key").
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_paper_id_fkey;
