"""Demo mode only (`paperfeed serve --demo-key`, which `make run` uses): the reader page may
open any reader's feed without a login.

A real deployment has a backend that logs readers in and mints reader tokens with its own
API key (`POST /v1/tokens`). In demo mode this server plays that backend: it mints reader
tokens under the demo key for whatever reader id the page names, so the page itself never
holds an API key. Revoking the demo key (the next `--demo-key` start does) ends every token
minted here. These routes do not exist without `--demo-key`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from service import wire
from service.auth import mint_reader_token
from service.routes.body import StrictJSON
from service.routes.problems import problems
from service.runtime import RuntimeDep

# Suggested readers on the page.
SUGGESTIONS = 12


@get(
    "/v1/demo/readers",
    tags=["demo"],
    exclude_from_auth=True,
    security=[{}],
    responses=problems(),
)
async def demo_readers(runtime: RuntimeDep) -> wire.DemoReaders:
    """Demo mode only: readers with recent events, newest first. Without `--demo-key`
    this route does not exist (404), which is how the page tells the modes apart."""
    return wire.DemoReaders(readers=await runtime.store.recent_readers(SUGGESTIONS))


@post(
    "/v1/demo/tokens",
    status_code=HTTP_200_OK,
    tags=["demo"],
    exclude_from_auth=True,
    security=[{}],
    responses=problems(422),
    dto=StrictJSON[wire.DemoTokenRequest],
)
async def mint_demo_token(
    data: JSONBody[wire.DemoTokenRequest], runtime: RuntimeDep, request: Request[Any, Any, Any]
) -> wire.ReaderToken:
    """Demo mode only: a reader token for any reader, minted under the demo key, as a
    frontend's backend would mint one after its own login (`POST /v1/tokens`)."""
    key_id: str = request.app.state.demo_key_id
    token, expires = mint_reader_token(
        runtime.token_secret,
        data.user_id,
        key_id,
        timedelta(seconds=runtime.settings.reader_token_ttl_seconds),
    )
    return wire.ReaderToken(token=token, user_id=data.user_id, expires_at=expires)


HANDLERS = [demo_readers, mint_demo_token]
