"""Collaborative models built from who saved what, sized for serving: co-save lists,
sparse top-k RP3beta and EASE item-item tables and ALS item factors with a fold-in user
vector.

All of them are fitted on (reader, paper) save pairs only; papers nobody saved are simply
absent (content similarity is what finds those). The fit job (`paperfeed fit`,
training/fit.py) fits them from the database and writes an artifact that servers
memory-map (ranking/artifacts.py); the offline evaluation fits them from its training
matrix: the same code. Every table is CSR-shaped arrays, so that a loaded artifact is used
in place, without a copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import faiss
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ranking.ann import DEFAULT_ANN, AnnParams
from ranking.index import matrix_index, search_params, without
from ranking.keys import find


@dataclass(frozen=True, slots=True)
class CollabParams:
    cosave_neighbours: int = 50  # per paper, strongest first
    rp3_alpha: float = 0.6
    rp3_beta: float = 0.3
    rp3_neighbours: int = 200
    # Chosen on a validation split of CiteULike-a (training readers only).
    factors: int = 256  # 0: no factor model
    factor_regularization: float = 0.01
    factor_alpha: float = 30.0
    factor_iterations: int = 15
    # EASE over the most saved papers (its inverse is cubic in their number; 0: none).
    # λ is the EASE baseline's validation choice on CiteULike-a; how many weights each
    # paper keeps, and whether by magnitude or only the positive ones, were chosen on a
    # validation split of its training readers (bench/served_choices.py; README,
    # "Offline evaluation").
    ease_items: int = 20_000
    ease_l2: float = 50.0
    ease_neighbours: int = 1000
    ease_positive_only: bool = False
    seed: int = 0
    threads: int = 1
    # When the ALS factors' search turns approximate (as content search does).
    ann: AnnParams = DEFAULT_ANN


DEFAULT_PARAMS = CollabParams()


def keep_top_k(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row (ties broken arbitrarily)."""
    matrix = sp.csr_matrix(matrix)
    counts = np.diff(matrix.indptr)
    keep = np.ones(matrix.nnz, dtype=bool)
    for row in np.flatnonzero(counts > k):
        lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
        drop = np.argpartition(matrix.data[lo:hi], hi - lo - k)[: hi - lo - k]
        keep[lo + drop] = False
    matrix.data[~keep] = 0
    matrix.eliminate_zeros()
    return matrix


def row_normalised(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1), dtype=np.float32).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ matrix, dtype=np.float32)


# Item×item products are computed this many rows at a time and cut to their top k at
# once, so a fit never holds the whole co-occurrence matrix (its nonzeros grow with the
# square of the readers' library sizes): at most this many full rows of it.
BLOCK_ROWS = 2048


def rp3beta(saves: sp.csr_matrix, alpha: float, beta: float, k: int) -> sp.csr_matrix:
    """RP3beta (Paudel et al. 2017) item×item weights from a binary users×items matrix:
    the three-step walk item→user→item with transition probabilities raised to `alpha`,
    divided by the target's popularity to the power `beta`, no self-loops, each item
    keeping its `k` strongest neighbours. A reader's score is the sum of their items' rows."""
    user_item = row_normalised(saves).power(alpha)
    item_user = row_normalised(sp.csr_matrix(saves.T)).power(alpha)
    popularity = np.asarray(saves.sum(axis=0)).ravel()
    penalty = np.zeros_like(popularity, dtype=np.float32)
    penalty[popularity > 0] = popularity[popularity > 0] ** -beta
    divide = sp.diags(penalty.astype(np.float32))
    blocks = []
    for start in range(0, item_user.shape[0], BLOCK_ROWS):
        walk = sp.csr_matrix(item_user[start : start + BLOCK_ROWS] @ user_item, dtype=np.float32)
        walk = sp.csr_matrix(walk @ divide)
        walk.setdiag(0, k=start)  # no self-loops: row i is item start + i
        walk.eliminate_zeros()
        blocks.append(keep_top_k(walk, k))
    if not blocks:
        return sp.csr_matrix(saves.shape[1:] * 2, dtype=np.float32)
    return sp.csr_matrix(sp.vstack(blocks, format="csr"), dtype=np.float32)


