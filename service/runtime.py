"""Everything a running server holds, created by the app's lifespan and injected into handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import faiss
from litestar.di import NamedDependency

from ranking.embedder import Embedder
from ranking.index import VectorIndex
from ranking.model import HeuristicRanker, Ranker
from service.database import database_url, migrate
from service.registry import ModelWatcher
from service.settings import Settings
from service.store import Store
from service.worker import EmbeddingWorker

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    embedder: Embedder
    index: VectorIndex
    worker: EmbeddingWorker
    # Replaced whole by the model watcher; a request reads it once (see service.feed).
    ranker: Ranker
    watcher: ModelWatcher | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def swap_ranker(self, ranker: Ranker) -> None:
        self.ranker = ranker


# How handlers ask for the runtime: `runtime: RuntimeDep`.
RuntimeDep = NamedDependency[Runtime]


def load_embedder(settings: Settings) -> Embedder:
    return Embedder(
        settings.resolved_model_path(),
        threads=settings.threads,
        batch_size=settings.embed_batch_size,
    )


async def load_index(store: Store, embedder: Embedder) -> VectorIndex:
    """Rebuild the index from vectors stored in PostgreSQL (no re-embedding)."""
    index = VectorIndex(embedder.dim)
    async for keys, vectors in store.stored_embeddings(embedder.name, embedder.dim):
        index.upsert(keys, vectors)
    return index


async def start(settings: Settings, embedder: Embedder | None = None) -> Runtime:
    """Connect (starting an embedded PostgreSQL if no URL is set), migrate, load the
    embedding model and the index, and start the embedding worker."""
    faiss.omp_set_num_threads(settings.threads)
    url = await asyncio.to_thread(database_url, settings.database_url, settings.data_dir)
    await migrate(url)
    store = await Store.connect(url, max_size=settings.db_pool_size)
    try:
        if embedder is None:
            embedder = await asyncio.to_thread(load_embedder, settings)
        index = await load_index(store, embedder)
    except BaseException:
        await store.close()
        raise
    log.info("index loaded: %d papers (model %s)", len(index), embedder.name)
    worker = EmbeddingWorker(
        store, embedder, index, settings.embed_batch_size, settings.embed_poll_seconds
    )
    runtime = Runtime(settings, store, embedder, index, worker, HeuristicRanker())
    runtime.watcher = ModelWatcher(store, runtime.swap_ranker, settings.model_poll_seconds)
    await runtime.watcher.check()
    runtime.tasks.append(asyncio.create_task(worker.run(), name="embedding-worker"))
    runtime.tasks.append(asyncio.create_task(runtime.watcher.run(), name="model-watcher"))
    return runtime


async def stop(runtime: Runtime) -> None:
    for task in runtime.tasks:
        task.cancel()
    for task in runtime.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await runtime.store.close()
