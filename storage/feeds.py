"""A reader's feed inputs as the database holds them (as of any moment), shaped for
`ranking.pipeline`: shared by serving (`service.feed`) and the offline replay
(`training.replay`), so both plan a feed from the same reads."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from ranking import features, pipeline
from ranking.index import VectorIndex
from ranking.profile import Interaction
from ranking.stats import CatalogueStats
from storage.delivery import DeliveryStore
from storage.rows import HistoryRow, PaperMeta
from storage.store import Store

HISTORY_EVENTS = 1000
FRESH_CANDIDATES = 100


@dataclass(frozen=True)
class FeedInputs:
    history: list[HistoryRow]  # newest first
    hidden: set[int]  # shown too often lately
    fresh: list[int]


@dataclass(frozen=True)
class Resting:
    """A paper shown `max_impressions` times to a reader within `window_days` rests."""

    window_days: int
    max_impressions: int


async def read_inputs(
    store: Store,
    resting: Resting,
    user_id: str,
    as_of: datetime | None = None,
    surface: str = "api",
) -> FeedInputs:
    """What the database says about the reader and the catalogue (as of `as_of`: now), for
    a feed shown on `surface`."""
    history, hidden, fresh = await asyncio.gather(
        store.user_history(user_id, HISTORY_EVENTS, as_of),
        store.overshown(user_id, resting.window_days, resting.max_impressions, as_of),
        store.fresh(FRESH_CANDIDATES, as_of),
    )
    if surface == "digest":  # a paper goes to a reader by e-mail once, never again
        hidden |= await DeliveryStore(store).digest_sent_papers(user_id, as_of)
    return FeedInputs(history, hidden, fresh)


def plan_feed(
    index: VectorIndex, stats: CatalogueStats, inputs: FeedInputs, now: datetime
) -> pipeline.Plan:
    epoch = now.timestamp()
    interactions = [
        Interaction(h.seq, h.type, (epoch - h.occurred_at.timestamp()) / 86_400)
        for h in inputs.history
    ]
    return pipeline.plan(index, interactions, stats, inputs.fresh, inputs.hidden, epoch)


def paper_facts(meta: dict[int, PaperMeta]) -> dict[int, features.PaperFacts]:
    return {k: features.PaperFacts(m.abstract_chars, m.published_epoch) for k, m in meta.items()}
