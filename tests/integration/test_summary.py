"""The console's live numbers (GET /v1/admin/metrics/summary) from real feeds and events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ranking.features import NAMES
from storage.rows import Impression
from tests.support import AppClient, event, runtime_of, side_store


async def summary(client: AppClient, hours: int) -> dict[str, Any]:
    response = await client.get("/v1/admin/metrics/summary", params={"hours": hours})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_rates_per_model_version_and_position(catalogue: AppClient) -> None:
    feed = (await catalogue.get("/v1/users/alice/feed?limit=4")).json()
    alice = [item["paper_id"] for item in feed["items"]]
    # Another server, ranking with model "m1", served bob a feed of three; and a feed three
    # hours ago is outside a two-hour window.
    async with side_store(runtime_of(catalogue).database_url) as store:
        bob_request = uuid.uuid4()
        shown = [Impression(p, f"rl-{p}", 0.0, [0.0] * len(NAMES)) for p in range(3)]
        now = datetime.now(UTC)
        await store.log_feed(bob_request, "bob", now, "m1", "s", NAMES, 3, shown)
        old = now - timedelta(hours=3)
        await store.log_feed(uuid.uuid4(), "carol", old, "m1", "s", NAMES, 3, shown)
    request = feed["request_id"]
    events = [
        event("c1", "alice", alice[0], "click", request_id=request),
        event("c2", "alice", alice[0], "click", request_id=request),  # the same paper again
        event("s1", "alice", alice[1], "save", request_id=request),
        event("d1", "bob", "rl-0", "dismiss", request_id=str(bob_request)),
        event("s2", "alice", "proteins-3", "save"),  # from a search: no feed to credit
    ]
    assert (await catalogue.post("/v1/events", json={"events": events})).json()["accepted"] == 5

    body = await summary(catalogue, 2)
    assert (body["feeds"], body["impressions"], body["bucket_seconds"]) == (2, 7, 120)
    assert body["events"] == {"click": 2, "save": 2, "dismiss": 1}
    assert body["events_per_minute"] == round(5 / 120, 3)
    rates = {r["model_version"]: r for r in body["by_model"]}
    assert rates["heuristic-1"] == {
        "model_version": "heuristic-1",
        "feeds": 1,
        "impressions": 4,
        "clicked": 1,
        "saved": 1,
        "dismissed": 0,
        "click_rate": 0.25,
        "save_rate": 0.25,
    }
    assert (rates["m1"]["feeds"], rates["m1"]["impressions"], rates["m1"]["dismissed"]) == (1, 3, 1)
    positions = {r["position"]: r for r in body["by_position"]}
    assert sorted(positions) == [0, 1, 2, 3]
    assert (positions[0]["impressions"], positions[0]["clicked"], positions[0]["dismissed"]) == (
        2,
        1,
        1,
    )
    assert positions[1]["save_rate"] == 0.5
    # Buckets hold what happened, by model version and event type.
    assert sum(sum(b["feeds"].values()) for b in body["timeline"]) == 2
    assert sum(b["events"].get("click", 0) for b in body["timeline"]) == 2

    assert (await summary(catalogue, 4))["by_model"][1]["feeds"] == 2  # carol's feed too


async def test_the_window_is_bounded(client: AppClient) -> None:
    empty = await summary(client, 1)
    assert (empty["feeds"], empty["by_model"], empty["timeline"]) == (0, [], [])
    for hours in (0, 169, "x"):
        response = await client.get("/v1/admin/metrics/summary", params={"hours": hours})
        assert response.status_code == 400, hours
        assert "hours" in response.text
