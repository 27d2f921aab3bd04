"""Helpers that several test modules share: the app under test and its data, small
hand-made vectors for the ranking pieces, and tiny data sets for training and evaluation.
Fixtures live in conftest.py; test modules import helpers from here, never from each
other or from conftest."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import numpy as np
import scipy.sparse as sp
from litestar import Litestar

from paperfeed.lab import serving
from ranking.collab import DEFAULT_PARAMS
from ranking.embedder import Embedder
from ranking.features import NAMES
from service.app import create_app
from service.auth import create_key
from service.runtime import Runtime
from service.settings import Settings
from storage.rows import EventRow, Impression, LabelledImpression, PaperRow
from storage.store import Store
from training.evaluate import EvalConfig
from training.fit import fit_and_register
from training.loaders import Catalogue, EmbeddingCache, Interactions
from training.protocol import EvalContext

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


# The app and its databases ---------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def server_folder() -> Path:
    """A new folder for an embedded PostgreSQL's data, outside pytest's basetemp: pytest
    makes that private (0700) whenever a session starts, which would lock out the server's
    own system user while it runs."""
    return Path(tempfile.mkdtemp(prefix="paperfeed-test-pg-"))


class AppClient(httpx.AsyncClient):
    """An HTTP client bound to a running app, with a side door to its database. It sends
    an admin key (`admin_key`) unless a request sets its own Authorization header."""

    def __init__(
        self, app: Litestar, base_url: str, database_url: str | None, admin_key: str
    ) -> None:
        super().__init__(
            base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {admin_key}"}
        )
        self.app = app
        self.database_url = database_url
        self.admin_key = admin_key

    async def create_key(self, *scopes: str, name: str = "test") -> str:
        """A new API key with `scopes`, as `paperfeed keys create` makes one."""
        async with side_store(runtime_of(self).database_url) as store:
            return (await create_key(store, name, scopes))[1]

    async def fetchval(self, query: str, *args: Any) -> Any:
        assert self.database_url, "this app runs its own embedded database"
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()


@asynccontextmanager
async def side_store(database_url: str) -> AsyncIterator[Store]:
    """A `Store` on an app's database in the test's own event loop, as another paperfeed
    process (the CLI) would have one."""
    store = await Store.connect(database_url, max_size=1)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def running_app(
    settings: Settings,
    embedder: Embedder,
    expect_database_url: bool = True,
    demo_key_id: str | None = None,
) -> AsyncIterator[AppClient]:
    """The real app served by uvicorn on a free port, in a thread with its own event loop,
    so that concurrent requests really are concurrent. `demo_key_id`: in demo mode."""
    app = create_app(settings, embedder=embedder, demo_key_id=demo_key_id)
    async with serving(app) as base_url:
        assert expect_database_url == (settings.database_url is not None)
        async with side_store(app.state.runtime.database_url) as store:
            admin_key = (await create_key(store, "tests", ["admin"]))[1]
        async with AppClient(app, base_url, settings.database_url, admin_key) as client:
            yield client


def runtime_of(client: AppClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime
    return runtime


async def fit_collab(client: AppClient) -> dict[str, Any]:
    """Run the fit job (`paperfeed fit`: fit, write with the content index, register,
    activate) on the app's database as another process would, then the admin refresh, which loads the new
    artifact at once instead of within MODEL_POLL_SECONDS; its JSON."""
    runtime = runtime_of(client)
    params = replace(DEFAULT_PARAMS, threads=runtime.settings.threads)
    content = (runtime.embedder.name, runtime.embedder.dim)
    async with side_store(runtime.database_url) as store:
        model_dir = runtime.settings.resolved_model_dir()
        assert await fit_and_register(store, model_dir, params, content=content)
    response = await client.post("/v1/admin/stats/refresh")
    assert response.status_code == 200, response.text
    snapshot: dict[str, Any] = response.json()
    return snapshot


async def wait_indexed(client: AppClient, within: float = 60) -> dict[str, Any]:
    """Wait until every live paper is embedded and in the index; return /ready's body."""
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = (await client.get("/ready")).json()
        if body["pending_embeddings"] == 0 and body["indexed"] == body["papers"]:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"papers not indexed in {within} s: {body}")
        runtime_of(client).worker.wake()
        await asyncio.sleep(0.05)


