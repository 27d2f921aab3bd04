"""The model registry: which ranker is active, activation and rollback, and the watchers
that swap a server's ranker and collaborative models when the registry changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Generic, TypeVar

from ranking.artifacts import load_collab
from ranking.collab import NO_COLLABORATIVE, Collaborative
from ranking.errors import ArtifactError, Conflict, InvalidInput, NotFound
from ranking.model import HeuristicRanker, Ranker, load_ranker
from storage.rows import Activation
from storage.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

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


class RegistryWatcher(Generic[T]):
    """Polls a registry's active entry (`active`) and hands what `load` makes of a newly
    activated one to `swap`.

    One that fails to load is logged once and skipped: the current one keeps serving.
    """

    def __init__(
        self,
        active: Callable[[], Awaitable[Activation | None]],
        swap: Callable[[T], None],
        poll_seconds: float,
        load: Callable[[Activation | None], T],
        what: str,
    ) -> None:
        self.active = active
        self.swap = swap
        self.poll_seconds = poll_seconds
        self.load = load
        self.what = what
        self._seen: int | None = -1  # activation id last acted on (None: no activation)
        # One check at a time: the poll and an activation request may both check, and a
        # slow load finishing after a newer one must not swap an older one back in.
        self._lock = asyncio.Lock()

    async def check(self) -> None:
        async with self._lock:
            active = await self.active()
            key = active.id if active else None
            if key == self._seen:
                return
            self._seen = key
            try:
                loaded = await asyncio.to_thread(self.load, active)
            except ArtifactError as exc:
                log.error("keeping the current %s: %s", self.what, exc)
                return
            self.swap(loaded)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s registry check failed; retrying", self.what)


class ModelWatcher(RegistryWatcher[Ranker]):
    """Swaps a server's ranker when the model registry's active model changes."""

    def __init__(
        self,
        store: Store,
        swap: Callable[[Ranker], None],
        poll_seconds: float,
        load: Callable[[Activation | None], Ranker] = ranker_for,
    ) -> None:
        def swap_and_log(ranker: Ranker) -> None:
            swap(ranker)
            log.info("now ranking with %s", ranker.version)

        super().__init__(store.active_model, swap_and_log, poll_seconds, load, "ranker")
        self.store = store


def collab_for(activation: Activation | None) -> Collaborative:
    """The memory-mapped collaborative models an activation names (none: no models)."""
    if activation is None or activation.path is None:
        return NO_COLLABORATIVE
    return load_collab(Path(activation.path))


class CollabWatcher(RegistryWatcher[Collaborative]):
    """Swaps a server's collaborative models when `paperfeed fit` activates new ones."""

    def __init__(
        self,
        store: Store,
        swap: Callable[[Collaborative], None],
        poll_seconds: float,
        load: Callable[[Activation | None], Collaborative] = collab_for,
    ) -> None:
        def swap_and_log(models: Collaborative) -> None:
            swap(models)
            if models.version == NO_COLLABORATIVE.version:
                log.info(
                    "no collaborative model is active: serving content and popularity only "
                    "(`paperfeed fit` builds one)"
                )
            else:
                log.info("collaborative models now %s", models.version)

        super().__init__(
            store.active_collab, swap_and_log, poll_seconds, load, "collaborative model"
        )
        self.store = store
