"""The facts servers keep about papers (ranking.catalogue)."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.catalogue import FactCache, FactColumns, FactTable, PaperMeta
from ranking.diversify import author_code, work_code


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


def test_columns_give_the_same_facts_as_the_objects() -> None:
    papers = [meta(1, "Attention Is All You Need", "Ada"), meta(2, "", "ada "), meta(4)]
    cache = FactCache(FactTable.of(papers))
    cache.keep([meta(5, "attention is all you need.", "Bo")], cache.generation)  # read since
    keys = np.array([5, 4, 9, 1, 2, 6])  # 9: unknown; 6: just read, not kept
    just_read = {6: meta(6, "Six")}
    got = cache.columns(keys, withdrawn={4}, read=just_read)
    assert got.known.tolist() == [True, False, False, True, True, True]  # 4 withdrawn
    everything = {m.seq: m for m in [*papers, meta(5, "attention is all you need.", "Bo")]}
    expected = FactColumns.of(keys.tolist(), everything | just_read)
    for name in ("published", "abstract_chars", "works", "authors"):
        column, wanted = getattr(got, name), getattr(expected, name)
        assert column[got.known].tolist() == wanted[got.known].tolist(), name
    # Versions of one work share a code, and so do spellings of one first author.
    assert got.works[0] == got.works[3] == work_code("Attention is all you need") != 0
    assert got.authors[3] == got.authors[4] == author_code("ADA") != 0
    assert cache.columns(keys).known.tolist() == [True, True, False, True, True, False]
    assert cache.missing(keys) == [9, 6]
    cache.forget([1])  # changed: its row no longer answers
    assert not cache.columns(np.array([1])).known[0] and cache.missing(np.array([1])) == [1]


def test_a_table_without_codes_makes_the_same_ones() -> None:
    # The fit stores each paper's work and author codes; an older artifact has none, and a
    # server makes them as it needs them: the same numbers.
    papers = [meta(1, "Attention Is All You Need", "Ada"), meta(2, "", "ada "), meta(4, "X")]
    table = FactTable.of(papers)
    assert table.work_codes is not None and table.work_codes[0] == work_code(papers[0].title)
    arrays = {k: v for k, v in table.arrays().items() if not k.endswith("_codes")}
    older = FactTable.of_arrays(table.keys, arrays)
    assert older.work_codes is None and older.author_codes is None
    keys = np.array([4, 1, 2, 9])
    new, old = FactCache(table).columns(keys), FactCache(older).columns(keys)
    assert new.works.tolist() == old.works.tolist() and new.works[0] != 0 == new.works[3]
    assert new.authors.tolist() == old.authors.tolist() and new.authors[1] == new.authors[2]
