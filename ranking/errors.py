"""The one error tree of paperfeed. Every package raises these; `service.problems` maps
them to HTTP (problem+json) and the command line prints their message.

    PaperfeedError           something paperfeed refuses, with a message a person can act on
    ├── InvalidInput         a request, file or setting cannot be accepted        (HTTP 422)
    │   ├── BadQuery         a query parameter cannot be used (a forged cursor)   (HTTP 400)
    │   ├── ArtifactError    a model artifact is missing, corrupt or for other features
    │   ├── DataError        an evaluation data file cannot be used
    │   └── SettingsError    a PAPERFEED_* variable is unknown or malformed
    ├── Conflict             the resource's state does not allow it (a rollback
    │                        with nothing to undo)                                (HTTP 409)
    ├── NotFound             no such paper, model or key                          (HTTP 404)
    ├── Gone                 the paper was withdrawn                              (HTTP 410)
    ├── Unauthorized         credentials missing, unknown, revoked, expired       (HTTP 401)
    ├── Forbidden            valid credentials that do not allow this             (HTTP 403)
    ├── TrainingError        too little labelled data to train a ranker
    └── ReplayError          a served feed cannot be replayed faithfully

It lives at the bottom layer (pure, no I/O) because `ranking` raises `ArtifactError` and
every layer above may raise any of them.
"""

from __future__ import annotations

from typing import Any


class PaperfeedError(Exception):
    """Base class. The message is shown to the caller as it is; `extra` adds fields to
    the problem+json body (for example the rejected items of a batch)."""

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class InvalidInput(PaperfeedError):
    """A request, file or setting is well-formed but cannot be accepted."""


class BadQuery(InvalidInput):
    """A query parameter is well-formed as a string but cannot be used (a cursor that
    this server did not issue for this reader, a date with a window)."""


class ArtifactError(InvalidInput):
    """A model artifact is missing, corrupt, or was made for other features."""


class DataError(InvalidInput):
    """An evaluation data file is missing or malformed."""


class SettingsError(InvalidInput):
    """An environment variable is unknown or has a value of the wrong type."""


class Conflict(PaperfeedError):
    """A well-formed request that the resource's current state does not allow."""


class NotFound(PaperfeedError):
    """No such resource."""


class Gone(PaperfeedError):
    """The resource existed and was withdrawn."""


class Unauthorized(PaperfeedError):
    """No credentials, or ones that are unknown, revoked, expired or forged."""


class Forbidden(PaperfeedError):
    """Valid credentials that do not allow this request."""


class TrainingError(PaperfeedError):
    """Training cannot go ahead (for example: too little labelled data)."""


class ReplayError(PaperfeedError):
    """The feed cannot be replayed faithfully."""
