"""Shared fixtures: a real PostgreSQL, the real embedding model, and the real app.

Database tests run against the embedded PostgreSQL that the service itself starts, or,
when PAPERFEED_TEST_DATABASE_URL is set, against that server. Each test gets a database
of its own. Plain helpers live in tests/support.py.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from ranking.embedder import Embedder
from service.settings import Settings, load_settings
from storage.database import embedded_url
from tests.support import (
    SHARED_DATA,
    AppClient,
    running_app,
    server_folder,
    topic_papers,
    wait_indexed,
    with_database,
)

_counter = itertools.count()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a PostgreSQL server whose user may create databases."""
    configured = os.environ.get("PAPERFEED_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    yield embedded_url(server_folder(), delete_on_exit=True)


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
    # No exploration: tests assert exact orders. Fast polling: tests wait on background work
    # (and on a revoked key to leave the key cache).
    return load_settings(
        {},
        database_url=database_url,
        data_dir=tmp_path,
        embed_poll_seconds=0.2,
        model_poll_seconds=0.2,
        key_cache_seconds=0.5,
        explore_share=0.0,
    )


@pytest.fixture
async def client(settings: Settings, embedder: Embedder) -> AsyncIterator[AppClient]:
    async with running_app(settings, embedder) as c:
        yield c


@pytest.fixture
async def catalogue(client: AppClient) -> AppClient:
    """The app with the three-topic catalogue embedded and indexed."""
    response = await client.post("/v1/papers", json={"papers": topic_papers()})
    assert response.status_code == 200, response.text
    await wait_indexed(client)
    return client


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