# Three clear topics, so that "similar" has an unambiguous meaning in assertions.
TOPICS: dict[str, list[tuple[str, str]]] = {
    "diffusion": [
        (
            "Denoising diffusion models for image synthesis",
            "We generate images by reversing a gradual noising process with a learned denoiser.",
        ),
        (
            "Latent diffusion for high-resolution image generation",
            "Diffusion in an autoencoder latent space makes text-to-image generation cheaper.",
        ),
        (
            "Faster sampling from diffusion image generators",
            "A distilled sampler produces images from diffusion models in four steps.",
        ),
        (
            "Guidance for conditional diffusion image models",
            "Classifier-free guidance trades diversity for fidelity in generated images.",
        ),
    ],
    "rl": [
        (
            "Deep reinforcement learning for robot locomotion",
            "A policy trained with reinforcement learning makes a legged robot walk.",
        ),
        (
            "Offline reinforcement learning from logged rewards",
            "We learn policies from fixed datasets of actions and rewards without exploration.",
        ),
        (
            "Exploration bonuses in sparse-reward reinforcement learning",
            "Curiosity-driven exploration helps agents find rewards in hard games.",
        ),
        (
            "Policy gradient methods with variance reduction",
            "Baselines and advantage estimation stabilise policy gradient training of agents.",
        ),
    ],
    "proteins": [
        (
            "Predicting protein structure from amino acid sequences",
            "A neural network predicts the folded 3D structure of proteins from sequence.",
        ),
        (
            "Protein language models learn evolutionary constraints",
            "Transformers trained on millions of protein sequences capture residue contacts.",
        ),
        (
            "Designing protein binders with generative models",
            "We design new proteins that bind a target using structure-aware generation.",
        ),
        (
            "Molecular dynamics of protein folding pathways",
            "Simulations reveal intermediate states along the folding pathway of small proteins.",
        ),
    ],
}


def topic_papers() -> list[dict[str, Any]]:
    return [
        {"id": f"{topic}-{i}", "title": title, "abstract": abstract}
        for topic, papers in TOPICS.items()
        for i, (title, abstract) in enumerate(papers)
    ]


def event(
    event_id: str, user: str, paper: str, kind: str = "save", at: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An event as a client sends it; by default it happened an hour ago."""
    at = at or (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return {
        "event_id": event_id,
        "user_id": user,
        "paper_id": paper,
        "type": kind,
        "occurred_at": at,
        **extra,
    }


# The ranking pieces: small hand-made vectors and saves ------------------------------------


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(n_per: int = 10, dim: int = 16, seed: int = 0) -> np.ndarray:
    """Two well-separated clusters: rows [0, n_per) and [n_per, 2 n_per)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim, dtype=np.float32)[:2] * 5
    return unit(np.vstack([c + rng.normal(size=(n_per, dim)) for c in centres]))


# Reader 0 saved papers 10 and 20, reader 1 saved 10 and 30, reader 2 saved 20.
READERS = np.array([0, 0, 1, 1, 2])
PAPERS = np.array([10, 20, 10, 30, 20])


# Training on logged feeds -----------------------------------------------------------------

HEURISTIC = NAMES.index("heuristic")  # the column the heuristic ranker orders by


