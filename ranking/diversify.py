"""Variety in a feed: maximal marginal relevance, one paper per work (near-duplicates
collapse), and a cap on papers by one first author per page."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_NOT_WORD = re.compile(r"[\W_]+")


def work_key(title: str) -> str:
    """A title normalised so that versions of one work compare equal: Unicode-folded,
    case-folded, punctuation and spacing dropped ("Attention is all you need." ==
    "ATTENTION IS ALL YOU NEED")."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return _NOT_WORD.sub(" ", folded).strip()


def stable_code(text: str) -> int:
    """A non-empty string as a number in [1, 2**63): blake2b, so the same in every process
    and every run (Python's own string hash is not), and the fit can store the codes that
    servers compare with the ones they make for papers added since."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "little") >> 1) or 1


def work_code(title: str) -> int:
    """`work_key(title)` as a number (0: no title, a work of its own), for comparing a
    feed's candidates in one numpy step."""
    key = work_key(title)
    return stable_code(key) if key else 0


def author_code(name: str) -> int:
    """A first author's name, spacing and case folded, as a number (0: unknown, never
    capped), stable like `work_code`."""
    folded = name.strip().casefold()
    return stable_code(folded) if folded else 0


@dataclass(frozen=True, slots=True)
class Selection:
    order: list[int]  # chosen indexes, best first
    collapsed: frozenset[int]  # indexes left out as the same work as a chosen one


class _Similarities:
    """Rows of the candidates' cosine matrix, computed when first asked for and a block at
    a time in score order: MMR takes mostly the best-scored candidates, and one matrix
    product for a block of them costs about a third of one vector product per row."""

    BLOCK = 32

    def __init__(self, vectors: np.ndarray, scores: np.ndarray) -> None:
        self.vectors = vectors
        self.order = np.argsort(-scores, kind="stable")
        self.rank = np.empty(len(scores), dtype=np.int64)
        self.rank[self.order] = np.arange(len(scores))
        self.rows: dict[int, np.ndarray] = {}

    def of(self, i: int) -> np.ndarray:
        row = self.rows.get(i)
        if row is None:
            start = int(self.rank[i]) // self.BLOCK * self.BLOCK
            block = self.order[start : start + self.BLOCK]
            products = self.vectors[block] @ self.vectors.T
            self.rows.update(zip(block.tolist(), products, strict=True))
            row = self.rows[i]
        return row


def select(
    scores: np.ndarray,
    vectors: np.ndarray,
    k: int,
    relevance: float = 0.85,
    works: np.ndarray | None = None,
    duplicate_cosine: float | None = None,
) -> Selection:
    """`k` items chosen greedily by relevance·score − (1−relevance)·redundancy (MMR).

    Scores are rescaled to [0, 1] first so that `relevance` means the same for every
    ranker; redundancy is the highest cosine to an item already chosen. Once an item is
    chosen, the items that are the same work leave the race: equal `works` codes (see
    `work_code`; 0 is unknown, equal to no other), or a cosine of at least
    `duplicate_cosine` (None: no such test), and their own duplicates in turn. So of a
    group of near-duplicates the best-ranked one is kept.
    """
    n = len(scores)
    k = min(k, n)
    if k == 0:
        return Selection([], frozenset())
    spread = float(scores.max() - scores.min())
    norm = (scores - scores.min()) / spread if spread > 0 else np.ones(n)
    similarities = _Similarities(vectors, scores)
    chosen: list[int] = []
    # relevance·score, -inf once an item is chosen or collapsed (out of the race).
    relevant = relevance * norm
    redundancy = np.zeros(n)
    available = np.ones(n, dtype=bool)
    collapsed = np.zeros(n, dtype=bool)
    value = relevant.copy()
    while len(chosen) < k:
        best = int(np.argmax(value))
        if not available[best]:  # every value is -inf: nothing left
            break
        chosen.append(best)
        available[best] = False
        relevant[best] = -np.inf
        similarity = similarities.of(best)
        np.maximum(redundancy, similarity, out=redundancy)
        # The same work, transitively: a duplicate of a duplicate goes too (v1 and v2 share
        # a title, v2 and the journal version their text).
        frontier = [(best, similarity)]
        while frontier:
            item, item_similarity = frontier.pop()
            same = item_similarity >= duplicate_cosine if duplicate_cosine is not None else None
            if works is not None and works[item]:
                equal = works == works[item]
                same = equal if same is None else same | equal
            if same is None:
                continue
            same &= available
            hits = np.flatnonzero(same)
            if len(hits):
                collapsed[hits] = True
                available[hits] = False
                relevant[hits] = -np.inf
                frontier += [(int(j), similarities.of(int(j))) for j in hits]
        value = relevant - (1 - relevance) * redundancy
    return Selection(chosen, frozenset(np.flatnonzero(collapsed).tolist()))


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, relevance: float = 0.85) -> list[int]:
    """Indexes of `k` items chosen by maximal marginal relevance (`select` without
    collapsing near-duplicates)."""
    return select(scores, vectors, k, relevance).order


def cap_per_page(
    order: Sequence[int], authors: Sequence[int], page_size: int, cap: int
) -> list[int]:
    """`order` rearranged so that each page of `page_size` has at most `cap` items whose
    first author (`authors[i]`, an `author_code`; 0 means unknown and is never capped) is
    the same. An item over the cap moves to the top of the next page, so the order
    changes as little as it can. When only over-cap items are left to fill a page, the
    list ends there (they are dropped), so pages stay whole. `cap` below 1 changes nothing."""
    if cap < 1 or page_size < 1:
        return list(order)
    pending = list(order)
    out: list[int] = []
    while pending:
        counts: dict[int, int] = {}
        page: list[int] = []
        deferred: list[int] = []
        rest = iter(pending)
        for i in rest:
            author = authors[i]
            if author and counts.get(author, 0) >= cap:
                deferred.append(i)
                continue
            counts[author] = counts.get(author, 0) + 1
            page.append(i)
            if len(page) == page_size:
                break
        out.extend(page)
        if len(page) < page_size:
            break
        pending = deferred + list(rest)
    return out
