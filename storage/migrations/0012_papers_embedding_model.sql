-- Live papers by the model their vector was made with, for the embedding worker's poll
-- (storage/sql/pending_embeddings.sql): its test "a vector of another model than the
-- server's" used no index, so every poll read every paper, waiting or not (366 ms at
-- 1M papers, once per PAPERFEED_EMBED_POLL_SECONDS).
CREATE INDEX papers_embedding_model ON papers (embedding_model, seq) WHERE withdrawn_at IS NULL;
