"""The model registry: which ranker is active, activation and rollback, and the watcher
that swaps a server's ranker when the registry changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from ranking.errors import ArtifactError, Conflict, InvalidInput, NotFound
from ranking.model import HeuristicRanker, Ranker, load_ranker
from storage.rows import Activation
from storage.store import Store

log = logging.getLogger(__name__)

HEURISTIC = "heuristic"  # the name that activates the heuristic ranker


def ranker_for(activation: Activation | None) -> Ranker:
    """The ranker an activation names; raises ArtifactError if its artifact is unusable."""
    if activation is None or activation.version is None:
        return HeuristicRanker()
    if activation.path is None:
        raise ArtifactError(f"model {activation.version} has no artifact path")
    return load_ranker(Path(activation.path))


async def activate(store: Store, version: str, reason: str) -> None:
    """Activate a registered model (or "heuristic") after checking that its artifact loads."""
    if version == HEURISTIC:
        await store.activate_model(None, reason)
        return
    known = {m.version: m for m in await store.list_models()}
    if version not in known:
        raise NotFound(f"no registered model {version!r}; `paperfeed models list` shows them")
    try:
        await asyncio.to_thread(load_ranker, Path(known[version].path))
    except ArtifactError as exc:
        raise InvalidInput(f"model {version!r} cannot be activated: {exc}") from exc
    await store.activate_model(version, reason)


async def rollback(store: Store) -> None:
    if not await store.rollback_model():
        raise Conflict("nothing to roll back: no model has been activated")


class ModelWatcher:
    """Polls the registry and hands a newly activated ranker to `swap`.

    A model that fails to load is logged once and skipped: the current ranker keeps serving.
    """

    def __init__(
        self,
        store: Store,
        swap: Callable[[Ranker], None],
        poll_seconds: float,
        load: Callable[[Activation | None], Ranker] = ranker_for,
    ) -> None:
        self.store = store
        self.swap = swap
        self.poll_seconds = poll_seconds
        self.load = load
        self._seen: int | None = -1  # activation id last acted on (None: no activation)
        # One check at a time: the poll and an activation request may both check, and a
        # slow load finishing after a newer one must not swap an older ranker back in.
        self._lock = asyncio.Lock()

    async def check(self) -> None:
        async with self._lock:
            active = await self.store.active_model()
            key = active.id if active else None
            if key == self._seen:
                return
            self._seen = key
            try:
                ranker = await asyncio.to_thread(self.load, active)
            except ArtifactError as exc:
                log.error("keeping the current ranker: %s", exc)
                return
            self.swap(ranker)
            log.info("now ranking with %s", ranker.version)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("model registry check failed; retrying")
