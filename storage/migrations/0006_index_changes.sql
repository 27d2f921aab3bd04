-- Every process keeps its FAISS index in step with the stored vectors by reading the papers
-- changed since it last looked. A change that stores or withdraws a vector records the id of
-- its transaction; a reader asks for changes from the oldest transaction still running when
-- it last looked (pg_snapshot_xmin), so a change committed late, out of id order, is never
-- missed (a sequence value would be: it is taken before commit). Older rows stay NULL: a
-- process that starts reads every stored vector anyway.
ALTER TABLE papers ADD COLUMN changed_xid xid8;

CREATE INDEX papers_changed ON papers (changed_xid) WHERE changed_xid IS NOT NULL;
