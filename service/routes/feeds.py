"""The reader's personal feed."""

from __future__ import annotations

from litestar import get

from service import wire
from service.auth import requires
from service.feed import serve_feed
from service.routes.params import Limit, UserPath, limit_or_default
from service.routes.problems import problems
from service.runtime import RuntimeDep


@get(
    "/v1/users/{user_id:str}/feed",
    tags=["feed"],
    responses=problems(),
    guards=[requires("feed:read", readers="own")],
)
async def get_feed(user_id: UserPath, runtime: RuntimeDep, limit: Limit = None) -> wire.Feed:
    """The reader's personal feed. A reader with no history gets popular and fresh papers;
    saved and dismissed papers are never included. Each call is logged as impressions
    under the returned `request_id`: send it back with the reader's events."""
    return await serve_feed(runtime, user_id, limit_or_default(limit, runtime))


HANDLERS = [get_feed]
