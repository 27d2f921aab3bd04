"""Trending papers by day ("Daily Papers"): most saved and clicked, or published, that day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support import AppClient, event


async def test_trending_for_any_day(catalogue: AppClient) -> None:
    events = [
        event("d1", "x", "rl-3", "save", at="2026-11-20T10:00:00Z"),
        event("d2", "y", "rl-3", "click", at="2026-11-20T23:59:00Z"),
        event("d3", "y", "rl-2", "click", at="2026-11-20T00:00:00Z"),
        event("d4", "x", "proteins-1", "save", at="2026-11-21T00:00:00Z"),
    ]
    assert (await catalogue.post("/v1/events", json={"events": events})).status_code == 200
    papers = [
        {"id": "new-1", "title": "Graph transformers", "published_at": "2026-11-20T08:00:00Z"},
        {"id": "new-2", "title": "Sparse attention", "published_at": "2026-11-20T22:00:00Z"},
        {"id": "new-3", "title": "Mixture of experts", "published_at": "2026-11-21T01:00:00Z"},
    ]
    assert (await catalogue.post("/v1/papers", json={"papers": papers})).status_code == 200
    await catalogue.post("/v1/events", json={"events": [event("d5", "z", "new-1", "click")]})

    day = (await catalogue.get("/v1/trending?date=2026-11-20")).json()["items"]
    assert [(i["paper_id"], i["score"]) for i in day] == [("rl-3", 4.0), ("rl-2", 1.0)]
    assert day[0]["explanation"] == "1 save and 1 click on 2026-11-20"
    assert day[0]["reasons"] == ["popular"]
    after = (await catalogue.get("/v1/trending?date=2026-11-21")).json()["items"]
    assert [i["paper_id"] for i in after] == ["proteins-1"]

    published = (await catalogue.get("/v1/trending?date=2026-11-20&by=published")).json()
    # Most feedback first, then newest.
    assert [i["paper_id"] for i in published["items"]] == ["new-1", "new-2"]
    assert published["items"][0]["explanation"] == "Published on 2026-11-20; 1 click so far"
    assert published["items"][1]["explanation"] == "Published on 2026-11-20"
    # The window still works, and `by=published` with it.
    window = (await catalogue.get("/v1/trending?days=365")).json()["items"]
    assert [i["paper_id"] for i in window][:2] == ["rl-3", "proteins-1"]
    recent = (await catalogue.get("/v1/trending?days=30&by=published&limit=50")).json()["items"]
    assert {"new-1", "new-2", "new-3"} <= {i["paper_id"] for i in recent}


async def test_bad_days_are_refused(catalogue: AppClient) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    cases = {
        "date=2026-13-01": "date",
        "date=yesterday": "date",
        "date=2026-11-20&days=3": "not both",
        f"date={tomorrow}": "in the future",
        "by=popularity": "by",
    }
    for query, reason in cases.items():
        response = await catalogue.get(f"/v1/trending?{query}")
        assert response.status_code == 400, (query, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert reason in problem["detail"] + str(problem.get("errors")), (query, problem)
