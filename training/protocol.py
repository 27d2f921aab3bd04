"""The evaluation protocol's parts that methods see: what a method is (`Method`,
`MethodSpec`), what it may use besides the training matrix (`EvalContext`), and how a
library is split into history and test (`holdout`). `training.evaluate` runs the protocol;
`training.baselines` and `training.served` implement methods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from ranking.errors import DataError
from training.loaders import Catalogue, EmbeddingCache


@dataclass(frozen=True)
class EvalContext:
    """What a method may use besides the training matrix."""

    catalogue: Catalogue
    seed: int = 0
    embeddings_cache: EmbeddingCache | None = None
    threads: int = 2
    progress: bool = True

    def embeddings(self) -> np.ndarray:
        """(n_items, dim) unit-length float32 embeddings of the catalogue's texts."""
        if self.embeddings_cache is None:
            raise DataError("this method needs embeddings, but no embedding model was given")
        return self.embeddings_cache.get(self.catalogue.texts(), self.progress)


class Method(Protocol):
    """A recommender under evaluation.

    `fit` sees only the training matrix (users×items, binary float32). `score` gets row
    indices of `train` and those rows (the users' histories) and returns a dense
    (len(users), n_items) float array; higher is better. The runner sets history items to
    -inf itself, so methods need not.
    """

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None: ...

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray: ...


@dataclass(frozen=True)
class MethodSpec:
    """How to build a method: `make(**params)` for each params dict of `grid` (tuned on
    the validation split when the grid has more than one entry)."""

    make: Callable[..., Method]
    grid: tuple[dict[str, Any], ...] = ({},)
    about: str = ""


@dataclass(frozen=True)
class Split:
    """`train` has every user's row, with `test` items removed; `users` are the evaluated rows."""

    train: sp.csr_matrix
    test: sp.csr_matrix
    users: np.ndarray


def holdout(matrix: sp.csr_matrix, rows: np.ndarray, fraction: float, seed: int) -> Split:
    """Move round(fraction × |row|) random items (at least 1, leaving at least 1) of each
    of `rows` into a test matrix. The same seed gives the same split."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    matrix.sort_indices()
    counts = np.diff(matrix.indptr)
    n_test = np.zeros(matrix.shape[0], dtype=np.int64)
    n_test[rows] = np.clip(np.floor(fraction * counts[rows] + 0.5), 1, counts[rows] - 1)
    row_of = np.repeat(np.arange(matrix.shape[0]), counts)
    keys = np.random.default_rng(seed).random(matrix.nnz)
    order = np.lexsort((keys, row_of))
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - matrix.indptr[row_of[order]]
    is_test = rank < n_test[row_of]
    test = matrix.copy()
    test.data[~is_test] = 0
    matrix.data[is_test] = 0
    test.eliminate_zeros()
    matrix.eliminate_zeros()
    return Split(matrix, test, np.asarray(rows, dtype=np.int64))
