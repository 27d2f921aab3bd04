"""The facts servers keep about papers (ranking.catalogue)."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.catalogue import FactCache, FactTable, PaperMeta


def meta(seq: int, title: str = "", author: str = "") -> PaperMeta:
    return PaperMeta(seq, f"p{seq}", title or f"Title {seq}", seq * 10, 1.7e9 + seq, author)


def test_a_table_gives_back_what_it_was_built_from_in_any_order() -> None:
    papers = [meta(30, "Über Graphen", "Émilie"), meta(10), meta(20, "", "李")]
    table = FactTable.of(papers)
    assert table.keys.tolist() == [10, 20, 30]
    rows = table.rows(np.array([30, 99, 10]))
    assert rows.tolist() == [2, -1, 0]
    assert table.metas(rows[rows >= 0]) == [papers[0], papers[1]]
    again = FactTable.of_arrays(table.keys, table.arrays())
    assert again.metas(np.arange(3)) == sorted(papers, key=lambda m: m.seq)
    with pytest.raises(ValueError, match="once"):
        FactTable.of([meta(1), meta(1)])


def test_the_cache_reads_again_what_changed_and_never_keeps_a_read_older_than_a_change() -> None:
    cache = FactCache(FactTable.of([meta(1), meta(2)]))
    found, missing = cache.known([2, 3, 1])
    assert sorted(found) == [1, 2] and missing == [3]
    cache.keep([meta(3)], cache.generation)
    assert cache.known([3]) == ({3: meta(3)}, [])

    cache.forget([2, 3])  # e.g. the index follower saw them change
    assert cache.known([1, 2, 3]) == ({1: meta(1)}, [2, 3])
    before = cache.generation
    cache.keep([meta(2, "New title")], before)
    assert cache.known([2])[0] == {2: meta(2, "New title")}

    # A read that began before a change is used by its request but not kept.
    cache.forget([3])
    cache.keep([meta(3, "Stale")], before)
    assert cache.known([3]) == ({}, [3])