def rows_for(
    n_feeds: int,
    size: int = 5,
    seed: int = 0,
    decided_by: Callable[[int], int] = lambda feed: 0,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
) -> list[LabelledImpression]:
    """Synthetic logged feeds, one a minute from `start`, where one feature decides what
    gets saved: feature `decided_by(f)` in the f-th feed (by default always feature 0)."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_feeds):
        request_id = uuid.UUID(int=(seed << 32) + f + 1)
        features = rng.normal(size=(size, len(NAMES))).astype(np.float32)
        best = int(np.argmax(features[:, decided_by(f)]))
        for position in range(size):
            rows.append(
                LabelledImpression(
                    request_id=request_id,
                    served_at=start + timedelta(minutes=f),
                    position=position,
                    paper_id=f"paper-{position}",
                    features=features[position].tolist(),
                    propensity=1.0,
                    explored=False,
                    feature_names=list(NAMES),
                    model_version="heuristic-1",
                    label=3 if position == best else 0,
                )
            )
    return rows


async def log_feeds(store: Store, rows: list[LabelledImpression]) -> None:
    """Log `rows` as served feeds, with a save naming the feed for each labelled paper,
    as the server and a frontend would."""
    ids = sorted({r.paper_id for r in rows})
    await store.upsert_papers([PaperRow(i, i, "", [], [], None, None, i) for i in ids])
    feeds: dict[uuid.UUID, list[LabelledImpression]] = {}
    for r in rows:
        feeds.setdefault(r.request_id, []).append(r)
    for request_id, feed in feeds.items():
        shown = [Impression(r.position, r.paper_id, 0.0, r.features) for r in feed]
        served = feed[0].served_at
        await store.log_feed(
            request_id, "reader", served, "heuristic-1", "s", NAMES, len(feed), shown
        )
    saves = [
        EventRow(
            f"{r.request_id}-{r.position}",
            "reader",
            r.paper_id,
            "save",
            r.served_at + timedelta(minutes=1),
            r.request_id,
        )
        for r in rows
        if r.label
    ]
    await store.record_events(saves)


# Offline evaluation on a planted data set -------------------------------------------------

GROUP_ITEMS = 100  # group A saves items 0-99, group B 100-199; 200-299 nobody saves


def planted(users_per_group: int = 30, saves: int = 15, seed: int = 0) -> Interactions:
    """Two user groups with disjoint item sets, plus papers nobody saves."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(2 * users_per_group):
        offset = GROUP_ITEMS * (user // users_per_group)
        for item in rng.choice(GROUP_ITEMS, saves, replace=False):
            rows.append(user)
            cols.append(offset + item)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(2 * users_per_group, 300)
    )
    return Interactions(matrix, [f"u{i}" for i in range(2 * users_per_group)])


def eval_catalogue(n: int = 300) -> Catalogue:
    topics = ["alpha graph network", "beta protein gene", "gamma stellar galaxy"]
    words = ["learning", "model", "analysis", "method", "study", "data"]
    titles = [f"{topics[i // GROUP_ITEMS]} {words[i % 6]} {words[(i // 6) % 6]}" for i in range(n)]
    return Catalogue([str(i) for i in range(n)], titles, [""] * n)


class WordEmbedder:
    """A stand-in for MiniLM: hashed bag of words, unit length; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 64), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, sum(map(ord, word)) % 64] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def context(tmp_path: Path, embedder: WordEmbedder | None = None) -> EvalContext:
    found = embedder or WordEmbedder()
    cache = EmbeddingCache("words", lambda: found, tmp_path / "cache")
    return EvalContext(eval_catalogue(), embeddings_cache=cache, threads=1, progress=False)


CONFIG = EvalConfig(seeds=(0,), validation_users=20, batch=16, progress=False)


def write_dataset(folder: Path, data: Interactions) -> tuple[Path, Path]:
    papers, saves = folder / "papers.jsonl", folder / "interactions.tsv"
    cat = eval_catalogue()
    papers.write_text(
        "".join(
            json.dumps({"item_id": int(i), "title": t}) + "\n"
            for i, t in zip(cat.item_ids, cat.titles, strict=True)
        )
    )
    rows, cols = data.matrix.nonzero()
    saves.write_text(
        "user_id\titem_id\n" + "".join(f"{r}\t{c}\n" for r, c in zip(rows, cols, strict=True))
    )
    return papers, saves