def ease(saves: sp.csr_matrix, l2: float, threads: int = 1) -> np.ndarray:
    """EASE (Steck 2019) dense item×item weights of the columns of `saves`:
    B = I - P / diag(P) with P = (XᵀX + λI)⁻¹, zero diagonal; a reader's score is the sum of
    their items' rows. The inverse is a float32 Cholesky (LAPACK potrf + potri), about 30 s
    for CiteULike-a's 17k items on 2 cores; pass only columns somebody saved (others
    weigh 0)."""
    from scipy.linalg import lapack

    x = sp.csr_matrix(saves, dtype=np.float32)
    # Symmetric, so the transposed view is the same matrix, already in LAPACK's order.
    gram = np.asarray((x.T @ x).toarray(), dtype=np.float32).T
    gram[np.diag_indices_from(gram)] += l2
    with threadpool_limits(threads, "blas"):
        factor, info = lapack.spotrf(gram, lower=0, overwrite_a=1)
        if info != 0:
            raise ArithmeticError(f"EASE: Cholesky failed (info {info})")
        inverse, info = lapack.spotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise ArithmeticError(f"EASE: inversion failed (info {info})")
    del gram, factor
    # potri fills the upper triangle only: mirror it a block at a time, in place, so that
    # the peak memory stays one n×n matrix (1.6 GB for 20,000 papers).
    n = len(inverse)
    for start in range(0, n, 2048):
        stop = min(start + 2048, n)
        inverse[start:stop, :start] = inverse[:start, start:stop].T
        block = inverse[start:stop, start:stop]
        block[...] = np.triu(block) + np.triu(block, 1).T
    # Symmetric now, so its transpose is the same matrix in C order (LAPACK's is Fortran's).
    weights: np.ndarray = inverse.T
    diagonal = np.diag(weights).copy()
    weights /= -diagonal[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


def ease_table(
    saves: sp.csr_matrix,
    l2: float,
    k: int,
    max_items: int,
    threads: int = 1,
    positive_only: bool = False,
) -> sp.csr_matrix:
    """EASE over the `max_items` most saved columns of `saves`, each row keeping its `k`
    largest weights by magnitude (or, with `positive_only`, its `k` largest positive
    weights): a sparse item×item table like `rp3beta`'s, shaped like `saves.T @ saves`.
    Papers outside the most saved get no row or column (content similarity is what finds
    the long tail)."""
    n = saves.shape[1]
    popularity = np.asarray(saves.sum(axis=0)).ravel()
    saved = np.flatnonzero(popularity > 0)
    if max_items <= 0 or len(saved) < 2:
        return sp.csr_matrix((n, n), dtype=np.float32)
    active = np.sort(saved[np.argsort(-popularity[saved], kind="stable")[:max_items]])
    weights = ease(saves[:, active], l2, threads)
    k = min(k, len(active) - 1)
    rows, cols, vals = [], [], []
    for start in range(0, len(active), 2048):  # a block at a time: argpartition copies
        block = weights[start : start + 2048]
        strength = np.maximum(block, 0) if positive_only else np.abs(block)
        top = np.argpartition(-strength, k - 1, axis=1)[:, :k]
        values = np.take_along_axis(block, top, axis=1)
        keep = values > 0 if positive_only else values != 0
        rows.append(np.repeat(np.arange(start, start + len(block)), k)[keep.ravel()])
        cols.append(top[keep])
        vals.append(values[keep])
    return sp.csr_matrix(
        (np.concatenate(vals), (active[np.concatenate(rows)], active[np.concatenate(cols)])),
        shape=(n, n),
        dtype=np.float32,
    )


@dataclass(frozen=True, slots=True)
class SparseScores:
    """Scores of some papers: `keys` ascending, `values` aligned; absent papers score 0."""

    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.keys)

    def top(self, limit: int) -> list[tuple[int, float]]:
        """Up to `limit` (key, score) pairs, best first (ties: smaller key first)."""
        if limit <= 0 or not len(self.keys):
            return []
        limit = min(limit, len(self.keys))
        # The limit-th best value, then every paper above it and the smallest keys at it
        # (keys ascend): a partition alone would pick among equal scores at random.
        threshold = -np.partition(-self.values, limit - 1)[limit - 1]
        above = np.flatnonzero(self.values > threshold)
        at = np.flatnonzero(self.values == threshold)[: limit - len(above)]
        part = np.concatenate([above, at])
        order = part[np.lexsort((self.keys[part], -self.values[part]))]
        return list(zip(self.keys[order].tolist(), self.values[order].tolist(), strict=True))

    def lookup(self, keys: Sequence[int]) -> np.ndarray:
        """The score of each of `keys` (0 for papers without one)."""
        pos, hit = find(self.keys, keys)
        out = np.zeros(len(pos), dtype=np.float32)
        out[hit] = self.values[pos[hit]]
        return out


