"""Features logged at serving time equal the ones recomputed offline from the same inputs."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from ranking.errors import ReplayError
from storage.store import Store
from tests.support import AppClient, event, fit_collab, runtime_of
from training.replay import replay_features


async def test_logged_features_equal_offline_recomputation(catalogue: AppClient) -> None:
    # A reader with history, others whose saves make co-save and popularity signals.
    events = [
        event("r1", "reader", "rl-0", "save"),
        event("r2", "reader", "rl-1", "click"),
        event("r3", "reader", "diffusion-0", "dismiss"),
        *(event(f"o{i}a", f"other{i}", "rl-0", "save") for i in range(3)),
        *(
            event(f"o{i}b", f"other{i}", ["rl-2", "proteins-1", "diffusion-2"][i], "save")
            for i in range(3)
        ),
        *(event(f"o{i}c", f"other{i}", "rl-3", "click") for i in range(2)),
    ]
    assert (await catalogue.post("/v1/events", json={"events": events})).json()["accepted"] == len(
        events
    )
    assert (await fit_collab(catalogue))["cosave_lists"] > 0  # `paperfeed fit`, then loaded
    for _ in range(2):  # earlier feeds make impressions, which later feeds' features count
        await catalogue.get("/v1/users/reader/feed?limit=4")
    await catalogue.post("/v1/admin/stats/refresh")
    interests = {"topics": ["protein design"], "paper_ids": ["proteins-2"]}
    assert (await catalogue.put("/v1/users/reader/interests", json=interests)).status_code == 200
    served = (await catalogue.get("/v1/users/reader/feed?limit=8")).json()
    # Interests changed later do not change how that feed replays.
    changed = {"topics": ["robots"]}
    assert (await catalogue.put("/v1/users/reader/interests", json=changed)).status_code == 200

    runtime = runtime_of(catalogue)
    assert catalogue.database_url
    store = await Store.connect(catalogue.database_url, max_size=2)
    try:
        logged = await store.feed_record(uuid.UUID(served["request_id"]))
        assert logged is not None and len(logged.features) == 8
        replayed = await replay_features(
            store, runtime.resting, runtime.index, runtime.stats, uuid.UUID(served["request_id"])
        )
        for paper_id, row in logged.features.items():
            np.testing.assert_array_equal(np.asarray(row, dtype=np.float32), replayed[paper_id])
        # The reader's co-save and popularity signals are really in there, not all zeros.
        matrix = np.array(list(logged.features.values()))
        assert matrix.any(axis=0).sum() > len(matrix[0]) // 2

        await catalogue.post("/v1/admin/stats/refresh")  # a new snapshot: replay must refuse
        with pytest.raises(ReplayError, match="statistics"):
            await replay_features(
                store,
                runtime.resting,
                runtime.index,
                runtime.stats,
                uuid.UUID(served["request_id"]),
            )
    finally:
        await store.close()
