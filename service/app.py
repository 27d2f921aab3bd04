"""The Litestar application: wiring of settings, runtime, routes and error mapping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPIType, Schema, SecurityScheme
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.routes import HTTPRoute
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from ranking.embedder import Embedder
from ranking.errors import (
    BadQuery,
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    PaperfeedError,
    Unauthorized,
)
from service import runtime as runtime_module
from service.auth import AuthenticationMiddleware, rate_limit_id
from service.feed import expire_lists_forever
from service.logs import RequestContext
from service.metrics import request_metrics
from service.routes import HANDLERS, demo
from service.routes.body import document as document_bodies
from service.runtime import Runtime
from service.settings import Settings, load_settings
from service.shedding import LoadShedder

log = logging.getLogger(__name__)

# Served without credentials (besides /health and /ready): the API documentation.
PUBLIC_PATHS = ["^/docs"]

# Errors that mean "the database is away": the client should retry later. Class 57
# (operator intervention) is a server shutting down or starting up.
DATABASE_DOWN = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)


# The error tree (ranking.errors) as HTTP: the nearest listed ancestor decides. An error
# listed nowhere (a training or replay error reaching a request) is a bug: 500.
HTTP_STATUS: dict[type[PaperfeedError], tuple[int, str]] = {
    BadQuery: (400, "Bad request"),
    InvalidInput: (422, "Invalid input"),
    Conflict: (409, "Conflict"),
    NotFound: (404, "Not found"),
    Gone: (410, "Gone"),
    Unauthorized: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="paperfeed"'}


def _paperfeed_problem(exc: PaperfeedError) -> ProblemDetailsException:
    kind = next((k for k in type(exc).__mro__ if k in HTTP_STATUS), None)
    if kind is None:
        return _unexpected(exc)
    status, title = HTTP_STATUS[kind]
    return ProblemDetailsException(
        status_code=status,
        title=title,
        detail=exc.message,
        extra=exc.extra or None,
        headers=CHALLENGE if kind is Unauthorized else None,
    )


def _http_problem(exc: HTTPException) -> ProblemDetailsException:
    detail = exc.detail
    extra: dict[str, Any] | None = None
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        first = exc.extra[0]
        if isinstance(first, dict):
            where = f" (at {first['key']})" if first.get("key") else ""
            detail = f"{first.get('message', detail)}{where}"
        extra = {"errors": exc.extra}
    elif isinstance(exc.extra, dict):
        extra = exc.extra
    headers = dict(exc.headers or {})
    if exc.status_code == 429:
        # Litestar sends RateLimit-* headers; clients and proxies look for Retry-After.
        headers["Retry-After"] = str(max(1, int(headers.get("RateLimit-Reset", "1"))))
        detail = (
            "Too many requests with this API key (or reader token); "
            "retry after the Retry-After seconds."
        )
    return ProblemDetailsException(
        status_code=exc.status_code,
        title=exc.detail if exc.detail != detail else None,
        detail=detail,
        extra=extra,
        headers=headers or None,
    )


def _database_down(exc: Exception) -> ProblemDetailsException:
    log.warning("database unavailable: %s", exc)
    return ProblemDetailsException(
        status_code=503,
        title="Service unavailable",
        detail="The database is not reachable right now; retry shortly.",
        headers={"Retry-After": "5"},
    )


def _unexpected(exc: Exception) -> ProblemDetailsException:
    log.exception("unhandled error", exc_info=exc)
    return ProblemDetailsException(
        status_code=500,
        title="Internal error",
        detail="Something went wrong on our side; the server log has the details.",
    )


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def create_app(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    demo_key_id: str | None = None,
) -> Litestar:
    """The app. `embedder` lets tests share one loaded model between apps. `demo_key_id`
    (`paperfeed serve --demo-key`) adds the demo routes, which mint reader tokens under
    that key for the reader page (`service.routes.demo`)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        rt = await runtime_module.start(settings, embedder)
        # stop() cancels it with the runtime's own tasks.
        rt.tasks.append(asyncio.create_task(expire_lists_forever(rt), name="expire-lists"))
        app.state.runtime = rt
        try:
            yield
        finally:
            await runtime_module.stop(rt)

    problem_map: dict[type[Exception], Any] = {
        PaperfeedError: _paperfeed_problem,
        HTTPException: _http_problem,
        **{exc: _database_down for exc in DATABASE_DOWN},
        Exception: _unexpected,
    }
    # First: requests shed, refused or answered are all timed (service/metrics.py).
    middleware: list[Any] = [request_metrics()]
    if settings.max_concurrent_requests > 0:
        limit_in_flight = settings.max_concurrent_requests
        middleware.append(lambda app: LoadShedder(app, limit_in_flight))
    # After load shedding and before rate limiting, which counts per key.
    middleware.append(DefineMiddleware(AuthenticationMiddleware, exclude=PUBLIC_PATHS))
    if settings.rate_limit_per_minute > 0:
        limit = RateLimitConfig(
            rate_limit=("minute", settings.rate_limit_per_minute),
            exclude=["/health", "/ready", *PUBLIC_PATHS],
            identifier_for_request=rate_limit_id,
        )
        middleware.append(limit.middleware)
    allowed: dict[str, str] = {}  # filled below, once the routes exist
    app = Litestar(
        route_handlers=[*HANDLERS, *(demo.HANDLERS if demo_key_id else [])],
        before_send=[_allow_every_method(allowed)],
        middleware=middleware,
        lifespan=[lifespan],
        dependencies={"runtime": Provide(provide_runtime, sync_to_thread=False)},
        plugins=[
            ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=problem_map))
        ],
        request_max_body_size=settings.max_body_bytes,
        # Logging is configured once per process (service/logs.py), not by each app.
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="paperfeed",
            version="0.1.0",
            description="Personalised research-paper feeds.",
            path="/docs",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin()],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="An API key (pf_…) or a reader token from POST /v1/tokens.",
                    )
                }
            ),
            security=[{"bearer": []}],
        ),
    )
    app.state.demo_key_id = demo_key_id
    document_bodies(app)
    # Around everything, 404s included: the request id, its log context, the access log.
    app.asgi_handler = RequestContext(app.asgi_handler)
    _document_token_lifetime(app, settings.reader_token_ttl_seconds)
    allowed.update(
        (route.path_format, ", ".join(sorted(route.methods)))
        for route in app.routes
        if isinstance(route, HTTPRoute)
    )
    return app


