"""The catalogue: upsert, read and withdraw papers; similar papers, search, trending."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from datetime import date as Day
from typing import Annotated, Literal

import numpy as np
from litestar import delete, get, post
from litestar.openapi.spec import Example
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK

from ranking.errors import BadQuery, Gone, InvalidInput, NotFound
from service import wire
from service.auth import requires
from service.records import to_row
from service.routes.body import StrictJSON
from service.routes.params import Limit, PaperPath, limit_or_default
from service.routes.problems import problems
from service.runtime import Runtime, RuntimeDep
from storage.rows import PaperRow, StoredPaper

# The shared catalogue: API keys with feed:read, and any reader token.
CATALOGUE = requires("feed:read", readers="any")


async def _live_paper(runtime: Runtime, paper_id: str) -> StoredPaper:
    """The paper `paper_id`; NotFound if unknown, Gone if withdrawn."""
    paper = await runtime.store.get_paper(paper_id)
    if paper is None:
        raise NotFound(f"no paper with id {paper_id!r}")
    if paper.withdrawn:
        raise Gone(f"paper {paper_id!r} was withdrawn")
    return paper


@post(
    "/v1/papers",
    status_code=HTTP_200_OK,
    tags=["papers"],
    responses=problems(413, 422),
    guards=[requires("papers:write")],
    dto=StrictJSON[wire.PaperBatch],
)
async def upsert_papers(
    data: JSONBody[wire.PaperBatch], runtime: RuntimeDep
) -> wire.PaperBatchResult:
    """Add or update up to 1,000 papers. Idempotent by `id`: sending the same paper again
    changes nothing; a changed title or abstract is embedded again. Withdrawn papers and
    repeated ids within a batch are rejected per paper."""
    rows: list[PaperRow] = []
    rejected: list[wire.Rejection] = []
    seen: dict[str, int] = {}
    for i, paper in enumerate(data.papers):
        if paper.id in seen:
            reason = f"id {paper.id!r} repeats papers[{seen[paper.id]}] in this batch"
            rejected.append(wire.Rejection(i, paper.id, reason))
            continue
        try:
            rows.append(to_row(paper))
        except ValueError as exc:
            rejected.append(wire.Rejection(i, paper.id, str(exc)))
            continue
        seen[paper.id] = i
    if not rows:
        raise InvalidInput("no paper in the batch was valid", extra={"rejected": rejected})
    outcome = await runtime.store.upsert_papers(rows)
    for paper_id in outcome.withdrawn:
        rejected.append(
            wire.Rejection(seen[paper_id], paper_id, "paper was withdrawn and cannot be re-added")
        )
    if outcome.added or outcome.updated:
        runtime.worker.wake()
    rejected.sort(key=lambda r: r.index)
    if not (outcome.added or outcome.updated or outcome.unchanged):
        raise InvalidInput("no paper in the batch was valid", extra={"rejected": rejected})
    return wire.PaperBatchResult(
        added=len(outcome.added),
        updated=len(outcome.updated),
        unchanged=len(outcome.unchanged),
        rejected=rejected,
    )


@get(
    "/v1/papers/{paper_id:str}",
    tags=["papers"],
    responses=problems(404, 410),
    guards=[CATALOGUE],
)
async def get_paper(paper_id: PaperPath, runtime: RuntimeDep) -> wire.Paper:
    """One paper, with whether it has been embedded yet."""
    paper = await _live_paper(runtime, paper_id)
    return wire.Paper(
        id=paper.id,
        title=paper.title,
        abstract=paper.abstract,
        authors=paper.authors,
        categories=paper.categories,
        published_at=paper.published_at,
        url=paper.url,
        embedded=paper.embedded,
        withdrawn=paper.withdrawn,
    )


@delete(
    "/v1/papers/{paper_id:str}",
    tags=["papers"],
    responses=problems(404),
    guards=[requires("papers:write")],
)
async def withdraw_paper(paper_id: PaperPath, runtime: RuntimeDep) -> None:
    """Withdraw a paper: it is never served again. Repeating the call changes nothing."""
    seq = await runtime.store.withdraw_paper(paper_id)
    if seq is None:
        raise NotFound(f"no paper with id {paper_id!r}")
    runtime.index.remove([seq])


async def _items(
    runtime: Runtime, keys: list[int], scores: list[float], reason: wire.Reason, why: str
) -> wire.ItemList:
    meta = await runtime.store.papers_by_seq(keys, live_only=True)
    ranked = [(k, s) for k, s in zip(keys, scores, strict=True) if k in meta]
    return wire.ItemList(
        items=[
            wire.Item(meta[k].id, meta[k].title, round(s, 6), position, [reason], explanation=why)
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
    k = limit_or_default(limit, runtime)
    paper = await _live_paper(runtime, paper_id)
    present, vectors = runtime.index.vectors([paper.seq])
    if not present[0]:
        return wire.ItemList(items=[])
    keys, scores = _nearest(runtime, vectors, k, skip=paper.seq)
    return await _items(runtime, keys, scores, "similar", f"Similar to *{paper.title}*")


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
    k = limit_or_default(limit, runtime)
    query = await asyncio.to_thread(runtime.embedder.embed, [q.strip()])
    keys, scores = _nearest(runtime, query, k, skip=None)
    return await _items(runtime, keys, scores, "search", "Matches your search")


TrendingBy = Literal["activity", "published"]


@get("/v1/trending", tags=["papers"], responses=problems(), guards=[CATALOGUE])
async def get_trending(
    runtime: RuntimeDep,
    days: Annotated[
        int | None, Parameter(ge=1, le=365, description="Window in days (default 7); not with date")
    ] = None,
    date: Annotated[
        Day | None,
        Parameter(
            description='One UTC day, YYYY-MM-DD ("Daily Papers"); not with days',
            examples=[Example(value="2026-11-30")],
        ),
    ] = None,
    by: Annotated[
        TrendingBy,
        Parameter(
            description="activity: most saved (×3) and clicked (×1) in the window or on the "
            "day; published: papers published then, most saved and clicked first"
        ),
    ] = "activity",
    limit: Limit = None,
) -> wire.ItemList:
    """Trending papers: the most saved (weight 3) and clicked (weight 1) in the last `days`
    or on the UTC day `date` (`ranking.stats.popularity`, as the feed's popular papers), or
    with `by=published` the papers published then, most saved and clicked first."""
    day = date
    if day is not None and days is not None:
        raise BadQuery("give either date (one day) or days (a window up to now), not both")
    now = datetime.now(UTC)
    if day is None:
        until = now
        since = now - timedelta(days=days or 7)
        when = "this week" if (days or 7) == 7 else f"in the last {days} days"
    else:
        if day > now.date():
            raise BadQuery(f"date {day.isoformat()} is in the future (days are UTC)")
        since = datetime.combine(day, time(), UTC)
        until = since + timedelta(days=1)
        when = f"on {day.isoformat()}"
    published = by == "published"
    papers = await runtime.store.popular_between(
        since, until, limit_or_default(limit, runtime), published=published
    )
    return wire.ItemList(
        items=[
            wire.Item(
                p.id,
                p.title,
                p.score,
                position,
                ["fresh" if published else "popular"],
                explanation=_trending_sentence(p.saves, p.clicks, when, published),
            )
            for position, p in enumerate(papers)
        ]
    )


def _trending_sentence(saves: int, clicks: int, when: str, published: bool) -> str:
    counts = " and ".join(
        f"{n} {word}{'' if n == 1 else 's'}"
        for n, word in ((saves, "save"), (clicks, "click"))
        if n > 0
    )
    if published:
        return f"Published {when}" + (f"; {counts} so far" if counts else "")
    return f"{counts[:1].upper()}{counts[1:]} {when}"


HANDLERS = [
    upsert_papers,
    get_paper,
    withdraw_paper,
    get_similar,
    search_papers,
    get_trending,
]
