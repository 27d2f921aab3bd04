"""The model registry (admin): list, activate, roll back."""

from __future__ import annotations

from typing import Annotated

from litestar import get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK

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
            wire.ModelInfo(m.version, m.created_at, m.version == active_version, m.metrics)
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


HANDLERS = [list_models, activate_model, rollback_model]
