"""Rate limiting: a burst of 10× the limit gets 429s with Retry-After; memory stays flat."""

from __future__ import annotations

import asyncio

import psutil
from msgspec.structs import replace

from ranking.embedder import Embedder
from service.settings import Settings
from tests.conftest import running_app

LIMIT = 30


async def test_a_burst_over_the_rate_limit_gets_429_with_retry_after(
    settings: Settings, embedder: Embedder
) -> None:
    async with running_app(replace(settings, rate_limit_per_minute=LIMIT), embedder) as client:
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
            rss.append(me.memory_info().rss)
        growth = (rss[-1] - rss[0]) / 2**20
        print(f"RSS after each burst of {10 * LIMIT}: {[round(r / 2**20) for r in rss]} MiB")
        assert growth < 20, f"memory grew {growth:.1f} MiB over two bursts"