# NeighbourTable.scores sums a history's rows entry by entry while they hold fewer than
# 1/16 as many entries as the table has papers, else densely (measured on the benchmark's
# 1M-paper artifact: the two cross near 1,000 saved papers of RP3beta's 200 a row).
DENSE_SUM_SHARE = 16


@dataclass(frozen=True)
class NeighbourTable:
    """A sparse item×item weight table over the papers in `keys` (ascending)."""

    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    weights: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def compact(cls, keys: np.ndarray, weights: sp.csr_matrix) -> NeighbourTable:
        """The table of `weights` (over `keys`) over only the papers that have weights.
        EASE's covers the most saved papers (20,000 of a million): summing a history's
        rows densely over those is a pass over 20,000 numbers instead of a sort of
        their entries (1.3 ms a feed at 1M papers)."""
        weights = sp.csr_matrix(weights)
        used = np.union1d(np.flatnonzero(np.diff(weights.indptr)), weights.indices)
        return cls(keys[used], sp.csr_matrix(weights[used][:, used], dtype=np.float32))

    def positions(self, keys: Sequence[int]) -> np.ndarray:
        """Rows of the papers in `keys` that the table has (others are skipped)."""
        pos, hit = find(self.keys, list(keys))
        found: np.ndarray = pos[hit]
        return found

    def scores(self, history: Sequence[int]) -> SparseScores:
        """Sum of the history papers' rows: every paper with a nonzero sum, and that sum."""
        rows = self.weights[self.positions(history)]
        if rows.nnz == 0:
            return SparseScores()
        if rows.nnz * DENSE_SUM_SHARE < rows.shape[1]:
            # A few entries: sum them by paper (at 1M papers a typical history's rows take
            # 0.2-1.8 ms so, against 2.4-3.6 ms for a pass over every paper).
            cols, where = np.unique(rows.indices, return_inverse=True)
            sums = np.bincount(where, weights=rows.data).astype(np.float32)
        else:  # many: a dense sum over the table's papers is cheaper than sorting them
            sums = np.asarray(rows.sum(axis=0), dtype=np.float32).ravel()
            cols = np.arange(len(sums))
        nonzero = sums != 0  # a paper whose weights cancel out scores 0 anyway
        return SparseScores(self.keys[cols[nonzero]], sums[nonzero])


