"""The model registry (admin): list, activate, roll back, and each model's training report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from litestar import get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK

from ranking.artifacts import read_report
from ranking.errors import ArtifactError, NotFound
from service import wire
from service.auth import requires
from service.routes.problems import problems
from service.runtime import Runtime, RuntimeDep
from storage import registry

ADMIN = requires("admin")


async def _state(runtime: Runtime) -> wire.ModelList:
    active = await runtime.store.active_model()
    active_version = active.version if active else None
    return wire.ModelList(
        active=runtime.ranker.version,
        models=[
            wire.ModelInfo(
                m.version, m.created_at, m.version == active_version, m.metrics, m.data_window
            )
            for m in await runtime.store.list_models()
        ],
    )


async def _apply(runtime: Runtime) -> wire.ModelList:
    # This process swaps at once; the others within `model_poll_seconds`.
    if runtime.watcher is not None:
        await runtime.watcher.check()
    return await _state(runtime)


@get("/v1/admin/models", tags=["admin"], responses=problems(), guards=[ADMIN])
async def list_models(runtime: RuntimeDep) -> wire.ModelList:
    """Registered models, newest first, and the version ranking feeds now."""
    return await _state(runtime)


@post(
    "/v1/admin/models/{version:str}/activate",
    status_code=HTTP_200_OK,
    tags=["admin"],
    responses=problems(404, 422),
    guards=[ADMIN],
)
async def activate_model(
    version: Annotated[str, Parameter(max_length=200, description='A version, or "heuristic"')],
    runtime: RuntimeDep,
) -> wire.ModelList:
    """Make a registered model (or "heuristic") rank every feed. Its artifact is checked
    first: a corrupt or mismatched model is refused and the active one keeps serving."""
    await registry.activate(runtime.store, version, reason="api")
    return await _apply(runtime)


@post(
    "/v1/admin/models/rollback",
    status_code=HTTP_200_OK,
    tags=["admin"],
    responses=problems(409),
    guards=[ADMIN],
)
async def rollback_model(runtime: RuntimeDep) -> wire.ModelList:
    """Undo the latest activation: the model active before it ranks again. 409 when no
    activation is left to undo."""
    await registry.rollback(runtime.store)
    return await _apply(runtime)


@get(
    "/v1/admin/models/{version:str}/report",
    tags=["admin"],
    responses=problems(404),
    guards=[ADMIN],
)
async def get_model_report(
    version: Annotated[str, Parameter(max_length=200, description="A registered version")],
    runtime: RuntimeDep,
) -> wire.ModelReport:
    """What `paperfeed train` wrote about a registered model: its manifest (parameters,
    metrics, data window, promotion gate, feature importance), report.md, and its plots
    as base64 PNG. 404 for an unknown version or an artifact folder that cannot be read."""
    known = {m.version: m for m in await runtime.store.list_models()}
    if version not in known:
        raise NotFound(f"no registered model {version!r}")
    try:
        manifest, text, plots = await asyncio.to_thread(read_report, Path(known[version].path))
    except ArtifactError as exc:
        raise NotFound(f"model {version!r} has no readable artifact: {exc}") from exc
    return wire.ModelReport(
        version=version,
        created_at=known[version].created_at,
        manifest=manifest,
        report_markdown=text,
        plots=[wire.Plot(name, png) for name, png in plots.items()],
    )


HANDLERS = [list_models, activate_model, rollback_model, get_model_report]
