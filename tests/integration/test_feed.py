"""The personal feed: personalisation, exclusions, cold start, impressions, other lists."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from typing import Any

import numpy as np
from msgspec.structs import replace

from ranking.collab import DEFAULT_PARAMS
from ranking.embedder import Embedder
from ranking.features import NAMES
from service.settings import Settings
from tests.support import (
    AppClient,
    event,
    running_app,
    runtime_of,
    side_store,
    topic_papers,
    wait_indexed,
)
from training.fit import fit_and_register


async def feed(client: AppClient, user: str, limit: int = 12) -> dict[str, Any]:
    response = await client.get(f"/v1/users/{user}/feed", params={"limit": limit})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["paper_id"] for item in body["items"]]


async def test_saves_personalise_the_feed(catalogue: AppClient) -> None:
    saves = [event(f"s{i}", "alice", f"proteins-{i}") for i in range(2)]
    assert (await catalogue.post("/v1/events", json={"events": saves})).status_code == 200

    alice = await feed(catalogue, "alice", limit=4)
    newcomer = await feed(catalogue, "newcomer", limit=4)
    assert ids(alice) != ids(newcomer)
    # The two unsaved protein papers come first, each explained by a saved one.
    assert sorted(ids(alice)[:2]) == ["proteins-2", "proteins-3"]
    for item in alice["items"][:2]:
        assert "similar" in item["reasons"]
        assert item["similar_to"] in {"proteins-0", "proteins-1"}
    scores = [item["score"] for item in alice["items"]]
    assert scores[0] >= scores[-1]


async def test_saved_and_dismissed_papers_are_never_served(catalogue: AppClient) -> None:
    events = [
        event("a", "bob", "rl-0", "save"),
        event("b", "bob", "rl-1", "dismiss"),
        event("c", "bob", "rl-2", "save", at="2026-01-01T10:00:00Z"),
        event("d", "bob", "rl-2", "unsave", at="2026-01-01T11:00:00Z"),
    ]
    await catalogue.post("/v1/events", json={"events": events})
    served = ids(await feed(catalogue, "bob", limit=50))
    assert not {"rl-0", "rl-1", "rl-2"} & set(served)
    assert len(served) == 9  # everything else


async def test_cold_start_gets_popular_and_fresh_papers(catalogue: AppClient) -> None:
    clicks = [event(f"k{i}", f"reader{i}", "diffusion-3", "click") for i in range(3)]
    await catalogue.post("/v1/events", json={"events": clicks})
    assert (await catalogue.post("/v1/admin/stats/refresh")).json()["papers"] == 1
    body = await feed(catalogue, "brand-new", limit=5)
    assert body["model_version"] == "heuristic-1"
    assert body["items"][0]["paper_id"] == "diffusion-3"
    assert "popular" in body["items"][0]["reasons"]
    assert all(set(i["reasons"]) <= {"popular", "fresh"} for i in body["items"])
    assert len(body["items"]) == 5


async def test_a_new_paper_joins_cold_feeds_as_fresh_soon_after_it_is_indexed(
    catalogue: AppClient,
) -> None:
    # Servers read the newest papers at most once per embed_poll_seconds (Runtime.fresh_papers).
    rt = runtime_of(catalogue)
    paper = {"id": "new-0", "title": "Sparse attention for long documents", "abstract": "x"}
    assert (await catalogue.post("/v1/papers", json={"papers": [paper]})).status_code == 200
    await wait_indexed(catalogue)
    deadline = time.monotonic() + 10 * rt.settings.embed_poll_seconds + 5
    while "new-0" not in ids(body := await feed(catalogue, "newcomer", limit=20)):
        assert time.monotonic() < deadline, "a new paper never reached a cold reader's feed"
        await asyncio.sleep(0.05)
    assert next(i for i in body["items"] if i["paper_id"] == "new-0")["reasons"] == ["fresh"]


async def test_empty_catalogue_gives_empty_lists(client: AppClient) -> None:
    assert (await feed(client, "anyone"))["items"] == []
    for path in ("/v1/trending", "/v1/search?q=anything"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"items": []}


async def test_every_feed_is_logged_as_impressions(catalogue: AppClient) -> None:
    await catalogue.post("/v1/events", json={"events": [event("s", "carol", "rl-0")]})
    body = await feed(catalogue, "carol", limit=5)
    rows = await catalogue.fetchval(
        """SELECT json_agg(json_build_object('paper', paper_id, 'position', position,
                  'score', score, 'n', cardinality(features)) ORDER BY position)
           FROM impressions WHERE request_id = $1""",
        body["request_id"],
    )
    import json

    logged = json.loads(rows)
    assert [r["paper"] for r in logged] == ids(body)
    assert [r["position"] for r in logged] == list(range(5))
    assert all(r["n"] == len(NAMES) for r in logged)
    for r, item in zip(logged, body["items"], strict=True):
        assert abs(r["score"] - item["score"]) < 1e-4
    names = await catalogue.fetchval(
        "SELECT feature_names FROM feeds WHERE request_id = $1", body["request_id"]
    )
    assert tuple(names) == NAMES


async def test_papers_shown_too_often_are_rested(catalogue: AppClient) -> None:
    # max_impressions_per_paper is 5: after five feeds the same top papers make way.
    first = ids(await feed(catalogue, "dave", limit=3))
    for _ in range(4):
        await feed(catalogue, "dave", limit=3)
    later = ids(await feed(catalogue, "dave", limit=3))
    assert not set(first) & set(later)


async def test_similar_search_and_trending(catalogue: AppClient) -> None:
    similar = (await catalogue.get("/v1/papers/rl-0/similar?limit=3")).json()["items"]
    assert [i["paper_id"].split("-")[0] for i in similar] == ["rl"] * 3
    assert "rl-0" not in [i["paper_id"] for i in similar]

    found = (
        await catalogue.get("/v1/search", params={"q": "protein structure prediction", "limit": 2})
    ).json()
    assert found["items"][0]["paper_id"].startswith("proteins-")
    assert found["items"][0]["reasons"] == ["search"]

    await catalogue.post(
        "/v1/events",
        json={"events": [event("t1", "x", "rl-3", "save"), event("t2", "y", "rl-2", "click")]},
    )
    trending = (await catalogue.get("/v1/trending?days=365")).json()["items"]
    assert [(i["paper_id"], i["score"]) for i in trending] == [("rl-3", 3.0), ("rl-2", 1.0)]


async def test_concurrent_feeds_all_succeed(catalogue: AppClient) -> None:
    responses = await asyncio.gather(
        *(catalogue.get(f"/v1/users/u{i}/feed?limit=5") for i in range(20))
    )
    assert [r.status_code for r in responses] == [200] * 20
    assert len({r.json()["request_id"] for r in responses}) == 20


async def test_bad_query_parameters_are_refused(catalogue: AppClient) -> None:
    cases = [
        ("/v1/users/alice/feed?limit=0", 400),
        ("/v1/users/alice/feed?limit=abc", 400),
        ("/v1/users/alice/feed?limit=101", 400),
        ("/v1/users/bad%20user/feed", 400),
        ("/v1/search", 400),
        ("/v1/search?q=", 400),
        ("/v1/search?q=%20%20", 400),
        ("/v1/trending?days=0", 400),
        ("/v1/trending?days=366", 400),
        ("/v1/papers/nope/similar", 404),
        ("/v1/papers/nope", 404),
    ]
    for path, status in cases:
        response = await catalogue.get(path)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), path
        assert response.json()["detail"], path


async def test_servers_never_fit_and_swap_to_the_fit_jobs_artifact(
    settings: Settings, embedder: Embedder
) -> None:
    paced = replace(settings, stats_refresh_seconds=0.1)
    async with running_app(paced, embedder) as client:
        runtime = runtime_of(client)
        saves = [
            event(f"c{reader}{i}", f"reader{reader}", f"rl-{(reader + i) % 3}")
            for reader in range(4)
            for i in range(2)
        ]
        papers = [p for p in topic_papers() if p["id"].startswith("rl-")]
        assert (await client.post("/v1/papers", json={"papers": papers})).status_code == 200
        assert (await client.post("/v1/events", json={"events": saves})).status_code == 200
        # The periodic refreshes renew the live counts within a second; with no artifact
        # nothing collaborative is served, and nothing is fitted, however long we wait.
        for _ in range(100):
            if len(runtime.stats.counts) == 3:
                break
            await asyncio.sleep(0.05)
        assert len(runtime.stats.counts) == 3
        refreshed = (await client.post("/v1/admin/stats/refresh")).json()
        assert refreshed["cosave_lists"] == 0 and "/" not in refreshed["version"]
        none = runtime.stats.models
        assert none.version == "none" and none.factors is None
        assert len(none.related) == len(none.ease) == len(none.cosaves) == 0

        # `paperfeed fit` in another process: the server swaps within MODEL_POLL_SECONDS.
        params = dataclasses.replace(DEFAULT_PARAMS, threads=paced.threads)
        async with side_store(runtime.database_url) as store:
            fitted = await fit_and_register(store, paced.resolved_model_dir(), params)
        assert fitted is not None
        assert fitted.path == paced.resolved_model_dir() / "collab" / fitted.version
        assert (fitted.papers, fitted.readers, fitted.saves) == (3, 4, 8)
        waited = time.monotonic()
        while runtime.stats.models.version != fitted.version:
            assert time.monotonic() - waited < paced.model_poll_seconds + 2.0
            await asyncio.sleep(0.02)
        models = runtime.stats.models
        assert len(models.related) == len(models.ease) == 3 and models.factors is not None
        assert models.cosaves and isinstance(models.related.keys.base, np.memmap)  # mapped
        # The feed records the statistics and collaborative versions it was ranked with.
        feed = (await client.get("/v1/users/reader0/feed?limit=3")).json()
        logged = await client.fetchval(
            "SELECT stats_version FROM feeds WHERE request_id = $1",
            uuid.UUID(feed["request_id"]),
        )
        assert logged.startswith("stats-") and logged.endswith(f"/{fitted.version}")

        # A fit registered with --no-activate is not served, nor an artifact that cannot
        # be loaded: the current models keep serving.
        async with side_store(runtime.database_url) as store:
            await fit_and_register(store, paced.resolved_model_dir(), params, activate=False)
            await store.register_collab("collab-broken", "/nowhere", {})
        await asyncio.sleep(3 * paced.model_poll_seconds)
        assert runtime.stats.models.version == fitted.version
        assert (await client.get("/v1/users/reader0/feed?limit=3")).status_code == 200
