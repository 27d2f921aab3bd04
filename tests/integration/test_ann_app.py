"""The app with approximate search forced on (PAPERFEED_ANN_MIN_PAPERS=0): papers are found,
and a withdrawn one is never served from the graph."""

from __future__ import annotations

import msgspec

from ranking.embedder import Embedder
from service.settings import Settings
from tests.support import running_app, runtime_of, topic_papers, wait_indexed


async def test_a_withdrawn_paper_is_never_served_from_the_graph(
    settings: Settings, embedder: Embedder
) -> None:
    forced = msgspec.structs.replace(settings, ann_min_papers=0)
    async with running_app(forced, embedder) as client:
        assert (await client.post("/v1/papers", json={"papers": topic_papers()})).status_code == 200
        await wait_indexed(client)
        index = runtime_of(client).index
        assert index.approximate and len(index) == len(topic_papers())

        similar = (await client.get("/v1/papers/diffusion-1/similar?limit=50")).json()["items"]
        assert "diffusion-0" in {i["paper_id"] for i in similar}

        assert (await client.delete("/v1/papers/diffusion-0")).status_code == 204
        served = {
            i["paper_id"]
            for i in (await client.get("/v1/papers/diffusion-1/similar?limit=50")).json()["items"]
        }
        served |= {
            i["paper_id"]
            for i in (await client.get("/v1/search?q=diffusion image generation&limit=50")).json()[
                "items"
            ]
        }
        served |= {
            i["paper_id"]
            for i in (await client.get("/v1/users/newcomer/feed?limit=50")).json()["items"]
        }
        assert "diffusion-0" not in served and "diffusion-2" in served
        assert index.approximate and index.dead == 1  # filtered, not yet rebuilt
