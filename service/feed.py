"""Serving a reader's feed: the database reads, the pure pipeline, then the impression log.

Pages. The first request ranks one list `PAPERFEED_FEED_DEPTH` deep (near-duplicates
collapsed, at most `FEED_AUTHOR_CAP` papers per first author on each page), serves its
first page and keeps the rest, exactly as it will be served, in `ranked_lists`, in the
same transaction as the first page's impressions. A cursor names that list (the first
page's request id) and a page: later pages are slices of the kept list, so they continue
the same ranking, never repeat a paper, and stay put while the reader pages, whatever
the reader saves or the ranker learns meanwhile. Re-ranking for each page would be
cheaper to store but could not promise either. Every page is logged as impressions of
the one feed (its request id, positions counting on across pages, and the page number),
so events carry one request id and training sees one ranked list.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

import numpy as np

from ranking import features, pipeline
from ranking.errors import BadQuery, Gone
from ranking.explain import cosaved_index, explanation
from ranking.model import Ranker, contributions
from service import metrics, wire
from service.cursor import cursor_key, make_cursor, read_cursor
from service.runtime import Runtime
from storage.feeds import (
    FeedInputs,
    paper_meta,
    plan_feed,
    read_facts,
    read_inputs,
    withdrawn_since,
)
from storage.pages import expire_lists, kept_list, log_page, withdrawn_among
from storage.rows import Impression, KeptItem, KeptList

log = logging.getLogger(__name__)

# The candidate sources as readers see them: every collaborative model is "collaborative".
REASONS = {"related": "collaborative", "factors": "collaborative", "ease": "collaborative"}


def reasons(sources: list[str]) -> list[str]:
    """The distinct reasons behind a paper's candidate sources, in the sources' order."""
    return list(_reasons(tuple(sources)))


@functools.cache  # a feed asks for a hundred papers, of a few dozen source combinations
def _reasons(sources: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(REASONS.get(s, s) for s in sources))


# Where a feed is shown, logged with it: the JSON API, the e-mail digest, the Atom feed.
Surface = Literal["api", "digest", "atom"]


async def serve_feed(
    rt: Runtime,
    user_id: str,
    limit: int,
    surface: Surface = "api",
    *,
    explain: bool = False,
) -> wire.Feed:
    """Rank a feed for `user_id`, log its first page of `limit` papers as impressions shown
    on `surface`, and return it. On the API the rest of the ranked list is kept for the
    feed's cursor; a digest never repeats a paper an earlier digest sent."""
    now = datetime.now(UTC)
    fresh = await rt.fresh_papers()  # held by the process: read once per poll, not per feed
    read, withdrawn = await asyncio.gather(
        read_inputs(rt.store, rt.resting, user_id, rt.index.dim, surface=surface, fresh=fresh),
        withdrawn_since(rt.store, rt.follower.horizon if rt.follower else 0),
    )
    inputs = await _current_topics(rt, read)
    stats = rt.stats  # read once, like the ranker
    # The pipeline runs on the event loop, not in a thread: it is Python holding the GIL
    # (FAISS, BLAS and LightGBM use one thread each), so a thread buys no parallelism and
    # only passes the GIL back and forth (measured in the README, Scaling out). Several
    # worker processes give the parallelism.
    plan = plan_feed(rt.index, stats, inputs, now)
    candidates = plan.candidates.keys
    liked = np.asarray(plan.history_keys, np.int64)
    papers = np.r_[candidates, liked[liked >= 0]]  # topics (negative keys) are no papers
    facts_read = await read_facts(rt.store, rt.facts, papers, withdrawn)
    ranker = rt.ranker  # read once: a model swap mid-request must not mix versions
    request_id = uuid.uuid4()
    settings = rt.settings
    variety = pipeline.Variety(
        duplicate_cosine=settings.duplicate_cosine if settings.duplicate_cosine <= 1 else None,
        author_cap=settings.feed_author_cap,
        page_size=limit,
    )
    ranked = pipeline.rank(
        plan,
        rt.index,
        rt.facts.columns(candidates, withdrawn, facts_read),  # arrays: no object per candidate
        ranker,
        max(limit, settings.feed_depth),
        explore_share=settings.explore_share,
        rng=np.random.default_rng(request_id.int),  # replayable from the request id
        variety=variety,
    )
    cosaved = cosaved_index(plan, [r.key for r in ranked])
    # The liked papers (events and onboarding picks) that explanations may name: the one
    # an item is similar to, and a saved paper an item was saved with when it is the only
    # one. Topics (negative keys) have no facts.
    cited = {r.similar_to for r in ranked if r.similar_to is not None}
    cited |= {saved[0] for saved in cosaved.values() if len(saved) == 1}
    named = [k for k in plan.history_keys if k in cited]
    # Objects only for the papers the feed names: the ranked ones and those liked ones.
    meta = paper_meta(rt.facts, [r.key for r in ranked] + named, withdrawn, facts_read)
    liked_ids = {k: meta[k].id for k in named if k in meta}
    titles = {k: meta[k].title for k in named if k in meta}
    kept = [
        KeptItem(
            key=r.key,
            paper_id=meta[r.key].id,
            title=meta[r.key].title,
            score=round(r.score, 6),
            features=np.ascontiguousarray(r.features, dtype="<f4").tobytes(),
            propensity=r.propensity,
            explored=r.explored,
            reasons=reasons(r.sources) + ["explore"] * r.explored,
            similar_to=liked_ids.get(r.similar_to)
            if r.similar_to is not None and "similar" in r.sources
            else None,
            explanation=explanation(
                plan,
                r,
                titles,
                (now.timestamp() - meta[r.key].published_epoch) / 86_400,
                cosaved,
            ),
        )
        for r in ranked
    ]
    first, rest = kept[:limit], kept[limit:]
    if surface != "api":  # a digest or an Atom feed is one page: nothing kept for a cursor
        rest = []
    await rt.store.log_feed(
        request_id,
        user_id,
        now,
        ranker.version,
        stats.version,
        features.NAMES,
        len(plan.candidates),
        _impressions(first, 0, 1),
        surface,
        kept=KeptList(limit, rest) if rest else None,
    )
    metrics.FEEDS.labels(ranker.version).inc()
    return wire.Feed(
        request_id=request_id,
        model_version=ranker.version,
        items=_items(first, 0, ranker if explain else None),
        next=_cursor(rt, user_id, request_id, 2) if rest else None,
    )


