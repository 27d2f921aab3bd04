"""PostgreSQL for delivery beyond the JSON API: digest subscriptions and their sending
state, and the Atom feed's tokens. Queries live in `storage/sql/*.sql`, like the store's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from storage.rows import FeedTokenRow, ShownPaper, StoredPaper, SubscriptionRow
from storage.store import Store, sql


def _subscription(row: asyncpg.Record) -> SubscriptionRow:
    return SubscriptionRow(**dict(row))


def _token(row: asyncpg.Record) -> FeedTokenRow:
    return FeedTokenRow(**dict(row))


class DeliveryStore:
    """Subscriptions, digest bookkeeping and feed tokens, on a `Store`'s pool."""

    def __init__(self, store: Store) -> None:
        self.pool = store.pool

    # --- subscriptions -------------------------------------------------------------------

    async def upsert_subscription(
        self,
        user_id: str,
        email: str,
        frequency: str,
        max_items: int,
        send_hour_utc: int,
        next_due_at: datetime,
    ) -> SubscriptionRow:
        row = await self.pool.fetchrow(
            sql("upsert_subscription"),
            user_id,
            email,
            frequency,
            max_items,
            send_hour_utc,
            next_due_at,
        )
        return _subscription(row)

    async def subscription(self, user_id: str) -> SubscriptionRow | None:
        row = await self.pool.fetchrow(sql("get_subscription"), user_id)
        return None if row is None else _subscription(row)

    async def unsubscribe(self, user_id: str, email: str | None = None) -> bool:
        """Delete the subscription (only if it still goes to `email`, when given); False
        if there was none."""
        return await self.pool.fetchval(sql("delete_subscription"), user_id, email) is not None

    async def claim_due(
        self, now: datetime, lease_seconds: float, skip: Sequence[str]
    ) -> SubscriptionRow | None:
        """Claim the subscriber due longest, not in `skip` and not claimed by another run."""
        row = await self.pool.fetchrow(
            sql("claim_due_subscription"), now, lease_seconds, list(skip)
        )
        return None if row is None else _subscription(row)

    async def delivered(
        self, user_id: str, sent_at: datetime | None, next_due_at: datetime
    ) -> None:
        await self.pool.execute(sql("digest_delivered"), user_id, sent_at, next_due_at)

    async def failed(self, user_id: str, reason: str) -> None:
        await self.pool.execute(sql("digest_failed"), user_id, reason)

    async def digest_sent_papers(self, user_id: str, before: datetime | None = None) -> set[int]:
        """Index keys of the papers digests sent before `before` (None: ever) showed the reader."""
        rows = await self.pool.fetch(sql("digest_sent_papers"), user_id, before)
        return {r["seq"] for r in rows}

    async def delete_feed(self, request_id: uuid.UUID) -> None:
        """Forget a feed that was never shown (a failed delivery) and its impressions."""
        await self.pool.execute(sql("delete_feed"), request_id)

    async def latest_feed(self, user_id: str, surface: str, after: datetime) -> list[ShownPaper]:
        """The papers of the reader's newest feed on `surface` served after `after`, in
        order (empty if none)."""
        rows = await self.pool.fetch(sql("latest_feed"), user_id, surface, after)
        return [ShownPaper(**dict(r)) for r in rows]

    async def papers(self, ids: Sequence[str]) -> dict[str, StoredPaper]:
        """The catalogue's records of `ids` (unknown ids are left out)."""
        rows = await self.pool.fetch(sql("papers_by_id"), list(ids))
        return {r["id"]: StoredPaper(**dict(r)) for r in rows}

    # --- feed tokens ---------------------------------------------------------------------

    async def create_feed_token(
        self, token_id: str, user_id: str, secret_sha256: str
    ) -> FeedTokenRow:
        row = await self.pool.fetchrow(sql("create_feed_token"), token_id, user_id, secret_sha256)
        return _token(row)

    async def feed_token(self, token_id: str) -> FeedTokenRow | None:
        row = await self.pool.fetchrow(sql("get_feed_token"), token_id)
        return None if row is None else _token(row)

    async def feed_tokens(self, user_id: str) -> list[FeedTokenRow]:
        return [_token(r) for r in await self.pool.fetch(sql("list_feed_tokens"), user_id)]

    async def revoke_feed_token(self, user_id: str, token_id: str) -> FeedTokenRow | None:
        row: Any = await self.pool.fetchrow(sql("revoke_feed_token"), token_id, user_id)
        return None if row is None else _token(row)
