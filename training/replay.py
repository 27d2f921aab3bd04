"""Rebuild the features of a served feed offline, with the serving code and inputs.

Used to check that what was logged is what the shared feature code computes (no
train/serve skew), and to debug a feed a reader complains about.
"""

from __future__ import annotations

import uuid

import numpy as np

from ranking import pipeline
from ranking.errors import ReplayError
from ranking.index import VectorIndex
from ranking.stats import CatalogueStats
from storage.feeds import Resting, plan_feed, read_inputs
from storage.store import Store


async def replay_features(
    store: Store,
    resting: Resting,
    index: VectorIndex,
    stats: CatalogueStats,
    request_id: uuid.UUID,
) -> dict[str, np.ndarray]:
    """Feature rows, by paper id, of every candidate the feed `request_id` had, recomputed
    from the database as of the moment it was served."""
    feed = await store.feed_record(request_id)
    if feed is None:
        raise ReplayError(f"no served feed {request_id}")
    if feed.stats_version != stats.version:
        raise ReplayError(
            f"feed {request_id} used statistics {feed.stats_version}, not {stats.version}"
        )
    inputs = await read_inputs(
        store, resting, feed.user_id, index.dim, as_of=feed.served_at, surface=feed.surface
    )
    plan = plan_feed(index, stats, inputs, feed.served_at)
    meta = await store.papers_by_seq(plan.candidates.keys.tolist())
    cands, _, built = pipeline.featurize(plan, index, meta)
    return {meta[key].id: built.matrix[i] for i, key in enumerate(cands.keys.tolist())}