def _document_token_lifetime(app: Litestar, longest: int) -> None:
    """Document `ttl_seconds` as the integer it is (decoded as a whole float, see
    `wire.TokenRequest`), at most `longest`: a setting, so not in the wire type."""
    token = (app.openapi_schema.components.schemas or {})["TokenRequest"]
    assert isinstance(token, Schema) and token.properties
    ttl = token.properties["ttl_seconds"]
    assert isinstance(ttl, Schema) and ttl.any_of
    seconds = ttl.any_of[0]
    assert isinstance(seconds, Schema) and seconds.multiple_of == 1
    seconds.type = OpenAPIType.INTEGER
    seconds.maximum = longest


def _allow_every_method(allowed: dict[str, str]) -> BeforeMessageSendHookHandler:
    """A hook that makes the automatic answer to OPTIONS list every method of its path.

    Litestar 2 builds that answer when a path's first handler is registered, so it leaves
    out the methods of later handlers on the same path (DELETE on `/v1/papers/{paper_id}`):
    litestar-org/litestar#4169, fixed in Litestar 3. `allowed` maps each path template to
    its methods; only an answer that has an `Allow` header is changed.
    """

    async def hook(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        methods = allowed.get(scope.get("path_template", ""))
        headers = list(message.get("headers", []))
        if methods and any(name.lower() == b"allow" for name, _ in headers):
            kept = [(name, value) for name, value in headers if name.lower() != b"allow"]
            message["headers"] = [*kept, (b"allow", methods.encode())]

    return hook
