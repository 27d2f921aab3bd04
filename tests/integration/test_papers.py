"""Catalogue: upsert, re-embedding, withdrawal and bad input, against the real app."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.support import AppClient, runtime_of, topic_papers, wait_indexed


async def test_upsert_is_idempotent_and_counts_changes(client: AppClient) -> None:
    papers = topic_papers()[:3]
    first = (await client.post("/v1/papers", json={"papers": papers})).json()
    assert first == {"added": 3, "updated": 0, "unchanged": 0, "rejected": []}

    again = (await client.post("/v1/papers", json={"papers": papers})).json()
    assert again == {"added": 0, "updated": 0, "unchanged": 3, "rejected": []}

    papers[1] = {**papers[1], "authors": ["A. Author"]}
    changed = (await client.post("/v1/papers", json={"papers": papers})).json()
    assert changed == {"added": 0, "updated": 1, "unchanged": 2, "rejected": []}

    got = (await client.get(f"/v1/papers/{papers[1]['id']}")).json()
    assert got["authors"] == ["A. Author"]
    assert got["title"] == papers[1]["title"]


async def test_changed_text_is_embedded_again(client: AppClient) -> None:
    rt = runtime_of(client)
    paper = topic_papers()[0]
    await client.post("/v1/papers", json={"papers": [paper]})
    await wait_indexed(client)
    seq = await client.fetchval("SELECT seq FROM papers WHERE id = $1", paper["id"])
    before = rt.index.vectors([seq])[1][0].copy()
    embedded_before = rt.worker.embedded

    # Metadata only: no new embedding.
    await client.post("/v1/papers", json={"papers": [{**paper, "url": "https://example.org/p"}]})
    await wait_indexed(client)
    assert rt.worker.embedded == embedded_before

    new_text = {**paper, "abstract": "Protein folding simulated with molecular dynamics."}
    result = (await client.post("/v1/papers", json={"papers": [new_text]})).json()
    assert result["updated"] == 1
    await wait_indexed(client)
    assert rt.worker.embedded == embedded_before + 1
    after = rt.index.vectors([seq])[1][0]
    assert float(before @ after) < 0.95  # the vector moved with the text
    assert np.isclose(
        float(after @ rt.embedder.embed([f"{paper['title']}. {new_text['abstract']}"])[0]),
        1.0,
        atol=1e-4,
    )
    assert (await client.get(f"/v1/papers/{paper['id']}")).json()["embedded"] is True


async def test_withdrawn_paper_is_never_served(catalogue: AppClient) -> None:
    client = catalogue
    gone = "diffusion-0"
    await client.post(
        "/v1/events",
        json={
            "events": [
                {
                    "event_id": "w1",
                    "user_id": "fan",
                    "paper_id": gone,
                    "type": "save",
                    "occurred_at": "2026-01-01T00:00:00Z",
                },
                {
                    "event_id": "w2",
                    "user_id": "fan",
                    "paper_id": "diffusion-1",
                    "type": "save",
                    "occurred_at": "2026-01-01T00:00:00Z",
                },
            ]
        },
    )
    assert (await client.delete(f"/v1/papers/{gone}")).status_code == 204
    assert (await client.delete(f"/v1/papers/{gone}")).status_code == 204  # idempotent

    assert (await client.get(f"/v1/papers/{gone}")).status_code == 410
    assert (await client.get(f"/v1/papers/{gone}/similar")).status_code == 410
    served: set[str] = set()
    for user in ("fan", "newcomer", "other"):
        served |= {
            i["paper_id"]
            for i in (await client.get(f"/v1/users/{user}/feed?limit=50")).json()["items"]
        }
    served |= {
        i["paper_id"]
        for i in (await client.get("/v1/search?q=diffusion image generation&limit=50")).json()[
            "items"
        ]
    }
    served |= {
        i["paper_id"]
        for i in (await client.get("/v1/papers/diffusion-1/similar?limit=50")).json()["items"]
    }
    served |= {
        i["paper_id"] for i in (await client.get("/v1/trending?days=365&limit=50")).json()["items"]
    }
    assert gone not in served
    assert "diffusion-2" in served  # the rest is still served

    readd = await client.post("/v1/papers", json={"papers": [topic_papers()[0]]})
    assert readd.status_code == 422
    assert "withdrawn" in readd.json()["rejected"][0]["reason"]
    assert (await client.delete("/v1/papers/no-such-paper")).status_code == 404


async def test_bad_paper_input_is_refused_with_a_reason(client: AppClient) -> None:
    good = {"id": "p1", "title": "A title"}
    cases: list[tuple[Any, int, str]] = [
        ({"papers": [{"id": "p1"}]}, 400, "title"),
        ({"papers": [{**good, "title": ""}]}, 400, "length"),
        ({"papers": [{**good, "colour": "red"}]}, 400, "colour"),
        ({"papers": [good], "extra": 1}, 400, "extra"),
        ({"papers": [{**good, "id": "bad id with spaces"}]}, 400, "papers[0].id"),
        ({"papers": [{**good, "published_at": "2024-01-01T00:00:00"}]}, 400, "timezone"),
        ({"papers": []}, 400, "length"),
        ({"papers": [{**good, "id": f"p{i}"} for i in range(1001)]}, 400, "length"),
        ({"papers": [{**good, "title": " \t "}]}, 400, "papers[0].title"),
        ({"papers": [{**good, "abstract": "nul \u0000 inside"}]}, 400, "papers[0].abstract"),
        ({"papers": [{**good, "authors": ["x" * 301]}]}, 400, "papers[0].authors[0]"),
        # Strict: a unix timestamp is not a date-time, a number is not a string.
        ({"papers": [{**good, "published_at": 1700000000}]}, 400, "papers[0].published_at"),
        ({"papers": [{**good, "title": 12}]}, 400, "papers[0].title"),
        ([1, 2], 400, "object"),
    ]
    for body, status, needle in cases:
        response = await client.post("/v1/papers", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert needle in response.text, (needle, response.text)

    malformed = await client.post(
        "/v1/papers", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400

    huge = {"papers": [{"id": f"p{i}", "title": "t", "abstract": "x" * 19_000} for i in range(300)]}
    too_large = await client.post("/v1/papers", json=huge)
    assert too_large.status_code == 413

    duplicate = (
        await client.post("/v1/papers", json={"papers": [good, {**good, "title": "Other"}]})
    ).json()
    assert duplicate["added"] == 1
    assert "repeats papers[0]" in duplicate["rejected"][0]["reason"]

    # Nothing from the refused requests was written.
    assert await client.fetchval("SELECT count(*) FROM papers") == 1


async def test_options_lists_every_method_of_a_paper(client: AppClient) -> None:
    # GET and DELETE are two handlers on one path (litestar-org/litestar#4169).
    response = await client.options("/v1/papers/p1")
    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, OPTIONS"
    assert (await client.options("/v1/papers")).headers["allow"] == "OPTIONS, POST"
