"""`paperfeed fit`: fit the collaborative models (co-save lists, RP3beta, EASE, ALS) on the
current saves in PostgreSQL, write them as a versioned artifact that servers memory-map
(`<model dir>/collab/<version>/`, ranking/artifacts.py), register it and make it active.

Servers never fit: they load the active artifact at start and swap to a newly activated
one within PAPERFEED_MODEL_POLL_SECONDS (storage/registry.py, CollabWatcher).

Given the embedding model, the artifact also holds the catalogue's content index (a
`ranking.index.Snapshot`: every stored vector of that model, an HNSW graph above
PAPERFEED_ANN_MIN_PAPERS): a server starting afterwards maps it instead of reading every
vector from PostgreSQL and building the graph, and reads only what changed since.
"""

from __future__ import annotations

import asyncio
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import implicit
import numpy as np
import scipy

from ranking import collab
from ranking.ann import AnnParams
from ranking.artifacts import verify_collab, write_collab
from ranking.catalogue import FactTable
from ranking.collab import DEFAULT_PARAMS, CollabParams
from ranking.index import Snapshot, matrix_index
from storage.store import Store


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True)
class FitResult:
    version: str
    path: Path
    papers: int
    readers: int
    saves: int
    seconds: float  # the fit alone (reading the saves and writing the files not included)
    peak_rss_bytes: int
    activated: bool
    content_papers: int | None = None  # in the content index, if one was built
    content_seconds: float = 0.0  # reading the vectors and building it

    def summary(self) -> list[str]:
        """One screen for the terminal."""
        return [
            f"collab     {self.version}{' (active)' if self.activated else ' (not activated)'}",
            f"artifact   {self.path}",
            f"data       {self.papers} papers, {self.readers} readers, {self.saves} saves",
            f"fit        {self.seconds:.1f} s, peak memory {self.peak_rss_bytes / 2**20:.0f} MiB",
            "content    no index (no embedding model given)"
            if self.content_papers is None
            else f"content    {self.content_papers} papers indexed in {self.content_seconds:.1f} s",
        ]


async def content_snapshot(
    store: Store, model: str, dim: int, ann: AnnParams, threads: int
) -> Snapshot:
    """Every stored vector of `model` in one index (ranking.index.matrix_index), in key
    order as stored_embeddings reads them, with those papers' facts and the horizon from
    which a server follows the changes after it."""
    horizon = await store.index_horizon()  # before reading: later changes are followed
    chunks = [chunk async for chunk in store.stored_embeddings(model, dim)]
    keys = np.concatenate([k for k, _, _ in chunks]) if chunks else np.zeros(0, np.int64)
    vectors = (
        np.concatenate([v for _, v, _ in chunks]) if chunks else np.zeros((0, dim), np.float32)
    )
    facts = FactTable.of([m for _, _, metas in chunks for m in metas])

    def build() -> faiss.Index:
        faiss.omp_set_num_threads(threads)
        return matrix_index(vectors, ann)

    index = await asyncio.to_thread(build)
    return Snapshot(index, keys.astype(np.int64), model, horizon, facts)


def new_version() -> str:
    return f"collab-{datetime.now(UTC):%Y%m%dT%H%M%S.%f}"


async def fit_and_register(
    store: Store,
    model_dir: Path,
    params: CollabParams = DEFAULT_PARAMS,
    *,
    activate: bool = True,
    report: Callable[[str], None] | None = None,
    content: tuple[str, int] | None = None,
) -> FitResult | None:
    """Fit the collaborative models on the current saves, write the artifact, verify it,
    register it and (with `activate`) make it the one every server loads. With `content`
    (embedding model name, dimension) the artifact holds the content index of that model's
    vectors too. None when there is nothing to fit: no saves, and no artifact active that
    would still hold old ones (after the last saves are deleted, an empty artifact
    replaces it)."""
    feedback = await store.feedback()
    readers, saved = feedback.readers, feedback.saved
    if not len(saved) and await store.active_collab() is None:
        return None

    def step(model: str, seconds: float) -> None:
        if report is not None:
            report(f"  {model:<9}{seconds:8.1f} s")

    def fit() -> tuple[collab.Collaborative, float]:
        started = time.perf_counter()
        models = collab.fit(readers, saved, params, on_step=step)
        return models, time.perf_counter() - started

    if report is not None:
        report(f"fitting on {len(saved)} saves")
    # CPU work: off the event loop, which may be serving (tests fit beside a server).
    models, seconds = await asyncio.to_thread(fit)
    snapshot, content_seconds = None, 0.0
    if content is not None:
        started = time.perf_counter()
        snapshot = await content_snapshot(store, *content, params.ann, params.threads)
        content_seconds = time.perf_counter() - started
        if report is not None:
            report(f"  {'content':<9}{content_seconds:8.1f} s ({len(snapshot.keys)} papers)")
    version = new_version()
    manifest: dict[str, Any] = {
        "params": asdict(params),
        "counts": {
            "papers": len(models.related.keys),
            "readers": len(np.unique(readers)),
            "saves": len(saved),
            "cosave_pairs": len(models.cosaves.indices),
            "related_weights": int(models.related.weights.nnz),
            "ease_weights": int(models.ease.weights.nnz),
        },
        "fit_seconds": round(seconds, 3),
        "content_seconds": round(content_seconds, 3),
        "peak_rss_bytes": peak_rss_bytes(),
        "created_at": datetime.now(UTC).isoformat(),
        "libraries": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "implicit": implicit.__version__,
        },
    }

    def write() -> Path:
        models_ = replace(models, version=version)
        path = write_collab(model_dir, version, models_, manifest, snapshot)
        verify_collab(path)
        return path.resolve()

    path = await asyncio.to_thread(write)
    await store.register_collab(version, str(path), manifest, activate=activate)
    counts = manifest["counts"]
    return FitResult(
        version,
        path,
        counts["papers"],
        counts["readers"],
        counts["saves"],
        seconds,
        manifest["peak_rss_bytes"],
        activate,
        None if snapshot is None else len(snapshot.keys),
        content_seconds,
    )
