"""Restarts: the index comes back from stored vectors, and the embedded database works."""

from __future__ import annotations

import msgspec

from ranking.embedder import Embedder
from service.settings import Settings
from tests.support import running_app, runtime_of, server_folder, topic_papers, wait_indexed


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
