"""The e-mail digest over HTTP: a reader's subscription, and the two kinds of link in every
digest, which work without credentials because they are signed (`service.links`): one-click
unsubscribe (RFC 8058) and the click-through to a paper, which records a `click` event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import MediaType, Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from ranking.errors import Gone, NotFound
from service import wire
from service.auth import requires
from service.digest import byline, next_due
from service.links import read_click_token, read_unsubscribe_token
from service.pages import render
from service.routes.body import StrictJSON
from service.routes.params import UserPath
from service.routes.problems import problems
from service.runtime import RuntimeDep
from storage.delivery import DeliveryStore
from storage.rows import EventRow, SubscriptionRow

LinkToken = Annotated[
    str, Parameter(max_length=2000, description="The signed token of a digest or feed link")
]
_HTML_PAGE = ResponseSpec(
    data_container=str, media_type=MediaType.HTML, description="A page for the reader."
)


def as_wire(row: SubscriptionRow) -> wire.Subscription:
    """The subscription as the API shows it."""
    frequency: wire.Frequency = "weekly" if row.frequency == "weekly" else "daily"
    return wire.Subscription(
        user_id=row.user_id,
        email=row.email,
        frequency=frequency,
        max_items=row.max_items,
        send_hour_utc=row.send_hour_utc,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_due_at=row.next_due_at,
        last_sent_at=row.last_sent_at,
        failures=row.failures,
        last_error=row.last_error,
    )


@put(
    "/v1/users/{user_id:str}/subscription",
    tags=["digest"],
    responses=problems(),
    guards=[requires("admin", readers="own")],
    dto=StrictJSON[wire.SubscriptionRequest],
)
async def put_subscription(
    user_id: UserPath, data: JSONBody[wire.SubscriptionRequest], runtime: RuntimeDep
) -> wire.Subscription:
    """Subscribe the reader to the e-mail digest, or change their subscription.

    The first digest goes out at the next run of `paperfeed digest send`; later ones at
    `send_hour_utc` every day or every seven days. Idempotent: the same body again changes
    nothing but `updated_at`. Admin key, or the reader's own token.
    """
    delivery = DeliveryStore(runtime.store)
    now = datetime.now(UTC)
    old = await delivery.subscription(user_id)
    if data.send_hour_utc is not None:
        hour = int(data.send_hour_utc)
    else:
        hour = old.send_hour_utc if old is not None else now.hour
    last_sent = old.last_sent_at if old is not None else None
    row = await delivery.upsert_subscription(
        user_id,
        data.email,
        data.frequency,
        int(data.max_items),
        hour,
        next_due(data.frequency, hour, last_sent, now),
    )
    return as_wire(row)


@get(
    "/v1/users/{user_id:str}/subscription",
    tags=["digest"],
    responses=problems(404),
    guards=[requires("admin", readers="own")],
)
async def get_subscription(user_id: UserPath, runtime: RuntimeDep) -> wire.Subscription:
    """The reader's subscription, when the next digest is due and how the last went."""
    row = await DeliveryStore(runtime.store).subscription(user_id)
    if row is None:
        raise NotFound(f"reader {user_id!r} has no digest subscription")
    return as_wire(row)


@delete(
    "/v1/users/{user_id:str}/subscription",
    status_code=HTTP_204_NO_CONTENT,
    tags=["digest"],
    responses=problems(),
    guards=[requires("admin", readers="own")],
)
async def delete_subscription(user_id: UserPath, runtime: RuntimeDep) -> None:
    """Unsubscribe the reader (their address is deleted). Idempotent."""
    await DeliveryStore(runtime.store).unsubscribe(user_id)


@get(
    "/unsubscribe/{token:str}",
    tags=["digest"],
    exclude_from_auth=True,
    security=[{}],
    media_type=MediaType.HTML,
    responses={200: _HTML_PAGE, **problems(404)},
)
async def confirm_unsubscribe(token: LinkToken, runtime: RuntimeDep) -> str:
    """The unsubscribe link of a digest, opened in a browser: a page with a button that
    POSTs to the same URL. Opening it changes nothing (mail scanners open links)."""
    user_id, email = read_unsubscribe_token(runtime.token_secret, token)
    subscription = await DeliveryStore(runtime.store).subscription(user_id)
    done = subscription is None or subscription.email != email
    return render("unsubscribe.html", email=email, done=done, action=f"/unsubscribe/{token}")


@post(
    "/unsubscribe/{token:str}",
    tags=["digest"],
    status_code=HTTP_200_OK,
    exclude_from_auth=True,
    security=[{}],
    media_type=MediaType.HTML,
    responses={200: _HTML_PAGE, **problems(404)},
)
async def unsubscribe(token: LinkToken, runtime: RuntimeDep) -> str:
    """One-click unsubscribe (RFC 8058: mail clients POST `List-Unsubscribe=One-Click`
    here). No credentials: the signed token names the reader and the address. Idempotent;
    a token for an address the reader no longer uses changes nothing."""
    user_id, email = read_unsubscribe_token(runtime.token_secret, token)
    await DeliveryStore(runtime.store).unsubscribe(user_id, email)
    return render("unsubscribe.html", email=email, done=True, action="")


@get(
    "/r/{token:str}",
    tags=["digest"],
    exclude_from_auth=True,
    security=[{}],
    status_code=303,
    media_type=MediaType.HTML,
    response_description="Redirect to the paper's own URL (Location).",
    responses={
        200: ResponseSpec(
            data_container=str,
            media_type=MediaType.HTML,
            description="The paper has no link of its own: a page with its title and abstract.",
        ),
        **problems(404, 410),
    },
)
async def follow_link(token: LinkToken, runtime: RuntimeDep) -> Response[str]:
    """A paper link from a digest or an Atom feed: records a `click` event with the feed's
    `request_id`, then redirects (303) to the paper's URL.

    The same link opened again is the same event (a duplicate), so a mail scanner that
    opens every link, or a reader who opens one twice, counts once per paper and digest.
    Nothing is recorded once the feed is gone (the reader deleted their data).
    """
    click = read_click_token(runtime.token_secret, token)
    paper = await runtime.store.get_paper(click.paper_id)
    if paper is None:
        raise NotFound(f"no paper {click.paper_id!r}")
    if paper.withdrawn:
        raise Gone(f"paper {click.paper_id!r} was withdrawn")
    feed = await runtime.store.feed_record(click.request_id)
    if feed is not None and feed.user_id == click.user_id:
        now = datetime.now(UTC)
        await runtime.store.record_events(
            [EventRow(click.event_id, click.user_id, paper.id, "click", now, click.request_id)]
        )
    if paper.url and paper.url.startswith(("https://", "http://")):
        return Redirect(paper.url, status_code=303)
    page = render(
        "paper.html",
        title=paper.title,
        authors=byline(paper.authors),
        abstract=paper.abstract,
        paper_id=paper.id,
    )
    return Response(page, media_type=MediaType.HTML, status_code=HTTP_200_OK)


HANDLERS = [
    put_subscription,
    get_subscription,
    delete_subscription,
    confirm_unsubscribe,
    unsubscribe,
    follow_link,
]
