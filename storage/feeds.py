"""A reader's feed inputs as the database holds them (as of any moment), shaped for
`ranking.pipeline`: shared by serving (`service.feed`) and the offline replay
(`training.replay`), so both plan a feed from the same reads."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ranking import pipeline
from ranking.catalogue import FactCache, PaperMeta
from ranking.index import VectorIndex
from ranking.profile import Interaction, Onboarding
from ranking.stats import CatalogueStats
from storage.delivery import DeliveryStore
from storage.interests import interests
from storage.rows import HistoryRow, InterestsRow
from storage.store import Store, sql

HISTORY_EVENTS = 1000
FRESH_CANDIDATES = 100


@dataclass(frozen=True)
class FeedInputs:
    history: list[HistoryRow]  # newest first
    hidden: set[int]  # shown too often lately
    fresh: list[int]
    interests: InterestsRow | None = None  # what the reader said they care about


@dataclass(frozen=True)
class Resting:
    """A paper shown `max_impressions` times to a reader within `window_days` rests."""

    window_days: int
    max_impressions: int


async def read_inputs(
    store: Store,
    resting: Resting,
    user_id: str,
    dim: int,
    as_of: datetime | None = None,
    surface: str = "api",
    fresh: list[int] | None = None,
) -> FeedInputs:
    """What the database says about the reader and the catalogue (as of `as_of`: now), for
    a feed shown on `surface`; `dim` is the embedding dimension (of the index) that topic
    vectors must have. `fresh`: the newest papers when the caller holds them (the same
    for every reader; otherwise read)."""
    history, hidden, newest, onboarding = await asyncio.gather(
        store.user_history(user_id, HISTORY_EVENTS, as_of),
        store.overshown(user_id, resting.window_days, resting.max_impressions, as_of),
        store.fresh(FRESH_CANDIDATES, as_of) if fresh is None else _given(fresh),
        interests(store, user_id, dim, as_of),
    )
    if surface == "digest":  # a paper goes to a reader by e-mail once, never again
        hidden |= await DeliveryStore(store).digest_sent_papers(user_id, as_of)
    return FeedInputs(history, hidden, newest, onboarding)


async def _given(papers: list[int]) -> list[int]:
    """`papers` as an awaitable, to be gathered with the reads."""
    return papers


async def newest_papers(store: Store) -> list[int]:
    """The newest papers a feed draws its fresh candidates from (storage/sql/fresh.sql)."""
    return await store.fresh(FRESH_CANDIDATES)


def plan_feed(
    index: VectorIndex, stats: CatalogueStats, inputs: FeedInputs, now: datetime
) -> pipeline.Plan:
    epoch = now.timestamp()
    return pipeline.plan(
        index,
        interactions(inputs.history, now),
        stats,
        inputs.fresh,
        inputs.hidden,
        epoch,
        onboarding=onboarding(inputs.interests),
    )


def interactions(history: list[HistoryRow], now: datetime) -> list[Interaction]:
    """The reader's events as the profile takes them, aged as of `now`."""
    epoch = now.timestamp()
    return [
        Interaction(h.seq, h.type, (epoch - h.occurred_at.timestamp()) / 86_400) for h in history
    ]


def onboarding(row: InterestsRow | None) -> Onboarding | None:
    """The pipeline's view of stored interests; topics without a usable vector are left
    out (their vectors were made by another embedding model: see service.feed)."""
    if row is None:
        return None
    topics = tuple(row.topics) if len(row.topic_vectors) == len(row.topics) else ()
    return Onboarding(tuple(row.keys), topics, row.topic_vectors[: len(topics)])


async def withdrawn_since(store: Store, horizon: int) -> set[int]:
    """Papers withdrawn from `horizon` (an index follower's) on: through another process,
    they may still be in this one's index until its follower catches up. The partial index
    on changed_xid makes this a read of the last moments' changes only."""
    return {r["seq"] for r in await store.pool.fetch(sql("withdrawn_since"), horizon)}


async def read_facts(
    store: Store, cache: FactCache, keys: np.ndarray, withdrawn: set[int]
) -> dict[int, PaperMeta]:
    """Facts about those of `keys` that `cache` lacks and `withdrawn` does not name, read
    from PostgreSQL (papers withdrawn before are not found) and kept in `cache` unless a
    paper changed meanwhile: one read for all of a feed's papers, usually none. A title
    or author changed through another process shows once the index follower has seen the
    change (PAPERFEED_EMBED_POLL_SECONDS)."""
    missing = [k for k in cache.missing(keys) if k not in withdrawn]
    if not missing:
        return {}
    generation = cache.generation
    read = await store.papers_by_seq(missing, live_only=True)
    cache.keep(read.values(), generation)
    return read


def paper_meta(
    cache: FactCache, keys: list[int], withdrawn: set[int], read: Mapping[int, PaperMeta]
) -> dict[int, PaperMeta]:
    """Facts about the papers among `keys` neither in `withdrawn` nor withdrawn before:
    from `cache` and from `read` (what `read_facts` just read)."""
    found, missing = cache.known([k for k in keys if k not in withdrawn])
    found.update((k, read[k]) for k in missing if k in read)
    return found
