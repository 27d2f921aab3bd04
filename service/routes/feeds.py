"""Reading endpoints: the personal feed, similar papers, semantic search, trending."""

from __future__ import annotations

import asyncio
from typing import Annotated

import numpy as np
from litestar import get
from litestar.params import Parameter

from service import wire
from service.auth import requires
from service.errors import Gone, NotFound
from service.feed import serve_feed
from service.routes.papers import PaperPath
from service.routes.problems import problems
from service.runtime import Runtime, RuntimeDep

# The shared catalogue: API keys with feed:read, and any reader token.
CATALOGUE = requires("feed:read", readers="any")

UserPath = Annotated[str, Parameter(pattern=wire.ID_PATTERN, description="Reader id")]
Limit = Annotated[
    int | None,
    Parameter(ge=1, le=wire.MAX_LIMIT, description="Items (default PAPERFEED_FEED_DEFAULT_LIMIT)"),
]


def check_limit(limit: int | None, runtime: Runtime) -> int:
    return runtime.settings.feed_default_limit if limit is None else limit


@get(
    "/v1/users/{user_id:str}/feed",
    tags=["feed"],
    responses=problems(),
    guards=[requires("feed:read", readers="own")],
)
async def get_feed(user_id: UserPath, runtime: RuntimeDep, limit: Limit = None) -> wire.Feed:
    """The reader's personal feed. A reader with no history gets popular and fresh papers;
    saved and dismissed papers are never included. Each call is logged as impressions
    under the returned `request_id`: send it back with the reader's events."""
    return await serve_feed(runtime, user_id, check_limit(limit, runtime))


async def _items(
    runtime: Runtime, keys: list[int], scores: list[float], reason: wire.Reason
) -> wire.ItemList:
    meta = await runtime.store.papers_by_seq(keys)
    ranked = [(k, s) for k, s in zip(keys, scores, strict=True) if k in meta]
    return wire.ItemList(
        items=[
            wire.Item(meta[k].id, meta[k].title, round(s, 6), position, [reason])
            for position, (k, s) in enumerate(ranked)
        ]
    )


def _nearest(
    runtime: Runtime, query: np.ndarray, k: int, skip: int | None
) -> tuple[list[int], list[float]]:
    scores, keys = runtime.index.search(query, k + 1)
    pairs = [(int(key), float(score)) for key, score in zip(keys[0], scores[0], strict=True)]
    pairs = [(key, score) for key, score in pairs if key >= 0 and key != skip][:k]
    return [p[0] for p in pairs], [p[1] for p in pairs]


@get(
    "/v1/papers/{paper_id:str}/similar",
    tags=["papers"],
    responses=problems(404, 410),
    guards=[CATALOGUE],
)
async def get_similar(
    paper_id: PaperPath, runtime: RuntimeDep, limit: Limit = None
) -> wire.ItemList:
    """Papers closest in content to this one (empty until the paper has been embedded)."""
    k = check_limit(limit, runtime)
    row = await runtime.store.get_paper(paper_id)
    if row is None:
        raise NotFound(f"no paper with id {paper_id!r}")
    if row["withdrawn"]:
        raise Gone(f"paper {paper_id!r} was withdrawn")
    present, vectors = runtime.index.vectors([row["seq"]])
    if not present[0]:
        return wire.ItemList(items=[])
    keys, scores = _nearest(runtime, vectors, k, skip=row["seq"])
    return await _items(runtime, keys, scores, "similar")


@get("/v1/search", tags=["papers"], responses=problems(), guards=[CATALOGUE])
async def search_papers(
    runtime: RuntimeDep,
    q: Annotated[
        str,
        Parameter(min_length=1, max_length=500, pattern=wire.HAS_TEXT, description="Free text"),
    ],
    limit: Limit = None,
) -> wire.ItemList:
    """Semantic search: papers whose title and abstract are closest in meaning to `q`."""
    k = check_limit(limit, runtime)
    query = await asyncio.to_thread(runtime.embedder.embed, [q.strip()])
    keys, scores = _nearest(runtime, query, k, skip=None)
    return await _items(runtime, keys, scores, "search")


@get("/v1/trending", tags=["papers"], responses=problems(), guards=[CATALOGUE])
async def get_trending(
    runtime: RuntimeDep,
    days: Annotated[int, Parameter(ge=1, le=365, description="Window in days")] = 7,
    limit: Limit = None,
) -> wire.ItemList:
    """Papers with the most saves (weight 3) and clicks (weight 1) in the last `days`."""
    k = check_limit(limit, runtime)
    rows = await runtime.store.popular(days, k)
    return wire.ItemList(
        items=[
            wire.Item(r["id"], r["title"], float(r["score"]), position, ["popular"])
            for position, r in enumerate(rows)
        ]
    )


HANDLERS = [get_feed, get_similar, search_papers, get_trending]