async def serve_page(
    rt: Runtime, user_id: str, cursor: str, limit: int | None, *, explain: bool = False
) -> wire.Feed:
    """The page of a feed that `cursor` names (from an earlier page's `next`), logged as
    impressions of that feed. BadQuery for a cursor not issued for this reader or a
    `limit` other than the first page's; Gone when the cursor has expired."""
    request_id, page = read_cursor(cursor_key(rt.token_secret), user_id, cursor)
    kept = await kept_list(rt.store, request_id, user_id)
    ttl = timedelta(seconds=rt.settings.feed_cursor_ttl_seconds)
    if kept is None or kept.created_at is None or kept.created_at + ttl < datetime.now(UTC):
        raise Gone("this feed's cursor has expired; ask for the feed again without a cursor")
    size = kept.page_size
    if limit is not None and limit != size:
        raise BadQuery(
            f"limit {limit} differs from the page size {size} this feed was paged with; "
            "leave limit out when sending a cursor"
        )
    start = (page - 2) * size  # the kept list begins with page 2
    items = kept.items[start : start + size]
    withdrawn = await withdrawn_among(rt.store, [i.paper_id for i in items])
    shown = [i for i in items if i.paper_id not in withdrawn]
    offset = size * (page - 1)
    positions = [offset + n for n, i in enumerate(items) if i.paper_id not in withdrawn]
    await log_page(rt.store, request_id, user_id, _impressions(shown, positions, page))
    ranker = rt.ranker
    # Contributions only add up to a score when the same model computes them.
    explainer = ranker if explain and ranker.version == kept.model_version else None
    more = start + size < len(kept.items)
    return wire.Feed(
        request_id=request_id,
        model_version=kept.model_version,
        items=_items(shown, positions, explainer),
        next=_cursor(rt, user_id, request_id, page + 1) if more else None,
        page=page,
    )


async def expire_lists_forever(rt: Runtime) -> None:
    """Drop expired ranked lists every `stats_refresh_seconds`: one statement for all
    readers in the background, not one per feed (a cursor's expiry is checked when it is
    used, so a list outliving its time by a little changes nothing)."""
    while True:
        await asyncio.sleep(rt.settings.stats_refresh_seconds)
        ttl = timedelta(seconds=rt.settings.feed_cursor_ttl_seconds)
        try:
            await expire_lists(rt.store, datetime.now(UTC) - ttl)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("dropping expired ranked lists failed; trying again later")


def _cursor(rt: Runtime, user_id: str, request_id: uuid.UUID, page: int) -> str:
    return make_cursor(cursor_key(rt.token_secret), user_id, request_id, page)


def _features(item: KeptItem) -> np.ndarray:
    return np.frombuffer(item.features, dtype="<f4")


def _positions(items: list[KeptItem], positions: int | list[int]) -> list[int]:
    """Positions given as a list, or as the first one's (the rest follow in order)."""
    if isinstance(positions, int):
        return list(range(positions, positions + len(items)))
    return positions


def _impressions(items: list[KeptItem], positions: int | list[int], page: int) -> list[Impression]:
    return [
        Impression(p, i.paper_id, i.score, _features(i).tolist(), i.propensity, i.explored, page)
        for i, p in zip(items, _positions(items, positions), strict=True)
    ]


def _items(
    items: list[KeptItem], positions: int | list[int], explainer: Ranker | None
) -> list[wire.Item]:
    explained = None
    if explainer is not None and items:
        explained = contributions(explainer, np.vstack([_features(i) for i in items]))
    return [
        wire.Item(
            paper_id=i.paper_id,
            title=i.title,
            score=i.score,
            position=p,
            reasons=cast(list[wire.Reason], i.reasons),
            similar_to=i.similar_to,
            explanation=i.explanation,
            contributions=explained[n] if explained is not None else None,
        )
        for n, (i, p) in enumerate(zip(items, _positions(items, positions), strict=True))
    ]


async def _current_topics(rt: Runtime, inputs: FeedInputs) -> FeedInputs:
    """`inputs` with the reader's topics embedded by the server's model: topics stored
    with another model's vectors are embedded again for this request."""
    row = inputs.interests
    if row is None or not row.topics or row.embedding_model == rt.embedder.name:
        return inputs
    vectors = await asyncio.to_thread(rt.embedder.embed, row.topics)
    return dataclasses.replace(inputs, interests=dataclasses.replace(row, topic_vectors=vectors))
