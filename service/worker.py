"""The background job that embeds new and changed papers and adds them to the live index."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ranking.embedder import Embedder, paper_text
from ranking.index import VectorIndex
from service.settings import Settings
from storage.store import Store

log = logging.getLogger(__name__)


def load_embedder(settings: Settings) -> Embedder:
    """The embedding model the settings name, with their threads and batch size."""
    return Embedder(
        settings.resolved_model_path(),
        threads=settings.threads,
        batch_size=settings.embed_batch_size,
    )


class EmbeddingWorker:
    """Embeds papers waiting for a vector, in batches, until none are left.

    `wake()` starts a round at once (after an upsert in this process); otherwise the
    worker looks every `poll_seconds` for papers that other processes added.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        index: VectorIndex,
        batch_size: int = 32,
        poll_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.index = index
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.embedded = 0  # papers embedded by this process, for logs and tests
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def embed_batch(self) -> int:
        """Embed one batch of waiting papers; returns how many were waiting in it."""
        batch = await self.store.pending_embeddings(self.embedder.name, self.batch_size)
        if not batch:
            return 0
        texts = [paper_text(p.title, p.abstract) for p in batch]
        vectors = await asyncio.to_thread(self.embedder.embed, texts)
        live = set(await self.store.save_embeddings(self.embedder.name, batch, vectors))
        rows = [i for i, p in enumerate(batch) if p.seq in live]
        if rows:
            self.index.upsert([batch[i].seq for i in rows], vectors[rows])
        self.embedded += len(batch)
        return len(batch)

    async def run(self) -> None:
        """Loop forever; errors (e.g. a database restart) are logged and retried."""
        while True:
            try:
                n = await self.embed_batch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("embedding batch failed; retrying in %.0f s", self.poll_seconds)
                n = 0
            if n:
                log.info("embedded %d papers (%d since start)", n, self.embedded)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
