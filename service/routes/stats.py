"""The catalogue statistics behind the features (admin): refresh now."""

from __future__ import annotations

import logging

from litestar import post
from litestar.status_codes import HTTP_200_OK

from service import wire
from service.auth import requires
from service.routes.problems import problems
from service.runtime import RuntimeDep

log = logging.getLogger(__name__)


@post(
    "/v1/admin/stats/refresh",
    status_code=HTTP_200_OK,
    tags=["admin"],
    responses=problems(),
    guards=[requires("admin")],
)
async def refresh_stats(runtime: RuntimeDep) -> wire.StatsSnapshot:
    """Recount this server's catalogue statistics (clicks, saves, impressions,
    popularity) in full and load the active collaborative models (`paperfeed fit`) now, instead
    of at the next `STATS_REFRESH_SECONDS` / `MODEL_POLL_SECONDS` tick. Nothing is fitted."""
    if runtime.collab_watcher is not None:
        await runtime.collab_watcher.check()
    stats = await runtime.refresh_stats(recount=True)
    log.info("statistics refreshed on request: %s", stats.version)
    return wire.StatsSnapshot(stats.version, len(stats.counts), len(stats.models.cosaves))


HANDLERS = [refresh_stats]
