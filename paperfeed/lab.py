"""A throwaway paperfeed for notebooks and demos: an embedded PostgreSQL in a temporary
folder, the real app on a free local port, a catalogue, and simulated readers who use it.

    async with sandbox(Path("../examples/papers.jsonl")) as lab:
        await lab.simulate(readers=100, sessions=3)
        rows = await lab.store.training_impressions(...)

Everything the notebooks analyse went through the same code as production: feeds are
served and logged by the app over HTTP, events posted through the API, models trained with
`training.train` (and collaborative models fitted with `training.fit`, `lab.fit()`) and
registered in the same registry. The folder and the database are
deleted when the block ends.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import uvicorn
from litestar import Litestar

from ranking.collab import DEFAULT_PARAMS
from ranking.embedder import model_identity
from service.app import create_app
from service.auth import create_key
from service.records import catalogue_rows
from service.settings import Settings, load_settings
from service.worker import load_embedder
from storage.database import embedded_url
from storage.store import Store
from training.fit import fit_and_register
from training.simulate import SimStats, World, make_readers, simulate


@dataclass
class Lab:
    """A running sandbox: the app's `client` (with an admin key), a `store` on its
    database, the simulator's `world`, and where models go."""

    settings: Settings
    client: httpx.AsyncClient
    store: Store
    world: World
    model_dir: Path

    async def simulate(
        self, readers: int, sessions: int, *, seed: int = 0, prefix: str = "sim"
    ) -> SimStats:
        """`readers` new simulated readers ({prefix}-0, ...) each fetch `sessions` feeds
        from the app and click and save as their hidden tastes say."""
        people = make_readers(self.world, readers, seed, prefix=prefix)
        return await simulate(self.client, self.world, people, sessions, seed=seed)

    async def fit(self) -> str:
        """Fit the collaborative models on the saves so far, as `paperfeed fit` does, and
        have the app load them now (the app never fits them itself); their version, or
        "none" before anyone saved anything."""
        result = await fit_and_register(
            self.store,
            self.model_dir,
            replace(
                DEFAULT_PARAMS,
                threads=self.settings.resolved_fit_threads(),
                ann=self.settings.ann(),
            ),
            content=model_identity(self.settings.resolved_model_path()),
        )
        (await self.client.post("/v1/admin/stats/refresh")).raise_for_status()
        return result.version if result else "none"

    async def wait_for_model(self, version: str, within: float = 30.0) -> None:
        """Wait until the app ranks feeds with `version` (after an activation)."""
        for _ in range(int(within / 0.1)):
            feed = (await self.client.get("/v1/users/probe/feed", params={"limit": 1})).json()
            if feed["model_version"] == version:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"the app did not switch to {version} within {within} s")


@asynccontextmanager
async def sandbox(
    catalogue: Path, *, explore_share: float = 0.2, topics: int = 6, seed: int = 0
) -> AsyncIterator[Lab]:
    """A new paperfeed with `catalogue` ingested and embedded, whose feeds give
    `explore_share` of their slots to exploration; the simulator's world has `topics`."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request drowns the rest
    with tempfile.TemporaryDirectory(prefix="paperfeed-lab-") as folder:
        root = Path(folder)
        settings = load_settings(
            {},
            database_url=embedded_url(root, delete_on_exit=True),
            data_dir=root,
            explore_share=explore_share,
            embed_poll_seconds=0.2,
            model_poll_seconds=0.2,
            stats_refresh_seconds=1.0,
        )
        embedder = load_embedder(settings)
        rows = catalogue_rows(catalogue)
        world = World.from_papers(rows, embedder, topics=topics, seed=seed)
        async with serving(create_app(settings, embedder=embedder)) as base_url:
            assert settings.database_url is not None
            store = await Store.connect(settings.database_url, max_size=2)
            try:
                key = (await create_key(store, "lab", ["admin"]))[1]
                headers = {"Authorization": f"Bearer {key}"}
                async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as c:
                    papers = [{"id": r.id, "title": r.title, "abstract": r.abstract} for r in rows]
                    response = await c.post("/v1/papers", json={"papers": papers})
                    response.raise_for_status()
                    await _wait_embedded(c)
                    yield Lab(settings, c, store, world, root / "models")
            finally:
                await store.close()


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[str]:
    """`app` under uvicorn on a free port, in a thread with its own event loop (the
    caller's loop, a notebook's or a test's, stays free, and concurrent requests really
    are concurrent); its base URL."""
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
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)


async def _wait_embedded(client: httpx.AsyncClient, within: float = 120.0) -> None:
    ready: dict[str, int] = {}
    for _ in range(int(within / 0.1)):
        ready = (await client.get("/ready")).json()
        if ready["pending_embeddings"] == 0 and ready["indexed"] == ready["papers"]:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the catalogue was not embedded within {within} s: {ready}")
