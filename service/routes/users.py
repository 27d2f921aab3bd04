"""Readers: reader tokens for browser frontends, and the privacy endpoints (delete, export)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, delete, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from ranking.errors import InvalidInput
from service import wire
from service.auth import mint_reader_token, principal_of, requires
from service.routes.body import StrictJSON
from service.routes.params import UserPath
from service.routes.problems import problems
from service.routes.subscriptions import as_wire
from service.runtime import RuntimeDep
from storage.delivery import DeliveryStore
from storage.interests import interest_history


@post(
    "/v1/tokens",
    status_code=HTTP_200_OK,
    tags=["readers"],
    responses=problems(422),
    guards=[requires("feed:read")],
    dto=StrictJSON[wire.TokenRequest],
)
async def mint_token(
    data: JSONBody[wire.TokenRequest], runtime: RuntimeDep, request: Request[Any, Any, Any]
) -> wire.ReaderToken:
    """Mint a short-lived token for one reader, for your frontend to use from the browser.

    Call this from your server with an API key (`feed:read` or `admin`), after your own
    login has established who the reader is. The token reads only that reader's feed and
    the shared catalogue, posts only that reader's events, and stops working when it
    expires or when the key that minted it is revoked.
    """
    longest = runtime.settings.reader_token_ttl_seconds
    ttl = longest if data.ttl_seconds is None else int(data.ttl_seconds)
    if ttl > longest:
        raise InvalidInput(
            f"ttl_seconds {ttl} is longer than this server allows ({longest}, "
            "PAPERFEED_READER_TOKEN_TTL_SECONDS)"
        )
    token, expires = mint_reader_token(
        runtime.token_secret, data.user_id, principal_of(request).key_id, timedelta(seconds=ttl)
    )
    return wire.ReaderToken(token=token, user_id=data.user_id, expires_at=expires)


@delete(
    "/v1/users/{user_id:str}",
    status_code=HTTP_200_OK,
    tags=["readers"],
    responses=problems(),
    guards=[requires("admin", readers="own")],
)
async def delete_user(user_id: UserPath, runtime: RuntimeDep) -> wire.UserDeletion:
    """Delete everything stored about a reader: events, served feeds and impressions,
    interests.

    Idempotent: repeating it finds nothing and answers zeros. Catalogue statistics drop
    the reader's saves at the next refresh; trained models are aggregates and forget them
    at the next retraining.
    """
    deleted = await runtime.store.delete_user(user_id)
    return wire.UserDeletion(
        user_id, deleted.events, deleted.feeds, deleted.impressions, deleted.interests
    )


@get(
    "/v1/users/{user_id:str}/export",
    tags=["readers"],
    responses=problems(),
    guards=[requires("admin", readers="own")],
)
async def export_user(user_id: UserPath, runtime: RuntimeDep) -> wire.UserExport:
    """Everything stored about a reader, oldest first (admin, or the reader's own token)."""
    events, impressions = await runtime.store.export_user(user_id)
    delivery = DeliveryStore(runtime.store)
    subscription = await delivery.subscription(user_id)
    tokens = await delivery.feed_tokens(user_id)
    interests = await interest_history(runtime.store, user_id)
    return wire.UserExport(
        user_id=user_id,
        exported_at=datetime.now(UTC),
        events=[
            wire.ExportedEvent(
                e.event_id, e.paper_id, e.type, e.occurred_at, e.received_at, e.request_id
            )
            for e in events
        ],
        impressions=[
            wire.ExportedImpression(
                i.request_id, i.position, i.paper_id, i.score, i.served_at, i.model_version
            )
            for i in impressions
        ],
        subscription=None if subscription is None else as_wire(subscription),
        feed_tokens=[wire.FeedToken(t.token_id, t.created_at, t.revoked_at) for t in tokens],
        interests=[wire.ExportedInterests(at, topics, ids) for at, topics, ids in interests],
    )


HANDLERS = [mint_token, delete_user, export_user]
