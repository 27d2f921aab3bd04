"""Everything a running server holds, created by the app's lifespan and injected into handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import faiss
from litestar.di import NamedDependency

from ranking.ann import DEFAULT_ANN, AnnParams
from ranking.artifacts import load_snapshot, read_through
from ranking.catalogue import EMPTY_TABLE, FactCache, FactTable, PaperMeta
from ranking.collab import NO_COLLABORATIVE, Collaborative
from ranking.embedder import Embedder
from ranking.errors import ArtifactError
from ranking.index import Snapshot, VectorIndex
from ranking.model import HeuristicRanker, Ranker
from ranking.stats import EMPTY_COUNTS, EMPTY_STATS, CatalogueStats
from service import memory, metrics
from service.auth import TOKEN_SECRET_NAME, KeyCache
from service.settings import Settings
from service.worker import EmbeddingWorker, IndexFollower, load_embedder
from storage.claim import EmbeddingClaim
from storage.database import database_url, migrate
from storage.feeds import Resting, newest_papers
from storage.registry import CollabWatcher, ModelWatcher
from storage.rows import CountRead
from storage.store import Store

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
    # What feeds need to know about papers, kept current by the index follower.
    facts: FactCache = field(default_factory=FactCache)
    # Signs reader tokens; shared by every process through the database.
    token_secret: bytes = b""
    # The database actually used (the embedded server's, when none is configured).
    database_url: str = ""
    watcher: ModelWatcher | None = None
    # Keeps `index` in step with vectors stored and papers withdrawn by other processes.
    follower: IndexFollower | None = None
    # Replaced whole by `refresh_stats` (counts) and `swap_collab` (models); a request
    # reads it once (see service.feed), so one feed never mixes versions.
    stats: CatalogueStats = EMPTY_STATS
    stats_stamp: str = EMPTY_STATS.version  # the counts' version: stats-<time>
    # The last read of the counts, its times and recent counts (refresh_stats).
    _counted: CountRead | None = field(default=None, init=False)
    _recounted_at: float = field(default=-math.inf, init=False)
    _counting: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    # The memory-mapped artifact of `paperfeed fit`, swapped by `collab_watcher`.
    collab: Collaborative = NO_COLLABORATIVE
    collab_watcher: CollabWatcher | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # The newest papers, the same for every reader's feed (`fresh_papers`), and when read.
    _fresh: list[int] = field(default_factory=list, init=False)
    _fresh_at: float = field(default=-math.inf, init=False)
    # Set on SIGTERM: still serving, but /ready says no so that traffic moves elsewhere.
    draining: bool = False
    # API keys as the database held them a few seconds ago (service.auth).
    keys: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyCache(self.store, self.settings.key_cache_seconds)

    @property
    def resting(self) -> Resting:
        """When a paper shown often to a reader rests from their feed (settings)."""
        return Resting(
            self.settings.impression_window_days, self.settings.max_impressions_per_paper
        )

    def swap_ranker(self, ranker: Ranker) -> None:
        self.ranker = ranker
        self.observe()

    def observe(self) -> None:
        """Set this process's gauges: ranker, statistics, collaborative models, index and
        pool (service.metrics)."""
        metrics.observe_process(
            self.ranker.version,
            self.stats.version,
            len(self.index),
            self.store.pool,
            collab_version=self.collab.version,
        )

    def _set_stats(self, stamp: str, counts: CatalogueStats | None = None) -> None:
        # The logged statistics version names both halves: stats-<time>/<collab version>.
        counts = counts if counts is not None else self.stats
        collab = self.collab.version
        version = stamp if collab == NO_COLLABORATIVE.version else f"{stamp}/{collab}"
        self.stats_stamp = stamp
        self.stats = replace(counts, version=version, models=self.collab)

    def swap_collab(self, models: Collaborative) -> None:
        """Serve newly activated collaborative models (CollabWatcher): one assignment, so
        a request sees the old snapshot or the new one, never a mix."""
        self.collab = models
        self._set_stats(self.stats_stamp)
        self.observe()

    async def fresh_papers(self) -> list[int]:
        """The newest papers for feeds' fresh candidates, read again at most every
        `embed_poll_seconds`: a new paper is served only once the index follower, which
        looks as often, has its vector. Withdrawn ones are left out by each feed as any
        candidate is."""
        now = time.monotonic()
        if now - self._fresh_at >= self.settings.embed_poll_seconds:
            self._fresh = await newest_papers(self.store)
            self._fresh_at = now
        return self._fresh

    async def refresh_stats(self, *, recount: bool = False) -> CatalogueStats:
        """Bring the live counts (clicks, saves, impressions, popularity) up to date and
        swap in a new snapshot over the current collaborative models; nothing is fitted
        here. Counts everything at the first refresh, with `recount` and every
        `stats_recount_seconds`; in between reads only what changed since the last one."""
        async with self._counting:  # two refreshes at once would add one change twice
            stamp = f"stats-{datetime.now(UTC):%Y%m%dT%H%M%S.%f}"
            started = time.monotonic()
            settle = self.settings.stats_settle_seconds
            due = started - self._recounted_at >= self.settings.stats_recount_seconds
            last = None if recount or due else self._counted
            full = last is None
            if last is None:
                read = await self.store.count_papers(settle)
            else:
                read = await self.store.count_papers_since(last, settle)

            def build() -> CatalogueStats:
                # numpy over every counted paper: off the event loop.
                if last is None:
                    return CatalogueStats.build(stamp, read.settled.plus(read.recent))
                # The snapshot's counts are the last read's settled and recent ones summed.
                counts = self.stats.counts.refreshed(last.recent, read.settled, read.recent)
                return CatalogueStats.build(stamp, counts)

            snapshot = await asyncio.to_thread(build)
            if full:
                self._recounted_at = started
                log.info(
                    "statistics recounted in %.1f s: %d papers with feedback or impressions",
                    time.monotonic() - started,
                    len(snapshot.counts),
                )
            # Its settled counts are in the snapshot now (after a full read, the whole
            # catalogue's): only its times and recent counts are needed next time.
            self._counted = replace(read, settled=EMPTY_COUNTS)
            self._set_stats(stamp, snapshot)
            if self.settings.malloc_trim_seconds > 0:
                # The refresh's temporaries (counts of every paper, several copies) are
                # freed now: hand them back at once, not at the next periodic trim.
                memory.trim()
            metrics.STATS_REFRESH.observe(time.monotonic() - started)
        self.observe()
        return self.stats

    async def refresh_stats_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.stats_refresh_seconds)
            try:
                await self.refresh_stats()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("statistics refresh failed; keeping %s", self.stats.version)


# How handlers ask for the runtime: `runtime: RuntimeDep`.
RuntimeDep = NamedDependency[Runtime]


async def load_index(
    store: Store, embedder: Embedder, ann: AnnParams = DEFAULT_ANN
) -> tuple[VectorIndex, FactTable]:
    """Rebuild the index from vectors stored in PostgreSQL (no re-embedding), with the
    indexed papers' facts."""
    index = VectorIndex(embedder.dim, ann)
    facts: list[PaperMeta] = []
    async for keys, vectors, metas in store.stored_embeddings(embedder.name, embedder.dim):
        index.upsert(keys, vectors)
        facts += metas
    return index, FactTable.of(facts)


