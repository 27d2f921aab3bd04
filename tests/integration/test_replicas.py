"""Two servers on one database (two apps in this process; tests/e2e/test_replicas.py runs
real processes): one embeds, both serve every vector, neither serves a withdrawn paper, and
when the embedding one stops the other takes over."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from ranking.embedder import Embedder
from service.settings import Settings
from tests.support import (
    AppClient,
    event,
    running_app,
    runtime_of,
    topic_papers,
    wait_indexed,
)

Check = Callable[[], Awaitable[bool]]


async def until(condition: str, check: Check, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not within {within} s: {condition}"
        await asyncio.sleep(0.05)


async def similar(client: AppClient, paper_id: str) -> list[str]:
    response = await client.get(f"/v1/papers/{paper_id}/similar?limit=11")
    assert response.status_code == 200, response.text
    return [i["paper_id"] for i in response.json()["items"]]


async def test_one_server_embeds_and_the_other_follows_its_vectors_and_withdrawals(
    settings: Settings, embedder: Embedder
) -> None:
    async with contextlib.AsyncExitStack() as first_stack:
        first = await first_stack.enter_async_context(running_app(settings, embedder))
        await until("the first server holds the claim", _holds(first))
        # The second follows less often: what it serves meanwhile comes from the database.
        slower = msgspec.structs.replace(settings, embed_poll_seconds=1.0)
        async with contextlib.AsyncExitStack() as second_stack:
            second = await second_stack.enter_async_context(running_app(slower, embedder))

            response = await second.post("/v1/papers", json={"papers": topic_papers()})
            assert response.json()["added"] == 12
            await wait_indexed(first)
            await until("the second indexed the papers", _indexed(second, 12))
            assert runtime_of(first).worker.embedded == 12
            assert runtime_of(second).worker.embedded == 0  # nothing embedded twice
            assert runtime_of(second).follower.followed == 12  # type: ignore[union-attr]
            assert (await similar(second, "rl-0"))[:3] == (await similar(first, "rl-0"))[:3]
            assert all(p.startswith("rl-") for p in (await similar(second, "rl-0"))[:3])

            saved = {"events": [event("e1", "ann", "rl-0")]}
            assert (await first.post("/v1/events", json=saved)).status_code == 200
            assert "rl-1" in await feed(second, "ann")

            # Withdrawn through the first: the second never serves it, not even before its
            # index follows, and then drops it from its index.
            assert (await first.delete("/v1/papers/rl-1")).status_code == 204
            assert "rl-1" not in await similar(second, "rl-0")
            assert "rl-1" not in await feed(second, "ann")
            search = await second.get("/v1/search?q=offline reinforcement learning&limit=11")
            assert "rl-1" not in [i["paper_id"] for i in search.json()["items"]]
            await until("the second dropped it", _indexed(second, 11))

            # Edited through the first: the second's feeds show the new title and author
            # once its index follows (it keeps papers' facts in memory).
            edited = {"id": "rl-2", "title": "Offline RL, revised", "authors": ["Ada L."]}
            assert (await second.post("/v1/papers", json={"papers": [edited]})).status_code == 200
            await until("the second shows the new title", _titled(second, edited))

            # The first stops (its claim with it): the second embeds from now on.
            await first_stack.aclose()
            extra = {"id": "rl-extra", "title": "Reinforcement learning for robot grasping"}
            assert (await second.post("/v1/papers", json={"papers": [extra]})).status_code == 200
            await wait_indexed(second)
            assert runtime_of(second).worker.embedded == 1
            assert (await similar(second, "rl-extra"))[0].startswith("rl-")


async def feed(client: AppClient, user: str) -> dict[str, str]:
    """The titles of the reader's feed by paper id."""
    response = await client.get(f"/v1/users/{user}/feed?limit=20")
    assert response.status_code == 200, response.text
    return {i["paper_id"]: i["title"] for i in response.json()["items"]}


def _titled(client: AppClient, paper: dict[str, Any]) -> Check:
    asked = iter(range(1000))

    async def check() -> bool:
        # A new reader each time: papers shown to one reader again and again rest.
        return (await feed(client, f"new-{next(asked)}")).get(paper["id"]) == paper["title"]

    return check


def _holds(client: AppClient) -> Check:
    async def check() -> bool:
        return runtime_of(client).worker.claim.held

    return check


def _indexed(client: AppClient, count: int) -> Check:
    async def check() -> bool:
        return bool((await client.get("/ready")).json()["indexed"] == count)

    return check
