"""The e-mail digest: for each subscriber who is due, their top papers through the same
feed code as the API (`service.feed.serve_feed`, surface "digest", logged as impressions),
rendered from templates as HTML and plain text, and sent over SMTP.

A paper goes to a reader by digest at most once: the papers of earlier digests are
excluded. A failed delivery deletes its feed (nothing was shown), records the reason, and
leaves the reader due, so the next run retries; one refused address does not stop the rest.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from service import wire
from service.feed import serve_feed
from service.links import Click, click_url, unsubscribe_url
from service.mail import Mailer, compose, describe
from service.pages import render
from service.runtime import Runtime
from storage.delivery import DeliveryStore
from storage.rows import StoredPaper, SubscriptionRow

log = logging.getLogger(__name__)

PERIOD = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
# A digest sent up to this much late still keeps the next one at its usual hour.
SLACK = timedelta(hours=12)
# A run holds a subscriber this long at most (a crashed run's claim expires).
LEASE_SECONDS = 600.0
ABSTRACT_CHARS = 300
AUTHORS_SHOWN = 3


def next_due(
    frequency: str, send_hour_utc: int, last_sent: datetime | None, now: datetime
) -> datetime:
    """When the next digest is due: at once for a new subscriber, else the first
    `send_hour_utc`:00 at least a period (less `SLACK`) after the last one."""
    if last_sent is None:
        return now
    earliest = last_sent + PERIOD[frequency] - SLACK
    slot = earliest.replace(hour=send_hour_utc, minute=0, second=0, microsecond=0)
    return slot if slot >= earliest else slot + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Entry:
    """One paper as a digest shows it."""

    paper_id: str
    title: str
    authors: str
    abstract: str
    reason: str
    link: str


def shorten(text: str, limit: int = ABSTRACT_CHARS) -> str:
    """`text` on one line, cut at a word boundary near `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + " …"


def byline(authors: list[str]) -> str:
    shown = ", ".join(authors[:AUTHORS_SHOWN])
    return f"{shown} et al." if len(authors) > AUTHORS_SHOWN else shown


# The feed's explanations mark a paper's title as *Title* (Markdown); a mail quotes it.
_TITLE = re.compile(r"\*(.+?)\*")


def reason(item: wire.Item) -> str:
    """Why the feed picked the paper: the feed's own explanation, as plain text."""
    return _TITLE.sub(r"“\1”", item.explanation) if item.explanation else "Picked for you"


def entries(
    rt: Runtime, user_id: str, feed: wire.Feed, papers: dict[str, StoredPaper]
) -> list[Entry]:
    base, secret = rt.settings.public_base_url, rt.token_secret
    shown = []
    for item in feed.items:
        paper = papers.get(item.paper_id)
        if paper is None:  # withdrawn between ranking and now
            continue
        link = click_url(base, secret, Click(user_id, feed.request_id, item.paper_id))
        shown.append(
            Entry(
                item.paper_id,
                paper.title,
                byline(paper.authors),
                shorten(paper.abstract),
                reason(item),
                link,
            )
        )
    return shown


async def papers_of(delivery: DeliveryStore, feed: wire.Feed) -> dict[str, StoredPaper]:
    """The catalogue's records of a feed's papers and of the papers they resemble."""
    ids = {i.paper_id for i in feed.items} | {i.similar_to for i in feed.items if i.similar_to}
    return await delivery.papers(sorted(ids))


@dataclass
class RunSummary:
    sent: list[str] = field(default_factory=list)  # readers
    nothing_new: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # reader -> reason

    def line(self) -> str:
        return (
            f"digest: {len(self.sent)} sent, {len(self.failed)} failed (retried at the next "
            f"run), {len(self.nothing_new)} with nothing new"
        )


async def send_due(rt: Runtime, mailer: Mailer, now: datetime | None = None) -> RunSummary:
    """Send every digest due at `now` (default: now); each subscriber once per run."""
    delivery = DeliveryStore(rt.store)
    summary = RunSummary()
    tried: list[str] = []
    while True:
        at = now or datetime.now(UTC)
        subscription = await delivery.claim_due(at, LEASE_SECONDS, tried)
        if subscription is None:
            return summary
        tried.append(subscription.user_id)
        try:
            await _deliver(rt, delivery, mailer, subscription, summary)
        except Exception as exc:  # a bug or a database hiccup with one reader: go on
            log.exception("digest for %s failed, retried at the next run", subscription.user_id)
            await delivery.failed(subscription.user_id, f"{type(exc).__name__}: {exc}")
            summary.failed[subscription.user_id] = f"{type(exc).__name__}: {exc}"


async def _deliver(
    rt: Runtime,
    delivery: DeliveryStore,
    mailer: Mailer,
    sub: SubscriptionRow,
    summary: RunSummary,
) -> None:
    feed = await serve_feed(rt, sub.user_id, sub.max_items, surface="digest")
    papers = await papers_of(delivery, feed)
    shown = entries(rt, sub.user_id, feed, papers)
    now = datetime.now(UTC)
    if not shown:  # nothing new: no e-mail, and the next try at the next usual time
        await delivery.delete_feed(feed.request_id)
        await delivery.delivered(
            sub.user_id, sub.last_sent_at, next_due(sub.frequency, sub.send_hour_utc, now, now)
        )
        summary.nothing_new.append(sub.user_id)
        return
    message = _message(rt, sub, shown, now, str(feed.request_id))
    try:
        await asyncio.to_thread(mailer.send, message)
    except Exception as exc:  # whatever went wrong, the next reader still gets theirs
        why = describe(exc)
        log.warning(
            "digest for %s to %s failed, retried at the next run: %s", sub.user_id, sub.email, why
        )
        await delivery.delete_feed(feed.request_id)
        await delivery.failed(sub.user_id, why)
        summary.failed[sub.user_id] = why
        return
    await delivery.delivered(sub.user_id, now, next_due(sub.frequency, sub.send_hour_utc, now, now))
    log.info("digest %s sent to %s: %d papers", feed.request_id, sub.user_id, len(shown))
    summary.sent.append(sub.user_id)


def _message(
    rt: Runtime, sub: SubscriptionRow, shown: list[Entry], now: datetime, reference: str
) -> EmailMessage:
    unsubscribe = unsubscribe_url(
        rt.settings.public_base_url, rt.token_secret, sub.user_id, sub.email
    )
    context = {
        "date": f"{now:%A %-d %B %Y}",
        "since": f"{sub.last_sent_at:%-d %B}" if sub.last_sent_at else "",
        "entries": shown,
        "frequency": sub.frequency,
        "email": sub.email,
        "unsubscribe_url": unsubscribe,
    }
    papers = f"{len(shown)} paper{'s' if len(shown) != 1 else ''}"
    subject = f"{papers} for you: paperfeed digest, {now:%-d %b %Y}"
    return compose(
        rt.settings,
        sub.email,
        subject,
        render("digest.txt", **context),
        render("digest.html", **context),
        unsubscribe,
        now,
        reference,
    )
