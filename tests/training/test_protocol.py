"""The evaluation protocol's holdout split (training.protocol)."""

from __future__ import annotations

import numpy as np

from tests.support import planted
from training.protocol import holdout


def test_holdout_moves_a_fifth_of_each_library_into_test() -> None:
    data = planted()
    rows = np.arange(0, 60, 2)  # every other user is evaluated
    split = holdout(data.matrix, rows, 0.2, seed=3)
    assert split.train.multiply(split.test).nnz == 0
    assert (split.train + split.test != data.matrix).nnz == 0
    assert np.all(np.diff(split.test.indptr)[rows] == 3)  # 15 saves × 0.2
    others = np.setdiff1d(np.arange(60), rows)
    assert split.test[others].nnz == 0
