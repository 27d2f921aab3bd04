"""Shared fixtures: a real PostgreSQL, the real embedding model, and the real app.

Database tests run against the embedded PostgreSQL that the service itself starts, or,
when PAPERFEED_TEST_DATABASE_URL is set, against that server. Each test gets a database
of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import uvicorn
from litestar import Litestar

from ranking.embedder import Embedder
from service.app import create_app
from service.auth import create_key
from service.runtime import Runtime
from service.settings import Settings, load_settings
from storage.database import embedded_url
from storage.store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
_counter = itertools.count()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server whose user may create databases."""
    configured = os.environ.get("PAPERFEED_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    yield embedded_url(server_folder(), delete_on_exit=True)


def server_folder() -> Path:
    """A new folder for an embedded PostgreSQL's data, outside pytest's basetemp: pytest
    makes that private (0700) whenever a session starts, which would lock out the server's
    own system user while it runs."""
    return Path(tempfile.mkdtemp(prefix="paperfeed-test-pg-"))


@pytest.fixture
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A new, empty database for one test."""
    name = f"paperfeed_test_{os.getpid()}_{next(_counter)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real packaged MiniLM model, loaded once for the whole run."""
    return Embedder(load_settings({}).resolved_model_path(), threads=2, batch_size=32)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # No exploration: tests assert exact orders. Fast polling: tests wait on background work.
    return load_settings(
        {},
        database_url=database_url,
        data_dir=tmp_path,
        embed_poll_seconds=0.2,
        model_poll_seconds=0.2,
        explore_share=0.0,
    )


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
    settings: Settings, embedder: Embedder, expect_database_url: bool = True
) -> AsyncIterator[AppClient]:
    """The real app served by uvicorn on a free port, in a thread with its own event loop,
    so that concurrent requests really are concurrent."""
    app = create_app(settings, embedder=embedder)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the app failed to start; see the log above")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    assert expect_database_url == (settings.database_url is not None)
    try:
        async with side_store(app.state.runtime.database_url) as store:
            admin_key = (await create_key(store, "tests", ["admin"]))[1]
        base_url = f"http://127.0.0.1:{port}"
        async with AppClient(app, base_url, settings.database_url, admin_key) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)


@pytest.fixture
async def client(settings: Settings, embedder: Embedder) -> AsyncIterator[AppClient]:
    async with running_app(settings, embedder) as c:
        yield c


def runtime_of(client: AppClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime
    return runtime


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


@pytest.fixture
async def catalogue(client: AppClient) -> AppClient:
    """The app with the three-topic catalogue embedded and indexed."""
    response = await client.post("/v1/papers", json={"papers": topic_papers()})
    assert response.status_code == 200, response.text
    await wait_indexed(client)
    return client


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


@pytest.fixture
def shared_data() -> Iterator[Path]:
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"development data not found at {SHARED_DATA} (only present in the paperfeed workplace)"
        )
    yield SHARED_DATA


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test that needs PostgreSQL is marked, so CI can re-run them against another server.
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
