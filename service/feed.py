"""Building a reader's feed: storage reads around the pure pipeline, then the impression log."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import cast

import numpy as np

from ranking import features, pipeline
from ranking.profile import Interaction
from service import wire
from service.runtime import Runtime
from service.store import Impression

HISTORY_EVENTS = 1000
FRESH_CANDIDATES = 100


async def serve_feed(rt: Runtime, user_id: str, limit: int) -> wire.Feed:
    """Rank a feed of `limit` papers for `user_id`, log it as impressions, and return it."""
    s = rt.settings
    now = time.time()
    history, hidden, fresh = await asyncio.gather(
        rt.store.user_history(user_id, HISTORY_EVENTS),
        rt.store.overshown(user_id, s.impression_window_days, s.max_impressions_per_paper),
        rt.store.fresh(FRESH_CANDIDATES),
    )
    interactions = [
        Interaction(h.seq, h.type, (now - h.occurred_at.timestamp()) / 86_400) for h in history
    ]
    stats = rt.stats  # read once, like the ranker
    plan = await asyncio.to_thread(pipeline.plan, rt.index, interactions, stats, fresh, hidden, now)
    meta = await rt.store.papers_by_seq([c.key for c in plan.candidates])
    facts = {k: features.PaperFacts(m.abstract_chars, m.published_epoch) for k, m in meta.items()}
    ranker = rt.ranker  # read once: a model swap mid-request must not mix versions
    request_id = uuid.uuid4()
    ranked = await asyncio.to_thread(
        pipeline.rank,
        plan,
        rt.index,
        facts,
        ranker,
        limit,
        explore_share=s.explore_share,
        rng=np.random.default_rng(request_id.int),  # replayable from the request id
    )

    history_ids = {h.seq: h.paper_id for h in history}
    items = [
        wire.Item(
            paper_id=meta[r.key].id,
            title=meta[r.key].title,
            score=round(r.score, 6),
            position=position,
            reasons=cast(list[wire.Reason], r.sources + ["explore"] * r.explored),
            similar_to=history_ids[r.similar_to]
            if r.similar_to is not None and "similar" in r.sources
            else None,
        )
        for position, r in enumerate(ranked)
    ]
    impressions = [
        Impression(i.position, i.paper_id, i.score, r.features.tolist(), r.propensity, r.explored)
        for i, r in zip(items, ranked, strict=True)
    ]
    await rt.store.log_feed(
        request_id,
        user_id,
        ranker.version,
        stats.version,
        features.NAMES,
        len(plan.candidates),
        impressions,
    )
    return wire.Feed(request_id=request_id, model_version=ranker.version, items=items)
