"""The error responses each route documents in the OpenAPI schema."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from service.wire import Problem

_MEANING = {
    400: "The request is malformed: a field is missing, of the wrong type or out of range.",
    401: "No credentials, or an API key or reader token that is unknown, revoked or expired.",
    403: "The credentials do not allow this: a missing scope, or another reader's data.",
    404: "No such resource.",
    409: "The resource's current state does not allow this; `detail` says why.",
    410: "The paper was withdrawn, or the feed cursor has expired.",
    413: "The request body is larger than PAPERFEED_MAX_BODY_BYTES.",
    422: "The request is well-formed but cannot be accepted; `detail` says why.",
    429: "Over PAPERFEED_RATE_LIMIT_PER_MINUTE for this key; retry after Retry-After seconds.",
    503: "Overloaded, or the database is unreachable; retry after Retry-After seconds.",
}


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """ResponseSpecs for what every authenticated route may answer (400, 401, 403, 429,
    503) plus `codes`."""
    return {
        code: ResponseSpec(
            data_container=Problem,
            media_type="application/problem+json",
            description=_MEANING[code],
            generate_examples=False,
        )
        for code in sorted({400, 401, 403, 429, 503, *codes})
    }
