import numpy as np
import pytest

from ranking.keys import find, rows_of


@pytest.mark.parametrize(
    "table",
    [
        np.arange(5, 25, dtype=np.int64),  # no gaps: found by subtraction
        np.array([2, 3, 7, 8, 9, 20, 21, 40], dtype=np.int64),  # gaps: binary search
        np.array([7], dtype=np.int64),
    ],
)
def test_find_agrees_with_a_plain_search(table: np.ndarray) -> None:
    wanted = np.random.default_rng(0).integers(-3, 45, 200)
    pos, hit = find(table, wanted)
    for key, p, h in zip(wanted.tolist(), pos.tolist(), hit.tolist(), strict=True):
        assert h == (key in table.tolist())
        if h:
            assert table[p] == key
        assert 0 <= p < len(table)  # usable as an index either way
    assert rows_of(table, wanted).tolist() == [
        table.tolist().index(k) if k in table else -1 for k in wanted.tolist()
    ]


def test_find_on_empty_inputs() -> None:
    pos, hit = find(np.zeros(0, dtype=np.int64), [1, 2])
    assert hit.tolist() == [False, False] and pos.tolist() == [0, 0]
    pos, hit = find(np.arange(3), [])
    assert len(pos) == len(hit) == 0
