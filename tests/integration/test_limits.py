"""Rate limiting per key: a burst of 10× the limit gets 429s with Retry-After; memory stays
flat. Load shedding: beyond the concurrency limit, 503 with Retry-After."""

from __future__ import annotations

import asyncio

import psutil
from msgspec.structs import replace

from ranking.embedder import Embedder
from service.settings import Settings
from tests.support import running_app

LIMIT = 30


async def test_a_burst_over_the_rate_limit_gets_429_with_retry_after(
    settings: Settings, embedder: Embedder
) -> None:
    limited = replace(settings, rate_limit_per_minute=LIMIT, max_concurrent_requests=0)
    async with running_app(limited, embedder) as client:
        me = psutil.Process()
        rss = []
        for burst in range(3):
            responses = await asyncio.gather(
                *(client.get("/v1/trending") for _ in range(10 * LIMIT))
            )
            statuses = [r.status_code for r in responses]
            assert statuses.count(200) == (LIMIT if burst == 0 else 0)
            assert statuses.count(429) == len(statuses) - statuses.count(200)
            refused = next(r for r in responses if r.status_code == 429)
            assert int(refused.headers["Retry-After"]) >= 1
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert "Retry-After" in refused.json()["detail"]
            assert (await client.get("/health")).status_code == 200  # probes are exempt
            # The limit counts per key: another key still has its whole allowance.
            other = {"Authorization": f"Bearer {await client.create_key('feed:read')}"}
            assert (await client.get("/v1/trending", headers=other)).status_code == 200
            rss.append(me.memory_info().rss)
        growth = (rss[-1] - rss[0]) / 2**20
        print(f"RSS after each burst of {10 * LIMIT}: {[round(r / 2**20) for r in rss]} MiB")
        assert growth < 20, f"memory grew {growth:.1f} MiB over two bursts"


async def test_an_overloaded_server_sheds_load_with_503_and_retry_after(
    settings: Settings, embedder: Embedder
) -> None:
    async with running_app(replace(settings, max_concurrent_requests=2), embedder) as client:
        # Semantic search embeds the query: slow enough that 40 at once overflow 2 slots.
        responses = await asyncio.gather(
            *(client.get("/v1/search", params={"q": f"topic {i}"}) for i in range(40)),
            *(client.get("/health") for _ in range(10)),
        )
        search, health = responses[:40], responses[40:]
        statuses = sorted({r.status_code for r in search})
        assert statuses == [200, 503], statuses
        shed = next(r for r in search if r.status_code == 503)
        assert shed.headers["Retry-After"] == "1"
        assert shed.headers["content-type"].startswith("application/problem+json")
        assert "retry after" in shed.json()["detail"]
        assert all(r.status_code == 200 for r in health)  # probes are never shed
        print(
            f"{sum(r.status_code == 200 for r in search)} served, "
            f"{sum(r.status_code == 503 for r in search)} shed"
        )
