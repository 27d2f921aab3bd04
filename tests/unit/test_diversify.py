"""Maximal marginal relevance spreads a feed over topics."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from ranking.diversify import author_code, cap_per_page, mmr, select, work_code, work_key
from tests.support import clustered


def test_mmr_spreads_a_feed_over_topics() -> None:
    vectors = clustered(n_per=5)
    scores = np.array([1.0, 0.99, 0.98, 0.97, 0.96, 0.8, 0.79, 0.78, 0.77, 0.76])
    assert mmr(scores, vectors, 4, relevance=1.0) == [0, 1, 2, 3]
    mixed = mmr(scores, vectors, 4, relevance=0.3)
    assert mixed[0] == 0 and any(i >= 5 for i in mixed)
    assert mmr(scores[:0], vectors[:0], 3) == []


def test_versions_of_one_work_have_one_key() -> None:
    assert work_key("Attention Is All You Need") == work_key("  attention is all you need.")
    assert work_key("BERT: Pre-training") == work_key("BERT — pre‑training")
    assert work_key("Attention Is All You Need") != work_key("Attention is not all you need")
    assert work_code("A Title.") == work_code("a title") != work_code("Another") != 0
    assert work_code("") == work_code(" ... ") == 0  # no title: a work of its own


def test_codes_are_the_same_in_every_process() -> None:
    # The fit stores codes that servers compare with codes they make themselves: Python's
    # own string hash differs between processes (PYTHONHASHSEED).
    script = "from ranking.diversify import *; print(work_code('A Title'), author_code('Ada'))"
    here = f"{work_code('a title.')} {author_code(' ADA')}"
    for seed in ("1", "2"):
        env = os.environ | {"PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True
        )
        assert run.stdout.split() == here.split(), run.stderr


def test_near_duplicates_collapse_to_the_best_ranked_one() -> None:
    vectors = clustered(n_per=5)
    vectors[3] = vectors[0]  # the same text under another id: cosine 1
    scores = np.array([0.9, 1.0, 0.5, 0.8, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0])
    works = [f"paper {i}" for i in range(10)]
    works[7] = works[1]  # the same title under another id
    works[8] = works[3]  # ... and a duplicate of a duplicate (3 is 0's text)
    codes = np.array([work_code(w) for w in works])
    chosen = select(scores, vectors, 10, relevance=1.0, works=codes, duplicate_cosine=0.95)
    assert chosen.order == [1, 0, 2, 4, 5, 6, 9]
    assert chosen.collapsed == {3, 7, 8}
    # Without the tests, everything is kept.
    assert len(select(scores, vectors, 10, relevance=1.0).order) == 10


def reference_select(
    scores: np.ndarray,
    vectors: np.ndarray,
    k: int,
    relevance: float,
    works: list[str],
    duplicate_cosine: float,
) -> tuple[list[int], set[int]]:
    """MMR with collapsing, spelled out one item at a time (what `select` computes in
    blocks of similarities)."""
    norm = (scores - scores.min()) / (scores.max() - scores.min())
    chosen: list[int] = []
    out: set[int] = set()  # chosen or collapsed
    while len(chosen) < k and len(out) < len(scores):
        value = {
            i: relevance * norm[i]
            - (1 - relevance) * max([0.0] + [float(vectors[i] @ vectors[c]) for c in chosen])
            for i in range(len(scores))
            if i not in out
        }
        best = max(value, key=lambda i: (value[i], -i))
        chosen.append(best)
        out.add(best)
        frontier = [best]
        while frontier:
            item = frontier.pop()
            for j in range(len(scores)):
                same = float(vectors[item] @ vectors[j]) >= duplicate_cosine or (
                    works[j] and works[j] == works[item]
                )
                if same and j not in out:
                    out.add(j)
                    frontier.append(j)
    return chosen, out - set(chosen)


def test_select_matches_mmr_spelled_out() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = int(rng.integers(40, 120))
        vectors = rng.normal(size=(n, 8)).astype(np.float32)
        vectors[rng.integers(0, n, n // 5)] = vectors[0]  # near-duplicates by text
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        scores = rng.normal(size=n).astype(np.float32)
        works = [f"w{rng.integers(0, n)}" if rng.random() < 0.7 else "" for _ in range(n)]
        k = int(rng.integers(1, n))
        codes = np.array([work_code(w) for w in works])
        got = select(scores, vectors, k, 0.85, works=codes, duplicate_cosine=0.95)
        assert (got.order, set(got.collapsed)) == reference_select(
            scores, vectors, k, 0.85, works, 0.95
        )


def test_no_page_has_more_than_the_cap_of_one_first_author() -> None:
    authors = ["Ada", "ada ", "Ada", "Bo", "Ada", "", "", "", "Cy", "Ada"]
    order = list(range(10))
    capped = cap_per_page(order, [author_code(a) for a in authors], page_size=3, cap=1)
    # Ada's third paper waits for the third page; her last two have no page left to fill
    # but one full of Ada: the list ends before them.
    assert capped == [0, 3, 5, 1, 6, 7, 2, 8]
    pages = [capped[i : i + 3] for i in range(0, len(capped), 3)]
    for page in pages:
        named = [authors[i].strip().casefold() for i in page if authors[i].strip()]
        assert len(named) == len(set(named)), (page, capped)
    # Unknown authors ("") are never capped; cap 0 changes nothing.
    assert cap_per_page(order, [author_code("")] * 10, 3, 1) == order
    assert cap_per_page(order, [author_code(a) for a in authors], 3, 0) == order
