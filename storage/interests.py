"""Readers' onboarding interests: the topics and papers a reader says they care about.

Every change appends a row, so the interests in force at any moment (for the offline
replay of a served feed) stay known; the newest row is the one in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from storage.rows import InterestsRow
from storage.store import Store, sql, vector_to_bytes, vectors_from_bytes


async def set_interests(
    store: Store,
    user_id: str,
    topics: Sequence[str],
    paper_ids: Sequence[str],
    topic_vectors: np.ndarray,
    embedding_model: str,
) -> datetime:
    """Store the reader's interests (replacing the ones in force); returns when."""
    set_at: datetime = await store.pool.fetchval(
        sql("insert_interests"),
        user_id,
        list(topics),
        list(paper_ids),
        [vector_to_bytes(v) for v in topic_vectors],
        embedding_model,
    )
    return set_at


async def interests(
    store: Store, user_id: str, dim: int, as_of: datetime | None = None
) -> InterestsRow | None:
    """The reader's interests in force at `as_of` (None: now), or None if they set none.
    Topic vectors of another dimension than `dim` (another embedding model) come back as
    an empty array."""
    row = await store.pool.fetchrow(sql("interests"), user_id, as_of)
    if row is None:
        return None
    blobs = row["topic_vectors"]
    fits = all(len(b) == 4 * dim for b in blobs)
    return InterestsRow(
        set_at=row["set_at"],
        topics=list(row["topics"]),
        paper_ids=list(row["paper_ids"]),
        keys=list(row["keys"]),
        topic_vectors=vectors_from_bytes(blobs if fits else [], dim),
        embedding_model=row["embedding_model"],
    )


async def unknown_papers(store: Store, paper_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """(ids of no paper, ids of withdrawn papers) among `paper_ids`, in their order."""
    known = {r["id"] for r in await store.pool.fetch(sql("known_papers"), list(paper_ids))}
    withdrawn = {r["id"] for r in await store.pool.fetch(sql("withdrawn_among"), list(paper_ids))}
    return [p for p in paper_ids if p not in known], [p for p in paper_ids if p in withdrawn]


async def interest_history(
    store: Store, user_id: str
) -> list[tuple[datetime, list[str], list[str]]]:
    """Every (set_at, topics, paper_ids) the reader stored, oldest first (for the export)."""
    rows = await store.pool.fetch(sql("export_user_interests"), user_id)
    return [(r["set_at"], list(r["topics"]), list(r["paper_ids"])) for r in rows]