async def active_snapshot(store: Store, embedder: Embedder) -> Snapshot | None:
    """The content index of the active `paperfeed fit` artifact, memory-mapped, if it
    holds one of this embedding model's vectors (otherwise, or if it cannot be read: None,
    and the index is built from PostgreSQL)."""
    activation = await store.active_collab()
    if activation is None or activation.path is None:
        return None
    try:
        snapshot = await asyncio.to_thread(load_snapshot, Path(activation.path))
    except ArtifactError as exc:
        log.warning("not using the content index of %s: %s", activation.version, exc)
        return None
    if snapshot is None or (snapshot.model, snapshot.index.d) != (embedder.name, embedder.dim):
        return None
    return snapshot


async def open_index(
    store: Store, embedder: Embedder, ann: AnnParams
) -> tuple[VectorIndex, int, FactTable]:
    """The index at start, the horizon to follow changes from and the indexed papers'
    facts: the active artifact's content index if there is one for this model, else every
    stored vector."""
    snapshot = await active_snapshot(store, embedder)
    if snapshot is not None:
        log.info("content index mapped from the fit artifact: %d papers", len(snapshot.keys))
        # An artifact older than its facts: every paper's facts are read when first asked.
        facts = snapshot.facts if snapshot.facts is not None else EMPTY_TABLE
        return VectorIndex(embedder.dim, ann, snapshot), snapshot.horizon, facts
    # Taken before loading: the follower replays whatever changes during the load.
    horizon = await store.index_horizon()
    index, facts = await load_index(store, embedder, ann)
    return index, horizon, facts


