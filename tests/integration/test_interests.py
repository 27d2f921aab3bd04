"""Onboarding: a reader's topics and papers shape their very next feed, then fade."""

from __future__ import annotations

from typing import Any

import numpy as np

from ranking.embedder import Embedder, paper_text
from tests.support import TOPICS, AppClient, event


async def top(client: AppClient, user: str, k: int = 4) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/users/{user}/feed", params={"limit": k})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def closeness(embedder: Embedder, topic: str, items: list[dict[str, Any]]) -> float:
    """Mean cosine, by the embedding model, between `topic` and the served papers."""
    texts = {
        f"{name}-{i}": paper_text(title, abstract)
        for name, papers in TOPICS.items()
        for i, (title, abstract) in enumerate(papers)
    }
    vectors = embedder.embed([topic] + [texts[i["paper_id"]] for i in items])
    return float(np.mean(vectors[1:] @ vectors[0]))


async def test_topics_shape_the_very_next_feed(catalogue: AppClient, embedder: Embedder) -> None:
    topic = "how proteins fold into three-dimensional structures"
    before = await top(catalogue, "nina")
    response = await catalogue.put("/v1/users/nina/interests", json={"topics": [f"  {topic} "]})
    assert response.status_code == 200, response.text
    assert response.json()["topics"] == [topic] and response.json()["weight"] == 1.0

    after = await top(catalogue, "nina")
    assert {i["paper_id"].split("-")[0] for i in after} == {"proteins"}
    assert closeness(embedder, topic, after) > closeness(embedder, topic, before) + 0.1
    assert all(i["explanation"] == f"Matches your interest in {topic}" for i in after)

    # Papers work too, and are not recommended back.
    response = await catalogue.put("/v1/users/nina/interests", json={"paper_ids": ["rl-0"]})
    assert response.status_code == 200, response.text
    after = await top(catalogue, "nina", k=3)
    assert {i["paper_id"].split("-")[0] for i in after} == {"rl"}
    assert "rl-0" not in [i["paper_id"] for i in after]
    assert all(i["explanation"].endswith("which you picked as an interest") for i in after)
    assert {i["similar_to"] for i in after} == {"rl-0"}
    got = (await catalogue.get("/v1/users/nina/interests")).json()
    assert (got["topics"], got["paper_ids"]) == ([], ["rl-0"]) and got["updated_at"]


async def test_interests_fade_as_saves_accumulate_and_are_deleted_with_the_reader(
    catalogue: AppClient,
) -> None:
    body = {"topics": ["image generation with diffusion"], "paper_ids": ["diffusion-0"]}
    assert (await catalogue.put("/v1/users/omar/interests", json=body)).status_code == 200
    saves = [event(f"o{i}", "omar", f"proteins-{i}") for i in range(4)]
    saves.append(event("o4", "omar", "rl-3"))
    assert (await catalogue.post("/v1/events", json={"events": saves})).status_code == 200
    assert (await catalogue.get("/v1/users/omar/interests")).json()["weight"] == 0.5
    exported = (await catalogue.get("/v1/users/omar/export")).json()
    assert [i["topics"] for i in exported["interests"]] == [body["topics"]]
    deleted = (await catalogue.delete("/v1/users/omar")).json()
    assert deleted["interests"] == 1
    empty = (await catalogue.get("/v1/users/omar/interests")).json()
    assert (empty["topics"], empty["paper_ids"], empty["updated_at"]) == ([], [], None)


async def test_bad_interests_are_refused_with_reasons(catalogue: AppClient) -> None:
    response = await catalogue.put(
        "/v1/users/pat/interests", json={"paper_ids": ["rl-1", "nope-1", "nope-2"]}
    )
    assert response.status_code == 422
    problem = response.json()
    assert "'nope-1', 'nope-2'" in problem["detail"]
    assert problem["unknown_paper_ids"] == ["nope-1", "nope-2"]
    await catalogue.delete("/v1/papers/rl-2")
    response = await catalogue.put("/v1/users/pat/interests", json={"paper_ids": ["rl-2"]})
    assert response.status_code == 422 and "withdrawn: 'rl-2'" in response.json()["detail"]
    for bad in (
        {"topics": ["   "]},
        {"topics": ["x"] * 11},
        {"topics": "one string"},
        {"topic": ["misspelt field"]},
        {"paper_ids": ["has space"]},
    ):
        response = await catalogue.put("/v1/users/pat/interests", json=bad)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["detail"]
    # Nothing was stored by the refusals.
    assert (await catalogue.get("/v1/users/pat/interests")).json()["updated_at"] is None
