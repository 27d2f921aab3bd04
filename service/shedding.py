"""Load shedding: answer 503 at once instead of queueing when too many requests are in flight.

A queue only moves the wait into the client's timeout; a fast 503 with Retry-After lets the
client (or a load balancer) go elsewhere or come back, and keeps latency bounded for the
requests that are admitted.
"""

from __future__ import annotations

import msgspec
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

EXEMPT = ("/health", "/ready")


class LoadShedder:
    """ASGI middleware admitting at most `limit` concurrent HTTP requests (probes exempt)."""

    def __init__(self, app: ASGIApp, limit: int, retry_after: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.active = 0
        self._body = msgspec.json.encode(
            {
                "status": 503,
                "title": "Service unavailable",
                "detail": f"The server is at its limit of {limit} requests in progress; "
                f"retry after {retry_after} s.",
            }
        )
        self._headers = [
            (b"content-type", b"application/problem+json"),
            (b"retry-after", str(retry_after).encode()),
            (b"content-length", str(len(self._body)).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            start: HTTPResponseStartEvent = {
                "type": "http.response.start",
                "status": 503,
                "headers": self._headers,
            }
            body: HTTPResponseBodyEvent = {
                "type": "http.response.body",
                "body": self._body,
                "more_body": False,
            }
            await send(start)
            await send(body)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
