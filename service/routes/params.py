"""Path and query parameters that several route modules share."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

from service import wire
from service.runtime import Runtime

PaperPath = Annotated[str, Parameter(pattern=wire.ID_PATTERN, description="Paper id")]
UserPath = Annotated[str, Parameter(pattern=wire.ID_PATTERN, description="Reader id")]
Limit = Annotated[
    int | None,
    Parameter(ge=1, le=wire.MAX_LIMIT, description="Items (default PAPERFEED_FEED_DEFAULT_LIMIT)"),
]


def limit_or_default(limit: int | None, runtime: Runtime) -> int:
    return runtime.settings.feed_default_limit if limit is None else limit
