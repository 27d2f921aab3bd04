"""A reader's feed page by page: cursors, variety (one paper per work, an author cap per
page), explanations that name what the reader really did, and explain=true."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import lightgbm
import numpy as np
import pytest

from ranking.embedder import Embedder, paper_text
from ranking.model import LightGBMRanker
from storage.pages import expire_lists
from tests.support import TOPICS, AppClient, event, runtime_of, side_store, wait_indexed


async def get_feed(client: AppClient, user: str, status: int = 200, **params: Any) -> Any:
    response = await client.get(f"/v1/users/{user}/feed", params=params)
    assert response.status_code == status, response.text
    return response.json()


def ids(body: dict[str, Any]) -> list[str]:
    return [item["paper_id"] for item in body["items"]]


async def test_pages_continue_one_ranked_list_without_repeats(catalogue: AppClient) -> None:
    first = await get_feed(catalogue, "pia", limit=2)
    assert first["page"] == 1 and first["next"]
    pages, cursor = [first], first["next"]
    for n in range(2, 6):
        body = await get_feed(catalogue, "pia", cursor=cursor)
        assert (body["request_id"], body["page"]) == (first["request_id"], n)
        assert [i["position"] for i in body["items"]] == [2 * n - 2, 2 * n - 1]
        pages.append(body)
        cursor = body["next"]
    served = [paper for body in pages for paper in ids(body)]
    assert len(served) == 10 == len(set(served))

    # Stable while the reader pages: a save in between changes nothing, and a retried page
    # is the same page, logged once.
    await catalogue.post("/v1/events", json={"events": [event("p1", "pia", served[0])]})
    again = await get_feed(catalogue, "pia", cursor=pages[4]["next"])
    assert ids(again) == ids(await get_feed(catalogue, "pia", cursor=pages[4]["next"]))
    assert not set(ids(again)) & set(served)
    assert again["next"] is None  # 12 papers: the sixth page of two is the last
    logged = await catalogue.fetchval(
        """SELECT json_agg(json_build_array(page, position, paper_id) ORDER BY position)::text
           FROM impressions WHERE request_id = $1""",
        first["request_id"],
    )
    assert json.loads(logged) == [
        [p // 2 + 1, p, paper] for p, paper in enumerate(served + ids(again))
    ]


async def test_forged_foreign_and_expired_cursors_are_refused(catalogue: AppClient) -> None:
    cursor = (await get_feed(catalogue, "quinn", limit=3))["next"]
    flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    for bad in (flipped, "not-a-cursor", cursor + "AA"):
        problem = await get_feed(catalogue, "quinn", 400, cursor=bad)
        assert "cursor" in problem["detail"] and "without a cursor" in problem["detail"]
    problem = await get_feed(catalogue, "rita", 400, cursor=cursor)  # another reader's
    assert "not valid for reader 'rita'" in problem["detail"]
    problem = await get_feed(catalogue, "quinn", 400, cursor=cursor, limit=5)
    assert "page size 3" in problem["detail"]
    assert (await get_feed(catalogue, "quinn", cursor=cursor, limit=3))["page"] == 2
    await catalogue.fetchval("UPDATE ranked_lists SET created_at = now() - interval '2 days'")
    problem = await get_feed(catalogue, "quinn", 410, cursor=cursor)
    assert "expired" in problem["detail"]
    # The periodic task (service.feed.expire_lists_forever) drops expired lists of every
    # reader, and only those; a feed request no longer does.
    await get_feed(catalogue, "sam", limit=3)
    ttl = timedelta(seconds=runtime_of(catalogue).settings.feed_cursor_ttl_seconds)
    async with side_store(runtime_of(catalogue).database_url) as store:
        assert await expire_lists(store, datetime.now(UTC) - ttl) == 1
    assert await catalogue.fetchval("SELECT array_agg(user_id) FROM ranked_lists") == ["sam"]


async def test_near_duplicates_collapse_and_authors_are_capped(
    catalogue: AppClient, embedder: Embedder
) -> None:
    abstract = "Attention alone, without recurrence, translates languages better and faster."
    extra = [
        {"id": "attn-1", "title": "Attention Is All You Need", "abstract": abstract},
        {"id": "attn-2", "title": "attention is all you need.", "abstract": "Transformers."},
        {"id": "attn-3", "title": "Attention Is All You Need (v2)", "abstract": abstract},
        *(
            {
                "id": f"ada-{i}",
                "title": title,
                "abstract": abstract,
                "authors": ["Ada Lovelace", f"Coauthor {i}"],
            }
            for i, (title, abstract) in enumerate(
                [
                    (
                        "Reward shaping for reinforcement learning",
                        "Shaped rewards speed up agents.",
                    ),
                    ("Model-based reinforcement learning agents", "A learned world model plans."),
                    (
                        "Multi-agent reinforcement learning in games",
                        "Agents compete and cooperate.",
                    ),
                    (
                        "Safe exploration for reinforcement learning",
                        "Constraints keep robots safe.",
                    ),
                ]
            )
        ),
    ]
    text = [paper_text(p["title"], p["abstract"]) for p in extra[:3]]
    vectors = embedder.embed([text[0], text[2]])
    assert float(vectors[0] @ vectors[1]) >= 0.95  # attn-3 is a near-duplicate of attn-1
    assert (await catalogue.post("/v1/papers", json={"papers": extra})).status_code == 200
    await wait_indexed(catalogue)
    saves = [event("s1", "sam", "rl-0"), event("s2", "sam", "rl-1")]
    assert (await catalogue.post("/v1/events", json={"events": saves})).status_code == 200

    body = await get_feed(catalogue, "sam", limit=3)
    pages = [body]
    while body["next"]:
        body = await get_feed(catalogue, "sam", cursor=body["next"])
        pages.append(body)
    served = [paper for page in pages for paper in ids(page)]
    assert len([p for p in served if p.startswith("attn-")]) == 1
    # The RL papers by Ada rank high for an RL reader, but no page has more than two.
    per_page = [sum(p.startswith("ada-") for p in ids(page)) for page in pages]
    assert max(per_page) == 2 and sum(per_page) == 4, per_page


async def test_explanations_name_papers_the_reader_really_saved(catalogue: AppClient) -> None:
    events = [
        event("e1", "tess", "proteins-0"),
        event("e2", "tess", "diffusion-0", "click"),
    ]
    assert (await catalogue.post("/v1/events", json={"events": events})).status_code == 200
    titles = {
        pid: (await catalogue.get(f"/v1/papers/{pid}")).json()["title"]
        for pid in ("proteins-0", "diffusion-0")
    }
    items = (await get_feed(catalogue, "tess", limit=10))["items"]
    said = {i["paper_id"]: i["explanation"] for i in items}
    assert all(said.values())
    saved = [p for p, s in said.items() if s.endswith("which you saved")]
    opened = [p for p, s in said.items() if s.endswith("which you opened")]
    assert saved and opened
    for p in saved:
        assert said[p] == f"Similar to *{titles['proteins-0']}*, which you saved"
    for p in opened:
        assert said[p] == f"Similar to *{titles['diffusion-0']}*, which you opened"
    assert {p.split("-")[0] for p in saved} == {"proteins"}


async def trained_model_text(client: AppClient) -> str:
    """A LightGBM lambdarank model trained on feeds this app served: six readers who each
    saved a paper, labelled by whether a served paper is on the saved paper's topic."""
    saves = [event(f"t{i}", f"trainee{i}", f"{t}-{i % 2}") for i, t in enumerate(list(TOPICS) * 2)]
    assert (await client.post("/v1/events", json={"events": saves})).status_code == 200
    for i in range(len(saves)):
        await get_feed(client, f"trainee{i}", limit=12)
    logged = json.loads(
        await client.fetchval(
            """SELECT json_agg(json_build_array(user_id, paper_id, features)
                               ORDER BY user_id, position)::text
               FROM impressions WHERE user_id LIKE 'trainee%'"""
        )
    )
    topic = {f"trainee{i}": t for i, t in enumerate(list(TOPICS) * 2)}
    x = np.array([f for _, _, f in logged], dtype=np.float32)
    y = np.array([paper.startswith(topic[user]) for user, paper, _ in logged], dtype=int)
    groups = [sum(1 for u, _, _ in logged if u == user) for user in sorted(topic)]
    params = {"objective": "lambdarank", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 3}
    booster = lightgbm.train(params, lightgbm.Dataset(x, y, group=groups), num_boost_round=10)
    return str(booster.model_to_string())


