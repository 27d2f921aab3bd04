"""Background jobs that keep a process's index current: the embedding worker (in the one
process holding the embedding claim) and the index follower (in every process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np

from ranking.catalogue import FactCache
from ranking.embedder import Embedder, paper_text
from ranking.index import VectorIndex
from service.settings import Settings
from storage.claim import EmbeddingClaim
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
    """Embeds papers waiting for a vector, a window at a time, while this process holds
    the embedding claim; otherwise asks for the claim every `poll_seconds`.

    A window holds up to `window` papers (many batches), so that sorting by length leaves
    little padding; while embedding, the model uses `threads` threads, and the process's
    usual count again once the claim is lost. `wake()` starts a round at once (after an
    upsert in this process).
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        index: VectorIndex,
        claim: EmbeddingClaim,
        *,
        window: int = 512,
        poll_seconds: float = 2.0,
        threads: int = 1,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.index = index
        self.claim = claim
        self.window = window
        self.poll_seconds = poll_seconds
        self.threads = threads
        self._idle_threads = embedder.threads
        self.embedded = 0  # papers embedded by this process, for logs and tests
        # key -> transaction of each vector this process stored and indexed itself: the
        # follower skips those and anything older for the same key (it forgets the entries
        # behind its horizon). Saves under one claim are sequential, so a later one has a
        # larger transaction id.
        self.own: dict[int, int] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def claimed(self) -> bool:
        """Take (or keep) the claim; True while this process holds it."""
        was = self.claim.held
        held = await self.claim.take()
        if held and not was:
            self.embedder.threads = self.threads
        return held

    async def embed_window(self) -> int:
        """Embed one window of waiting papers (holding the claim); returns how many."""
        batch = await self.store.pending_embeddings(self.embedder.name, self.window)
        if not batch:
            return 0
        texts = [paper_text(p.title, p.abstract) for p in batch]
        vectors = await asyncio.to_thread(self.embedder.embed, texts)
        saved = await self.claim.save_embeddings(self.embedder.name, batch, vectors)
        live = set(saved.live)
        rows = [i for i, p in enumerate(batch) if p.seq in live]
        if rows:
            self.index.upsert([batch[i].seq for i in rows], vectors[rows])
            self.own.update((batch[i].seq, saved.xid) for i in rows)
        self.embedded += len(batch)
        return len(batch)

    async def release(self) -> None:
        await self.claim.release()
        self.embedder.threads = self._idle_threads

    async def run(self) -> None:
        """Loop forever; errors (e.g. a database restart) are logged and retried, and the
        claim is given up on any error, to be taken again by whoever asks first."""
        while True:
            try:
                n = await self.embed_window() if await self.claimed() else 0
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("embedding failed; retrying in %.0f s", self.poll_seconds)
                await self.release()
                n = 0
            if n:
                log.info("embedded %d papers (%d since start)", n, self.embedded)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()


class IndexFollower:
    """Keeps the index in step with the vectors stored in PostgreSQL: adds the vectors
    another process stored and drops papers withdrawn through any process, every
    `poll_seconds`, from `horizon` on (taken before the index was loaded); and has `facts`
    read again for every paper that changed."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        index: VectorIndex,
        horizon: int,
        *,
        poll_seconds: float = 2.0,
        own: dict[int, int] | None = None,
        facts: FactCache | None = None,
    ) -> None:
        self.store = store
        self.model = embedder.name
        self.dim = embedder.dim
        self.index = index
        self.horizon = horizon
        self.poll_seconds = poll_seconds
        self.own = own if own is not None else {}
        self.facts = facts if facts is not None else FactCache()
        self.followed = 0  # vectors added from other processes, for logs and tests

    async def catch_up(self) -> int:
        """Apply the changes since the horizon; returns how many papers changed."""
        changes = await self.store.index_changes(self.model, self.dim, self.horizon)
        # Not what this process indexed itself: a change read before its own newer save of
        # the same paper must not undo that save.
        theirs = np.array(
            [
                self.own.get(key, -1) < xid
                for key, xid in zip(changes.keys.tolist(), changes.xids.tolist(), strict=True)
            ],
            dtype=bool,
        )
        added = int(theirs.sum())
        if added:
            # On the event loop, not in a thread: the embedding worker must not index a
            # newer vector between the check above and this.
            self.index.upsert(changes.keys[theirs], changes.vectors[theirs])
            self.followed += added
        # Always: only the embedding process stores vectors, but anyone may withdraw.
        self.index.remove(changes.dropped)
        # Every changed paper, this process's own too: its title or authors may be new.
        self.facts.forget([*changes.keys.tolist(), *changes.dropped])
        self.horizon = changes.horizon
        for key in [k for k, xid in self.own.items() if xid < self.horizon]:
            del self.own[key]
        return added + len(changes.dropped)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following stored vectors failed; retrying")
