"""The benchmark's generated world (bench/world.py): written into a real PostgreSQL through
the migrations, with vectors that a starting server loads without embedding anything."""

from __future__ import annotations

import asyncpg
import numpy as np

from bench import world
from ranking.embedder import Embedder, model_identity
from service.settings import load_settings
from storage.database import migrations
from storage.store import Store

SCALE = world.Scale(papers=600, readers=60, events=3_000, topics=8)


def test_the_world_is_written_under_the_servers_embedding_model(embedder: Embedder) -> None:
    # The name and size the world (and `paperfeed fit`) use are the ones the server asks for.
    assert model_identity(load_settings({}).resolved_model_path()) == (
        embedder.name,
        embedder.dim,
    )


async def test_a_tiny_world_has_its_counts_and_loadable_vectors(database_url: str) -> None:
    name, dim = "bench-model", 384
    built = await world.generate(database_url, SCALE, model=name, dim=dim, seed=1, progress=False)
    assert (built.papers, built.events) == (600, 3_000)
    assert built.saves + built.clicks == 3_000 and 0 < built.saves < built.clicks
    assert 0 < built.readers <= 60

    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM papers") == 600
        assert await conn.fetchval("SELECT count(*) FROM events") == 3_000
        assert await conn.fetchval("SELECT count(DISTINCT user_id) FROM events") == built.readers
        # Every event names a stored paper, after its publication and not in the future.
        assert not await conn.fetchval(
            """SELECT count(*) FROM events e JOIN papers p ON p.id = e.paper_id
               WHERE e.occurred_at < p.published_at OR e.occurred_at > now()"""
        )
        # Each event carries its paper's index key, as the server's own insert writes it.
        assert not await conn.fetchval(
            """SELECT count(*) FROM events e JOIN papers p ON p.id = e.paper_id
               WHERE e.paper_seq IS DISTINCT FROM p.seq"""
        )
        # Skewed: the busiest reader and the most popular paper stand far above the mean.
        top_reader = await conn.fetchval(
            "SELECT max(n) FROM (SELECT count(*) n FROM events GROUP BY user_id) t"
        )
        top_paper = await conn.fetchval(
            "SELECT max(n) FROM (SELECT count(*) n FROM events GROUP BY paper_id) t"
        )
        assert top_reader > 4 * 3_000 / 60 and top_paper > 10 * 3_000 / 600
        # The secondary indexes dropped for the load are all back.
        indexes = {r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes")}
        assert {"events_user", "events_recent", "events_paper", "events_received"} <= indexes
        applied = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert applied == len(migrations())
    finally:
        await conn.close()

    store = await Store.connect(database_url, max_size=2)
    try:
        assert await store.catalogue_counts(name) == (600, 0)  # nothing waits for embedding
        keys, vectors = [], []
        async for k, v, _ in store.stored_embeddings(name, dim):
            keys.extend(k)
            vectors.append(v)
    finally:
        await store.close()
    assert len(keys) == 600
    stacked = np.concatenate(vectors)
    np.testing.assert_allclose(np.linalg.norm(stacked, axis=1), 1.0, atol=1e-5)
    # Clustered: a paper's nearest other paper is far closer than a random one.
    sims = stacked @ stacked.T
    np.fill_diagonal(sims, -1)
    assert np.median(sims.max(axis=1)) > np.median(sims) + 0.3


def test_zipf_ranks_stay_in_range_and_favour_the_top() -> None:
    rng = np.random.default_rng(0)
    n = np.full(100_000, 1000)
    ranks = world.zipf_rank(n, 0.8, rng.random(len(n)))
    assert ranks.min() == 0 and ranks.max() < 1000
    assert (ranks < 10).mean() > 5 * (ranks >= 990).mean()