@dataclass(frozen=True)
class Factors:
    """ALS item factors (Hu, Koren & Volinsky 2008) of the papers in `keys` (ascending).

        A reader's vector is folded in from their history with the same least-squares step ALS
        itself takes, so a reader who saved something a second ago gets an up-to-date vector
        without refitting. Items are searched by inner product with FAISS: exactly, or with an
    HNSW graph on large catalogues (`ranking.index.matrix_index`).
    """

    keys: np.ndarray
    items: np.ndarray  # (n, f) float32
    gram: np.ndarray  # (f, f) float64: itemsᵀ items
    regularization: float
    alpha: float
    search: faiss.Index  # over the rows of `items`

    @classmethod
    def build(
        cls,
        keys: np.ndarray,
        items: np.ndarray,
        regularization: float,
        alpha: float,
        ann: AnnParams = DEFAULT_ANN,
    ) -> Factors:
        items = np.ascontiguousarray(items, dtype=np.float32)
        search = matrix_index(items, ann.for_factors())
        gram = items.T.astype(np.float64) @ items.astype(np.float64)
        return cls(keys, items, gram, regularization, alpha, search)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def dim(self) -> int:
        return int(self.items.shape[1])

    def fold_in(self, history: Sequence[int]) -> np.ndarray:
        """The reader's factor vector (f,) from the papers they saved; empty (0,) when
        none of them is known to the model."""
        pos, hit = find(self.keys, list(history))
        pos = np.unique(pos[hit])
        if not len(pos):
            return np.zeros(0, dtype=np.float32)
        # implicit's step with confidence `alpha` on saved items, 1 elsewhere:
        # (YᵀY + λI + (α-1) Y_hᵀY_h) x = α Y_hᵀ 1
        seen = self.items[pos].astype(np.float64)
        b = self.alpha * seen.sum(axis=0)
        c = self.alpha - 1
        if c <= 0 or 2 * len(seen) >= self.dim:
            a = self.gram + self.regularization * np.eye(self.dim) + c * seen.T @ seen
            return np.linalg.solve(a, b).astype(np.float32)
        # Woodbury, with A = YᵀY + λI inverted once per model:
        # (A + c SᵀS)⁻¹ = A⁻¹ − A⁻¹Sᵀ (I/c + S A⁻¹Sᵀ)⁻¹ S A⁻¹. The same solution to rounding;
        # for a history shorter than half the factors it is cheaper than solving the f×f
        # system (30 saved papers of 256 factors: 0.14 ms instead of 0.67 ms).
        inverse = self._inverse
        inverse_st = inverse @ seen.T
        x = inverse @ b
        m = np.eye(len(seen)) / c + seen @ inverse_st
        taste: np.ndarray = x - inverse_st @ np.linalg.solve(m, seen @ x)
        return taste.astype(np.float32)

    @cached_property
    def _inverse(self) -> np.ndarray:
        """(YᵀY + λI)⁻¹, made at the first fold-in (f×f, 0.5 MB at 256 factors)."""
        return np.linalg.inv(self.gram + self.regularization * np.eye(self.dim))

    def top(
        self, taste: np.ndarray, limit: int, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """Up to `limit` (key, score) pairs with the highest inner product, best first,
        leaving out the papers in `exclude`."""
        if not len(taste) or not len(self.keys) or limit <= 0:
            return []
        k = min(limit, len(self))
        pos, hit = find(self.keys, list(exclude))
        selector = without(None, pos[hit])
        params = search_params(self.search, k, selector)
        scores, rows = self.search.search(taste[None, :].astype(np.float32), k, params=params)
        keep = rows[0] >= 0
        return list(zip(self.keys[rows[0][keep]].tolist(), scores[0][keep].tolist(), strict=True))

    def score(self, taste: np.ndarray, keys: Sequence[int]) -> np.ndarray:
        """Inner product of `taste` with each of `keys` (0 for unknown papers or no taste)."""
        pos, hit = find(self.keys, keys)
        out = np.zeros(len(pos), dtype=np.float32)
        if len(taste):
            out[hit] = self.items[pos[hit]] @ taste
        return out


class CosaveLists(Mapping[int, dict[int, int]]):
    """Each paper's co-saved papers and how many readers saved both, strongest first (ties:
    smaller key first): the CSR arrays of a papers×papers table (`papers`: their keys,
    ascending), read as a mapping of paper -> {paper: readers} over the papers that have
    co-saves."""

    def __init__(
        self,
        keys: np.ndarray | None = None,
        indptr: np.ndarray | None = None,
        indices: np.ndarray | None = None,
        counts: np.ndarray | None = None,
    ) -> None:
        self.papers = np.zeros(0, dtype=np.int64) if keys is None else keys
        self.indptr = np.zeros(len(self.papers) + 1, dtype=np.int64) if indptr is None else indptr
        self.indices = np.zeros(0, dtype=np.int32) if indices is None else indices
        self.counts = np.zeros(0, dtype=np.int32) if counts is None else counts
        self._rows = int(np.count_nonzero(np.diff(self.indptr)))

    def _span(self, key: int) -> tuple[int, int]:
        pos, hit = find(self.papers, [key])
        if not hit[0]:
            return 0, 0
        return int(self.indptr[pos[0]]), int(self.indptr[pos[0] + 1])

    def __getitem__(self, key: int) -> dict[int, int]:
        lo, hi = self._span(key)
        if lo == hi:
            raise KeyError(key)
        neighbours = self.papers[self.indices[lo:hi]].tolist()
        return dict(zip(neighbours, self.counts[lo:hi].tolist(), strict=True))

    def _entries(self, history: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(row of the history paper, place in `indices` and `counts`) of every entry of
        the history papers' rows (each history paper as often as given)."""
        pos, hit = find(self.papers, list(history))
        pos = pos[hit]
        starts = self.indptr[pos]
        lengths = self.indptr[pos + 1] - starts
        # Each row's start, plus 0, 1, ... within it.
        offsets = np.cumsum(lengths) - lengths
        at = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
        return np.repeat(pos, lengths), at

    def entries(self, history: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every co-save of the history's papers as three arrays: the history paper, the
        paper saved with it and how many readers saved both."""
        rows, at = self._entries(history)
        return self.papers[rows], self.papers[self.indices[at]], self.counts[at]

    def scores(self, history: Sequence[int]) -> SparseScores:
        """For every paper co-saved with the history: the number of (reader, history
        paper) pairs that saved it too (each history paper counted as often as given).
        Arrays, not a dict: a history of a hundred papers has thousands of co-saves."""
        _, at = self._entries(history)
        if not len(at):
            return SparseScores()
        total = len(at)
        neighbours, counts = self.indices[at], self.counts[at]
        if len(self.papers) <= 64 * total:  # a dense sum over the papers beats sorting
            dense = np.bincount(neighbours, weights=counts, minlength=len(self.papers))
            cols = np.flatnonzero(dense)
            sums = dense[cols]
        else:
            cols, inverse = np.unique(neighbours, return_inverse=True)
            sums = np.bincount(inverse, weights=counts)
        return SparseScores(self.papers[cols], sums.astype(np.float32))  # keys ascending

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer):
            return False
        lo, hi = self._span(int(key))
        return hi > lo

    def __iter__(self) -> Iterator[int]:
        return iter(self.papers[np.diff(self.indptr) > 0].tolist())

    def __len__(self) -> int:
        return self._rows


@dataclass(frozen=True)
class Collaborative:
    """Everything collaborative a feed needs, from one fit; `version` names its artifact
    ("none": no collaborative model)."""

    cosaves: CosaveLists = field(default_factory=CosaveLists)
    related: NeighbourTable = field(default_factory=NeighbourTable)
    factors: Factors | None = None
    ease: NeighbourTable = field(default_factory=NeighbourTable)
    version: str = "none"


NO_COLLABORATIVE = Collaborative()


def save_matrix(readers: np.ndarray, papers: np.ndarray) -> tuple[np.ndarray, sp.csr_matrix]:
    """(keys, matrix): the distinct papers ascending, and the binary readers×keys matrix of
    (reader, paper) pairs (any integer reader ids; repeated pairs count once)."""
    keys, cols = np.unique(np.asarray(papers, dtype=np.int64), return_inverse=True)
    _, rows = np.unique(np.asarray(readers, dtype=np.int64), return_inverse=True)
    n_rows = int(rows.max()) + 1 if len(rows) else 0
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, len(keys))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return keys, matrix


def cosave_lists(keys: np.ndarray, saves: sp.csr_matrix, k: int) -> CosaveLists:
    """For each paper, its `k` papers most often saved by the same readers, with the number
    of such readers; strongest first, ties by smaller key."""
    items = sp.csr_matrix(saves.T)
    counts, indices, together_all = [], [], []
    for start in range(0, len(keys), BLOCK_ROWS):
        co = sp.coo_matrix(items[start : start + BLOCK_ROWS] @ saves)
        off = co.row + start != co.col
        rows, cols, together = co.row[off], co.col[off], co.data[off].astype(np.int64)
        order = np.lexsort((keys[cols], -together, rows))
        rows, cols, together = rows[order], cols[order], together[order]
        starts = np.searchsorted(rows, np.arange(co.shape[0]))
        keep = np.arange(len(rows)) - starts[rows] < k
        counts.append(np.bincount(rows[keep], minlength=co.shape[0]))
        indices.append(cols[keep].astype(np.int32))
        together_all.append(together[keep].astype(np.int32))
    indptr = np.zeros(len(keys) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=indptr[1:])
    return CosaveLists(
        keys,
        indptr,
        np.concatenate(indices) if indices else None,
        np.concatenate(together_all) if together_all else None,
    )


def als(
    saves: sp.csr_matrix,
    factors: int,
    regularization: float,
    alpha: float,
    iterations: int,
    threads: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(user factors, item factors) of implicit-feedback ALS (Hu, Koren & Volinsky 2008)
    on a users×items matrix, with the `implicit` package; float32."""
    from implicit.cpu.als import AlternatingLeastSquares

    # implicit runs its own threads; a threaded BLAS inside them only oversubscribes.
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            num_threads=threads,
            random_state=seed,
            calculate_training_loss=False,
        )
        model.fit(sp.csr_matrix(saves, dtype=np.float32), show_progress=False)
    users = np.asarray(model.user_factors, dtype=np.float32)
    return users, np.asarray(model.item_factors, dtype=np.float32)


def fit_factors(keys: np.ndarray, saves: sp.csr_matrix, params: CollabParams) -> Factors | None:
    """ALS item factors of the papers in `keys` (None without enough data)."""
    if params.factors <= 0 or saves.shape[0] < 2 or saves.shape[1] < 2:
        return None
    _, items = als(
        saves,
        params.factors,
        params.factor_regularization,
        params.factor_alpha,
        params.factor_iterations,
        params.threads,
        params.seed,
    )
    faiss.omp_set_num_threads(params.threads)  # for the factors' HNSW graph
    return Factors.build(keys, items, params.factor_regularization, params.factor_alpha, params.ann)


def fit(
    readers: np.ndarray,
    papers: np.ndarray,
    params: CollabParams = DEFAULT_PARAMS,
    on_step: Callable[[str, float], None] | None = None,
) -> Collaborative:
    """Co-save lists, the RP3beta and EASE tables and ALS factors from current (reader,
    paper) saves. `on_step(model, seconds)` is called as each one is done (progress)."""
    if not len(papers):
        return NO_COLLABORATIVE
    clock = time.perf_counter()

    def done(step: str) -> None:
        nonlocal clock
        if on_step is not None:
            on_step(step, time.perf_counter() - clock)
        clock = time.perf_counter()

    keys, saves = save_matrix(readers, papers)
    done("saves")
    cosaves = cosave_lists(keys, saves, params.cosave_neighbours)
    done("cosaves")
    related = rp3beta(saves, params.rp3_alpha, params.rp3_beta, params.rp3_neighbours)
    done("rp3beta")
    factors = fit_factors(keys, saves, params)
    done("als")
    ease = ease_table(
        saves,
        params.ease_l2,
        params.ease_neighbours,
        params.ease_items,
        params.threads,
        params.ease_positive_only,
    )
    done("ease")
    return Collaborative(
        cosaves=cosaves,
        related=NeighbourTable(keys, sp.csr_matrix(related, dtype=np.float32)),
        factors=factors,
        ease=NeighbourTable.compact(keys, ease),
    )
