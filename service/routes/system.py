"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from service import wire
from service.runtime import RuntimeDep


@get("/health", tags=["system"], exclude_from_auth=True, security=[{}])
async def get_health() -> wire.Health:
    """The process is up."""
    return wire.Health(status="ok")


@get(
    "/ready",
    tags=["system"],
    exclude_from_auth=True,
    security=[{}],
    responses={503: ResponseSpec(wire.Readiness, description="Not ready: `problems` says why.")},
)
async def get_ready(runtime: RuntimeDep) -> Response[wire.Readiness]:
    """Ready to serve: the database answers and the index is loaded. 503 otherwise."""
    problems: list[str] = []
    live = pending = 0
    database = True
    try:
        live, pending = await asyncio.wait_for(
            runtime.store.catalogue_counts(runtime.embedder.name), timeout=3
        )
    except Exception as exc:  # any failure here means "not ready", never a 500
        database = False
        problems.append(f"database unreachable: {type(exc).__name__}: {exc}")
    if runtime.draining:
        problems.append("shutting down")
    ok = database and not runtime.draining
    body = wire.Readiness(
        status="ok" if ok else "unavailable",
        database=database,
        index_loaded=True,
        papers=live,
        indexed=len(runtime.index),
        pending_embeddings=pending,
        model_version=runtime.ranker.version,
        problems=problems,
    )
    return Response(body, status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE)


HANDLERS = [get_health, get_ready]
