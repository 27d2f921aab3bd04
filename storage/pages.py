"""The later pages of a feed: the ranked list kept when its first page was served, and
the impressions of each page as it is served."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec

from storage.rows import Impression, KeptItem, KeptList
from storage.store import Store, impression_args, sql


async def kept_list(store: Store, request_id: uuid.UUID, user_id: str) -> KeptList | None:
    """The ranked list kept for feed `request_id` if it was served to `user_id`."""
    row = await store.pool.fetchrow(sql("ranked_list"), request_id, user_id)
    if row is None:
        return None
    items = msgspec.msgpack.decode(row["items"], type=list[KeptItem])
    return KeptList(row["page_size"], items, row["created_at"], row["model_version"])


async def log_page(
    store: Store, request_id: uuid.UUID, user_id: str, impressions: Sequence[Impression]
) -> None:
    """Log a later page's impressions under its feed; a retried page changes nothing."""
    if impressions:
        await store.pool.execute(
            sql("insert_impressions"), *impression_args(request_id, user_id, impressions)
        )


async def expire_lists(store: Store, before: datetime) -> int:
    """Drop every ranked list kept since before `before` (their cursors expired); how many."""
    tag: str = await store.pool.execute(sql("expire_ranked_lists"), before)
    return int(tag.split()[-1])  # "DELETE 12"


async def withdrawn_among(store: Store, paper_ids: Sequence[str]) -> set[str]:
    """The ids among `paper_ids` of papers withdrawn since (a later page skips them)."""
    rows = await store.pool.fetch(sql("withdrawn_among"), list(paper_ids))
    return {r["id"] for r in rows}
