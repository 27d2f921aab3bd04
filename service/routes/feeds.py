"""The reader's personal feed, page by page."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import Parameter

from ranking.errors import Forbidden
from service import wire
from service.auth import principal_of, requires
from service.feed import serve_feed, serve_page
from service.routes.params import Limit, UserPath, limit_or_default
from service.routes.problems import problems
from service.runtime import RuntimeDep

Cursor = Annotated[
    str | None,
    Parameter(
        max_length=200,
        description="The `next` of the previous page: continues the same ranked list",
    ),
]
Explain = Annotated[
    bool,
    Parameter(
        description="Add each item's per-feature contributions to its score (admin keys only)"
    ),
]


@get(
    "/v1/users/{user_id:str}/feed",
    tags=["feed"],
    responses=problems(410),
    guards=[requires("feed:read", readers="own")],
)
async def get_feed(
    user_id: UserPath,
    runtime: RuntimeDep,
    request: Request[Any, Any, Any],
    limit: Limit = None,
    cursor: Cursor = None,
    explain: Explain = False,
) -> wire.Feed:
    """The reader's personal feed. A reader with no history gets popular and fresh papers
    (and papers on their interests, once set); saved and dismissed papers are never
    included. Each call is logged as impressions under the returned `request_id`: send it
    back with the reader's events. Send `next` as `cursor` for the next page of the same
    ranked list (same `request_id`; no paper twice); it expires after
    PAPERFEED_FEED_CURSOR_TTL_SECONDS (410)."""
    if explain and not principal_of(request).has("admin"):
        raise Forbidden("explain=true needs an API key with the 'admin' scope")
    if cursor is not None:
        return await serve_page(runtime, user_id, cursor, limit, explain=explain)
    return await serve_feed(runtime, user_id, limit_or_default(limit, runtime), explain=explain)


HANDLERS = [get_feed]
