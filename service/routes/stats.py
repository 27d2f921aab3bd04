"""The catalogue statistics behind the features (admin): refresh now."""

from __future__ import annotations

from litestar import post
from litestar.status_codes import HTTP_200_OK

from service import wire
from service.auth import requires
from service.routes.problems import problems
from service.runtime import RuntimeDep


@post(
    "/v1/admin/stats/refresh",
    status_code=HTTP_200_OK,
    tags=["admin"],
    responses=problems(),
    guards=[requires("admin")],
)
async def refresh_stats(runtime: RuntimeDep) -> wire.StatsSnapshot:
    """Recompute this server's catalogue statistics (popularity, co-saves) and refit its
    collaborative models (RP3beta, EASE, ALS) now instead of at the next
    `STATS_REFRESH_SECONDS` / `COLLAB_REFRESH_SECONDS` tick."""
    stats = await runtime.refresh_stats(refit=True)
    return wire.StatsSnapshot(stats.version, len(stats.papers), len(stats.models.cosaves))


HANDLERS = [refresh_stats]
