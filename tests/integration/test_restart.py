"""Restarts: the index comes back from stored vectors, or from the content index of the
last fit and the changes since, and the embedded database works."""

from __future__ import annotations

import msgspec
import numpy as np

from ranking.embedder import Embedder
from service.settings import Settings
from tests.support import (
    event,
    fit_collab,
    running_app,
    runtime_of,
    server_folder,
    side_store,
    topic_papers,
    wait_indexed,
)


async def test_index_is_rebuilt_from_stored_vectors_without_embedding(
    settings: Settings, embedder: Embedder
) -> None:
    async with running_app(settings, embedder) as first:
        await first.post("/v1/papers", json={"papers": topic_papers()})
        await wait_indexed(first)
        await first.delete("/v1/papers/rl-0")
        before = (await first.get("/v1/search?q=robot walking policy&limit=5")).json()
        assert runtime_of(first).worker.embedded == 12

    async with running_app(settings, embedder) as second:
        ready = (await second.get("/ready")).json()
        assert (ready["papers"], ready["indexed"], ready["pending_embeddings"]) == (11, 11, 0)
        after = (await second.get("/v1/search?q=robot walking policy&limit=5")).json()
        assert after == before
        assert runtime_of(second).worker.embedded == 0  # nothing was embedded again


async def test_papers_wait_for_a_vector_when_theirs_is_missing_stale_or_of_another_model(
    settings: Settings, embedder: Embedder
) -> None:
    async with running_app(settings, embedder) as client:
        await client.post("/v1/papers", json={"papers": topic_papers()[:4]})
        await wait_indexed(client)
        await client.delete(f"/v1/papers/{topic_papers()[3]['id']}")
    assert settings.database_url is not None
    async with side_store(settings.database_url) as store:
        seqs = [r["seq"] for r in await store.pool.fetch("SELECT seq FROM papers ORDER BY seq")]
        assert await store.pending_embeddings(embedder.name, 10) == []
        # Another server's model (sorting before or after this one's): every live paper,
        # oldest first, as many as asked for.
        for other in ("a-model", "zz-model"):
            waiting = await store.pending_embeddings(other, 2)
            assert [p.seq for p in waiting] == seqs[:2]
            assert [p.seq for p in await store.pending_embeddings(other, 10)] == seqs[:3]
        await store.pool.execute(
            "UPDATE papers SET content_hash = 'changed' WHERE seq = $1", seqs[1]
        )
        await store.pool.execute("UPDATE papers SET embedding_model = NULL WHERE seq = $1", seqs[2])
        waiting = await store.pending_embeddings(embedder.name, 10)
        assert [p.seq for p in waiting] == seqs[1:3]
        assert waiting[0].content_hash == "changed"


async def test_embedded_database_when_no_url_is_set(settings: Settings, embedder: Embedder) -> None:
    data_dir = server_folder() / "data"
    own = msgspec.structs.replace(settings, database_url=None, data_dir=data_dir)
    async with running_app(own, embedder, expect_database_url=False) as client:
        await client.post("/v1/papers", json={"papers": topic_papers()[:2]})
        await wait_indexed(client)
        assert (await client.get("/ready")).json()["papers"] == 2
    assert (data_dir / "postgres" / "PG_VERSION").is_file()
    async with running_app(own, embedder, expect_database_url=False) as again:
        assert (await again.get("/ready")).json()["indexed"] == 2


async def test_a_server_started_after_the_fit_maps_its_content_index_and_follows_later_changes(
    settings: Settings, embedder: Embedder
) -> None:
    papers = topic_papers()
    async with running_app(settings, embedder) as first:
        await first.post("/v1/papers", json={"papers": papers[:8]})
        await wait_indexed(first)
        saves = [event(f"s{i}", f"reader{i}", papers[i]["id"]) for i in range(3)]
        await first.post("/v1/events", json={"events": saves})
        await fit_collab(first)  # `paperfeed fit`: the artifact holds the 8 papers' index
        # After the fit: 4 new papers, one withdrawn, one rewritten (a new vector).
        await first.post("/v1/papers", json={"papers": papers[8:]})
        await first.delete(f"/v1/papers/{papers[0]['id']}")
        rewritten = {**papers[1], "abstract": "Quantum error correction with surface codes."}
        await first.post("/v1/papers", json={"papers": [rewritten]})
        await wait_indexed(first)
        queries = ["robot walking policy", "surface codes", papers[0]["title"]]
        before = [(await first.get(f"/v1/search?q={q}&limit=5")).json() for q in queries]

    async with running_app(settings, embedder) as second:
        index = runtime_of(second).index
        assert index.snapshot is not None and len(index.snapshot.keys) == 8
        assert isinstance(index.snapshot.keys.base, np.memmap)  # mapped, not read
        ready = (await second.get("/ready")).json()
        assert (ready["papers"], ready["indexed"], ready["pending_embeddings"]) == (11, 11, 0)
        # Only what changed after the fit is held in this process: 4 new, 1 rewritten.
        assert index.in_memory == 5
        after = [(await second.get(f"/v1/search?q={q}&limit=5")).json() for q in queries]
        assert after == before
        assert runtime_of(second).worker.embedded == 0
