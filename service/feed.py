"""Serving a reader's feed: the database reads, the pure pipeline, then the impression log."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import cast

import numpy as np

from ranking import features, pipeline
from service import wire
from service.runtime import Runtime
from storage.feeds import paper_facts, plan_feed, read_inputs
from storage.rows import Impression

# The candidate sources as readers see them: every collaborative model is "collaborative".
REASONS = {"related": "collaborative", "factors": "collaborative", "ease": "collaborative"}


def reasons(sources: list[str]) -> list[str]:
    """The distinct reasons behind a paper's candidate sources, in the sources' order."""
    return list(dict.fromkeys(REASONS.get(s, s) for s in sources))


async def serve_feed(rt: Runtime, user_id: str, limit: int) -> wire.Feed:
    """Rank a feed of `limit` papers for `user_id`, log it as impressions, and return it."""
    now = datetime.now(UTC)
    inputs = await read_inputs(rt.store, rt.resting, user_id)
    stats = rt.stats  # read once, like the ranker
    plan = await asyncio.to_thread(plan_feed, rt.index, stats, inputs, now)
    meta = await rt.store.papers_by_seq([c.key for c in plan.candidates], live_only=True)
    ranker = rt.ranker  # read once: a model swap mid-request must not mix versions
    request_id = uuid.uuid4()
    ranked = await asyncio.to_thread(
        pipeline.rank,
        plan,
        rt.index,
        paper_facts(meta),
        ranker,
        limit,
        explore_share=rt.settings.explore_share,
        rng=np.random.default_rng(request_id.int),  # replayable from the request id
    )

    history_ids = {h.seq: h.paper_id for h in inputs.history}
    items = [
        wire.Item(
            paper_id=meta[r.key].id,
            title=meta[r.key].title,
            score=round(r.score, 6),
            position=position,
            reasons=cast(list[wire.Reason], reasons(r.sources) + ["explore"] * r.explored),
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
        now,
        ranker.version,
        stats.version,
        features.NAMES,
        len(plan.candidates),
        impressions,
    )
    return wire.Feed(request_id=request_id, model_version=ranker.version, items=items)