async def prefetch(store: Store) -> None:
    """Read the active fit artifact into the page cache (a thread: file reads release the
    GIL). At 1M papers a server that starts on files not in the cache otherwise served a
    minute of feeds from random disk reads (README: Scaling out)."""
    activation = await store.active_collab()
    if activation is None or activation.path is None:
        return
    began = time.monotonic()
    try:
        size = await asyncio.to_thread(read_through, Path(activation.path))
    except OSError as exc:
        log.warning("could not read %s ahead: %s", activation.path, exc)
        return
    log.info(
        "read %s ahead into the page cache: %.0f MB in %.1f s",
        activation.version,
        size / 2**20,
        time.monotonic() - began,
    )


async def start(
    settings: Settings, embedder: Embedder | None = None, *, background: bool = True
) -> Runtime:
    """Connect (starting an embedded PostgreSQL if no URL is set), migrate, load the
    embedding model and the index, and start the embedding worker. `background=False`
    (a one-off job such as `paperfeed digest send`): no worker, watcher or refresh tasks;
    the index, statistics and ranker stay as they were at the start."""
    faiss.omp_set_num_threads(settings.threads)
    url = await asyncio.to_thread(database_url, settings.database_url, settings.data_dir)
    await migrate(url)
    store = await Store.connect(url, max_size=settings.db_pool_size)
    try:
        if embedder is None:
            embedder = await asyncio.to_thread(load_embedder, settings)
        index, horizon, table = await open_index(store, embedder, settings.ann())
    except BaseException:
        await store.close()
        raise
    worker = EmbeddingWorker(
        store,
        embedder,
        index,
        EmbeddingClaim(url),
        window=settings.embed_window,
        poll_seconds=settings.embed_poll_seconds,
        threads=settings.resolved_embed_threads(),
    )
    facts = FactCache(table)
    follower = IndexFollower(
        store,
        embedder,
        index,
        horizon,
        poll_seconds=settings.embed_poll_seconds,
        own=worker.own,
        facts=facts,
    )
    # Complete before serving: what changed since the snapshot or during the load.
    await follower.catch_up()
    log.info("index loaded: %d papers (model %s)", len(index), embedder.name)
    runtime = Runtime(settings, store, embedder, index, worker, HeuristicRanker(), facts=facts)
    runtime.database_url = url
    runtime.token_secret = await store.server_secret(TOKEN_SECRET_NAME, secrets.token_bytes(32))
    runtime.watcher = ModelWatcher(store, runtime.swap_ranker, settings.model_poll_seconds)
    await runtime.watcher.check()
    runtime.collab_watcher = CollabWatcher(store, runtime.swap_collab, settings.model_poll_seconds)
    await runtime.collab_watcher.check()
    await runtime.refresh_stats()
    runtime.follower = follower
    if not background:
        return runtime
    if settings.prefetch_artifacts:
        runtime.tasks.append(asyncio.create_task(prefetch(store), name="prefetch"))
    runtime.tasks.append(asyncio.create_task(worker.run(), name="embedding-worker"))
    runtime.tasks.append(asyncio.create_task(follower.run(), name="index-follower"))
    runtime.tasks.append(asyncio.create_task(runtime.watcher.run(), name="model-watcher"))
    runtime.tasks.append(asyncio.create_task(runtime.collab_watcher.run(), name="collab-watcher"))
    runtime.tasks.append(asyncio.create_task(runtime.refresh_stats_forever(), name="stats"))
    runtime.tasks.append(
        asyncio.create_task(memory.trim_forever(settings.malloc_trim_seconds), name="trim")
    )
    return runtime


async def stop(runtime: Runtime) -> None:
    for task in runtime.tasks:
        task.cancel()
    for task in runtime.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await runtime.worker.release()
    await runtime.store.close()
    metrics.process_stopped()
