"""Demo mode (`paperfeed serve --demo-key`): the server mints reader tokens for the page
under the demo key; without demo mode those routes do not exist."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ranking.embedder import Embedder
from service.auth import create_key
from service.settings import Settings
from storage.database import migrate
from tests.support import AppClient, event, running_app, side_store


@pytest.fixture
async def demo(settings: Settings, embedder: Embedder) -> AsyncIterator[AppClient]:
    assert settings.database_url
    await migrate(settings.database_url)
    async with side_store(settings.database_url) as store:
        record, _ = await create_key(store, "demo", ["admin"])
    async with running_app(settings, embedder, demo_key_id=record.key_id) as client:
        client.demo_key_id = record.key_id  # type: ignore[attr-defined]
        yield client


async def test_without_demo_mode_there_are_no_demo_routes(client: AppClient) -> None:
    client.headers.pop("Authorization")
    assert (await client.get("/v1/demo/readers")).status_code == 404
    minted = await client.post("/v1/demo/tokens", json={"user_id": "zoe"})
    assert minted.status_code == 404


async def test_demo_tokens_speak_for_one_reader_until_the_demo_key_goes(
    demo: AppClient, settings: Settings
) -> None:
    admin = demo.headers.pop("Authorization")
    minted = await demo.post("/v1/demo/tokens", json={"user_id": "zoe"})
    assert minted.status_code == 200, minted.text
    reader = {"Authorization": f"Bearer {minted.json()['token']}"}
    assert (await demo.get("/v1/users/zoe/feed", headers=reader)).status_code == 200
    assert (await demo.get("/v1/users/yan/feed", headers=reader)).status_code == 403
    assert (await demo.get("/v1/admin/models", headers=reader)).status_code == 403

    bad = await demo.post("/v1/demo/tokens", json={"user_id": "zoe", "admin": True})
    assert bad.status_code == 400 and "admin" in bad.text
    assert (await demo.post("/v1/demo/tokens", json={"user_id": "a/b"})).status_code == 400

    await demo.post(
        "/v1/papers",
        json={"papers": [{"id": "p1", "title": "A paper"}]},
        headers={"Authorization": admin},
    )
    posted = await demo.post(
        "/v1/events", json={"events": [event("e1", "zoe", "p1")]}, headers=reader
    )
    assert posted.json()["accepted"] == 1
    assert (await demo.get("/v1/demo/readers")).json() == {"readers": ["zoe"]}

    async with side_store(demo.database_url or "") as store:
        await store.revoke_key(demo.demo_key_id)  # type: ignore[attr-defined]
    await asyncio.sleep(settings.key_cache_seconds)  # the server's copy of the key expires
    assert (await demo.get("/v1/users/zoe/feed", headers=reader)).status_code == 401
