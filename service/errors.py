"""The one error tree of the service; `service.app` maps it to problem+json responses."""

from __future__ import annotations

from typing import Any


class PaperfeedError(Exception):
    """Base class: `status` is the HTTP status, the message is shown to the caller."""

    status = 500
    title = "Internal error"
    headers: dict[str, str] = {}  # noqa: RUF012 (read-only per class)

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class InvalidInput(PaperfeedError):
    status = 422
    title = "Invalid input"


class Conflict(PaperfeedError):
    """A well-formed request that the resource's current state does not allow."""

    status = 409
    title = "Conflict"


class NotFound(PaperfeedError):
    status = 404
    title = "Not found"


class Gone(PaperfeedError):
    status = 410
    title = "Gone"


class Unauthorized(PaperfeedError):
    """No credentials, or ones that are unknown, revoked, expired or forged."""

    status = 401
    title = "Unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="paperfeed"'}  # noqa: RUF012


class Forbidden(PaperfeedError):
    """Valid credentials that do not allow this request."""

    status = 403
    title = "Forbidden"