async def test_explain_contributions_sum_to_the_score(catalogue: AppClient) -> None:
    await catalogue.post("/v1/events", json={"events": [event("x1", "uma", "rl-2")]})

    def check(body: dict[str, Any]) -> None:
        assert body["items"]
        for item in body["items"]:
            total = sum(item["contributions"].values())
            assert total == pytest.approx(item["score"], abs=2e-6), item

    heuristic = await get_feed(catalogue, "uma", limit=4, explain="true")
    assert heuristic["model_version"] == "heuristic-1"
    check(heuristic)
    assert any(i["contributions"]["sim_profile"] > 0 for i in heuristic["items"])
    check(await get_feed(catalogue, "uma", cursor=heuristic["next"], explain="true"))
    plain = await get_feed(catalogue, "uma", limit=4)
    assert all(i["contributions"] is None for i in plain["items"])

    model = await trained_model_text(catalogue)
    runtime_of(catalogue).swap_ranker(LightGBMRanker(model, "trained-1"))
    trained = await get_feed(catalogue, "uma", limit=4, explain="true")
    assert trained["model_version"] == "trained-1"
    check(trained)
    assert all("bias" in i["contributions"] for i in trained["items"])
    assert np.std([i["score"] for i in trained["items"]]) > 0

    reader_key = await catalogue.create_key("feed:read")
    response = await catalogue.get(
        "/v1/users/uma/feed",
        params={"explain": "true"},
        headers={"Authorization": f"Bearer {reader_key}"},
    )
    assert response.status_code == 403 and "admin" in response.json()["detail"]
