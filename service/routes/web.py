"""The reader's page (`/`) and the researcher's console (`/console`): static HTML, CSS and
JavaScript from `service/web/`, built on the public API like any other frontend.

The pages are public; what they show needs credentials (a reader token, an admin key),
which the page sends itself. The Content-Security-Policy lets a page talk only to this
server: nothing is fetched from anywhere else, and no inline script runs.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.enums import MediaType
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

ASSETS = Path(str(files("service") / "web"))
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    # The reader token may arrive in the URL fragment; keep URLs out of other sites' logs.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@cache
def _page(name: str) -> str:
    return (ASSETS / name).read_text()


def _html(name: str) -> Response[str]:
    return Response(
        _page(name),
        media_type=MediaType.HTML,
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


@get("/", exclude_from_auth=True, include_in_schema=False)
async def reader_page() -> Response[str]:
    """The reader's feed page."""
    return _html("index.html")


@get("/console", exclude_from_auth=True, include_in_schema=False)
async def console_page() -> Response[str]:
    """The researcher's console."""
    return _html("console.html")


assets = create_static_files_router(
    path="/static",
    directories=[ASSETS],
    opt={"exclude_from_auth": True},
    include_in_schema=False,
    cache_control=CacheControlHeader(no_cache=True),
)

HANDLERS: list[ControllerRouterHandler] = [reader_page, console_page, assets]
