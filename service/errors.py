"""The one error tree of the service; `service.app` maps it to problem+json responses."""

from __future__ import annotations

from typing import Any


class PaperfeedError(Exception):
    """Base class: `status` is the HTTP status, the message is shown to the caller."""

    status = 500
    title = "Internal error"

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class InvalidInput(PaperfeedError):
    status = 422
    title = "Invalid input"


class NotFound(PaperfeedError):
    status = 404
    title = "Not found"


class Gone(PaperfeedError):
    status = 410
    title = "Gone"
