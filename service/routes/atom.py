"""A reader's feed for feed readers: Atom at `/v1/users/{user_id}/feed.atom?token=...`,
with long-lived, revocable, read-only feed tokens (not API keys; `service.links`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from litestar import Response, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from ranking.errors import NotFound
from service import atom, wire
from service.auth import requires
from service.digest import shorten
from service.feed import serve_feed
from service.links import Click, atom_url, check_feed_token, click_url, generate_feed_token
from service.routes.params import UserPath
from service.routes.problems import problems
from service.runtime import Runtime, RuntimeDep
from storage.delivery import DeliveryStore
from storage.rows import ShownPaper

TokenId = Annotated[str, Parameter(pattern=r"^[0-9a-f]{12}$", description="Feed token id")]
FeedTokenQuery = Annotated[
    str | None,
    Parameter(
        max_length=200,
        description="A feed token (pff_...) of this reader, from POST .../feed-tokens",
    ),
]


@post(
    "/v1/users/{user_id:str}/feed-tokens",
    status_code=HTTP_201_CREATED,
    tags=["feed"],
    responses=problems(),
    guards=[requires("admin", readers="own")],
)
async def create_feed_token(user_id: UserPath, runtime: RuntimeDep) -> wire.FeedTokenCreated:
    """A new read-only token for the reader's Atom feed, and the feed's URL to give to
    their feed reader. The token is shown only this once; it works until revoked."""
    new = generate_feed_token()
    row = await DeliveryStore(runtime.store).create_feed_token(
        new.token_id, user_id, new.secret_sha256
    )
    url = atom_url(runtime.settings.public_base_url, user_id, new.token)
    return wire.FeedTokenCreated(row.token_id, user_id, new.token, url, row.created_at)


@get(
    "/v1/users/{user_id:str}/feed-tokens",
    tags=["feed"],
    responses=problems(),
    guards=[requires("admin", readers="own")],
)
async def list_feed_tokens(user_id: UserPath, runtime: RuntimeDep) -> wire.FeedTokenList:
    """The reader's feed tokens (without their secrets), oldest first."""
    rows = await DeliveryStore(runtime.store).feed_tokens(user_id)
    return wire.FeedTokenList(
        [wire.FeedToken(r.token_id, r.created_at, r.revoked_at) for r in rows]
    )


@delete(
    "/v1/users/{user_id:str}/feed-tokens/{token_id:str}",
    status_code=HTTP_204_NO_CONTENT,
    tags=["feed"],
    responses=problems(404),
    guards=[requires("admin", readers="own")],
)
async def revoke_feed_token(user_id: UserPath, token_id: TokenId, runtime: RuntimeDep) -> None:
    """Revoke a feed token at once. Idempotent; 404 if the reader has no such token."""
    if await DeliveryStore(runtime.store).revoke_feed_token(user_id, token_id) is None:
        raise NotFound(f"reader {user_id!r} has no feed token {token_id!r}")


@get(
    "/v1/users/{user_id:str}/feed.atom",
    tags=["feed"],
    exclude_from_auth=True,
    security=[{}],
    media_type=atom.MEDIA_TYPE,
    responses={
        200: ResponseSpec(
            data_container=str, media_type=atom.MEDIA_TYPE, description="An Atom feed."
        ),
        **problems(),
    },
)
async def get_atom_feed(
    user_id: UserPath, runtime: RuntimeDep, token: FeedTokenQuery = None
) -> Response[bytes]:
    """The reader's feed as Atom (RFC 4287), for feed readers: no Authorization header,
    the feed token in the URL instead (401 unknown or revoked, 403 another reader's).

    Ranked like the JSON feed and logged as impressions (surface `atom`) at most once per
    PAPERFEED_ATOM_REFRESH_SECONDS; polls in between get the same entries. Entry links
    record a `click` with the feed's request id, then redirect to the paper.
    """
    delivery = DeliveryStore(runtime.store)
    await check_feed_token(delivery, token, user_id)
    now = datetime.now(UTC)
    fresh_after = now - timedelta(seconds=runtime.settings.atom_refresh_seconds)
    shown = await delivery.latest_feed(user_id, "atom", fresh_after)
    if not shown:
        feed = await serve_feed(runtime, user_id, runtime.settings.feed_default_limit, "atom")
        shown = [
            ShownPaper(feed.request_id, now, feed.model_version, i.position, i.paper_id, i.score)
            for i in feed.items
        ]
    self_url = atom_url(runtime.settings.public_base_url, user_id, token or "")
    body = await _document(runtime, delivery, user_id, shown, self_url, now)
    return Response(body, media_type=atom.MEDIA_TYPE)


async def _document(
    rt: Runtime,
    delivery: DeliveryStore,
    user_id: str,
    shown: list[ShownPaper],
    self_url: str,
    now: datetime,
) -> bytes:
    papers = await delivery.papers([s.paper_id for s in shown])
    updated = shown[0].served_at if shown else now
    base, secret = rt.settings.public_base_url, rt.token_secret
    entries = [
        atom.Entry(
            paper_id=p.id,
            title=p.title,
            link=click_url(base, secret, Click(user_id, s.request_id, p.id)),
            updated=p.published_at or s.served_at,
            published=p.published_at,
            authors=p.authors,
            summary=shorten(p.abstract, 1000),
            categories=p.categories,
        )
        for s in shown
        if (p := papers.get(s.paper_id)) is not None and not p.withdrawn
    ]
    return atom.document(
        f"{base}/users/{user_id}/feed",
        f"paperfeed: papers for {user_id}",
        self_url,
        updated,
        entries,
    )


HANDLERS = [create_feed_token, list_feed_tokens, revoke_feed_token, get_atom_feed]
