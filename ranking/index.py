"""FAISS inner-product search over unit vectors, keyed by the papers' integer keys: exact
(flat) on small catalogues, approximate (HNSW) on large ones."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, cast

import faiss
import numpy as np

from ranking.ann import DEFAULT_ANN, AnnParams
from ranking.catalogue import FactTable
from ranking.keys import rows_of


def new_index(dim: int, approximate: bool, ann: AnnParams) -> faiss.Index:
    """An empty inner-product index whose ids are the order of addition (rows)."""
    if not approximate:
        return faiss.IndexFlatIP(dim)
    index = faiss.IndexHNSWFlat(dim, ann.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ann.ef_construction
    index.hnsw.efSearch = ann.ef_search
    return index


def matrix_index(items: np.ndarray, ann: AnnParams = DEFAULT_ANN) -> faiss.Index:
    """An inner-product index over the rows of `items` (search answers row numbers, -1 for
    an empty slot): exact below `ann.min_papers` rows, HNSW from there on."""
    items = np.ascontiguousarray(items, dtype=np.float32)
    index = new_index(items.shape[1], len(items) >= ann.min_papers, ann)
    if len(items):
        index.add(items)
    return index


def search_params(
    index: faiss.Index, k: int, selector: faiss.IDSelector | None = None
) -> faiss.SearchParameters | None:
    """Per-search parameters: HNSW's breadth (its own, but at least k: fewer candidates
    than k would leave slots empty), and a filter on the rows."""
    params: faiss.SearchParameters
    if isinstance(index, faiss.IndexHNSW):
        hnsw: Any = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # not in the stubs
        hnsw.efSearch = max(index.hnsw.efSearch, k)
        params = hnsw
    elif selector is None:
        return None
    else:
        params = faiss.SearchParameters()
    params.sel = selector  # the caller keeps the selector (and its bitmap) alive
    return params


def without(selector: faiss.IDSelector | None, rows: np.ndarray) -> faiss.IDSelector | None:
    """`selector` (None: every row) less `rows` (-1s ignored). Filtering in the search
    keeps a hidden paper out of the results without asking for k + hidden results, which
    would widen an HNSW search as much. Keep the result referenced while searching."""
    rows = np.unique(rows[rows >= 0]).astype(np.int64)
    if not len(rows):
        return selector
    # FAISS holds bare pointers: each selector keeps the ones it is made of alive.
    batch = faiss.IDSelectorBatch(len(rows), faiss.swig_ptr(rows))  # copies the rows
    negated: Any = faiss.IDSelectorNot(batch)
    negated.referenced_objects = [batch]
    if selector is None:
        return cast(faiss.IDSelector, negated)
    both: Any = faiss.IDSelectorAnd(selector, negated)
    both.referenced_objects = [selector, negated]
    return cast(faiss.IDSelector, both)


@dataclass(frozen=True)
class Snapshot:
    """An index of the catalogue built offline (`paperfeed fit`, ranking/artifacts.py) and
    memory-mapped read only: every process on a machine shares its pages, and none builds
    it at start. FAISS aborts the process on adding to a mapped index, so nothing is."""

    index: faiss.Index  # row i holds the vector of keys[i]
    keys: np.ndarray  # (rows,) int64, strictly ascending: a key's row is a binary search
    model: str  # the embedding model of its vectors
    horizon: int  # changes from here on are not in it (storage: index_changes)
    facts: FactTable | None = None  # the same papers' facts (None: an older artifact)

    def __post_init__(self) -> None:
        if len(self.keys) != self.index.ntotal or (np.diff(self.keys) <= 0).any():
            raise ValueError("a snapshot needs one strictly ascending key per row")
        if self.facts is not None and not np.array_equal(self.facts.keys, self.keys):
            raise ValueError("a snapshot's facts must be of its own papers")

    def rows(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key, -1 for a key not in the snapshot."""
        return rows_of(self.keys, keys)


def best_of(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The top k (scores, keys) per query of two searches' answers (key -1: empty)."""
    scores = np.concatenate([a[0], b[0]], axis=1)
    keys = np.concatenate([a[1], b[1]], axis=1)
    scores = np.where(keys >= 0, scores, -np.inf)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, top, 1), np.take_along_axis(keys, top, 1)


class VectorIndex:
    """Cosine search with incremental add, replace and remove.

    Papers are rows of a FAISS index in the order they were added. A flat index below
    `ann.min_papers` papers (exact, and a few milliseconds up to ~50k papers), an HNSW
    graph from there on: upserting past the threshold rebuilds once as a graph. HNSW
    cannot remove, so a replaced or removed paper's row stays, marked dead, and every
    search filters dead rows out with an `IDSelectorBitmap` (they are never returned).
    Once `ann.max_dead_share` of the rows are dead the index is rebuilt from the live
    ones, exact or approximate by the size it then has.

    Started from a `Snapshot`, the papers it holds are searched there and only the ones
    stored or replaced after it are rows here: a replaced or removed paper's snapshot row
    is filtered out in the same way, and each search takes the best of both.

    All operations hold one lock, so updates from the embedding worker are safe against
    concurrent searches. A rebuild holds it too: searches wait for it (at the threshold
    that is building a graph of `min_papers` papers once; see the README for its cost).
    """

    def __init__(
        self, dim: int, ann: AnnParams = DEFAULT_ANN, snapshot: Snapshot | None = None
    ) -> None:
        if snapshot is not None and snapshot.index.d != dim:
            raise ValueError(
                f"the snapshot's vectors have {snapshot.index.d} dimensions, not {dim}"
            )
        self.dim = dim
        self.ann = ann
        self.snapshot = snapshot
        if snapshot is not None and isinstance(snapshot.index, faiss.IndexHNSW):
            # This server's breadth, not the fit's (a plain field, not the mapped data).
            snapshot.index.hnsw.efSearch = ann.ef_search
        self._lock = threading.Lock()
        rows = 0 if snapshot is None else len(snapshot.keys)
        self._base_alive = np.ones(rows, dtype=bool)  # snapshot rows not replaced or removed
        self._base_live = rows
        self._base_selector: faiss.IDSelector | None = None
        self._base_bitmap = np.zeros(0, dtype=np.uint8)
        self._reset(approximate=False)

    def _reset(self, approximate: bool) -> None:
        self._index = new_index(self.dim, approximate, self.ann)
        self._row_key = np.zeros(0, dtype=np.int64)  # the key each row was added under
        self._alive = np.zeros(0, dtype=bool)  # rows not replaced or removed since
        self._rows: dict[int, int] = {}  # live key -> its row
        self._selector: faiss.IDSelector | None = None  # over `_bitmap`; None: all alive
        self._bitmap = np.zeros(0, dtype=np.uint8)

    def __len__(self) -> int:
        return len(self._rows) + self._base_live

    def __contains__(self, key: object) -> bool:
        if key in self._rows:
            return True
        if self.snapshot is None or not isinstance(key, int | np.integer):
            return False
        row = int(self.snapshot.rows(np.array([key], dtype=np.int64))[0])
        return row >= 0 and bool(self._base_alive[row])

    def live_mask(self, keys: np.ndarray) -> np.ndarray:
        """For each of `keys`, whether the index holds it (one lookup for many: `in`
        costs a binary search of the snapshot per key)."""
        with self._lock:
            own = self._rows  # all papers without a snapshot, else those added since
            found = (
                np.fromiter((k in own for k in keys.tolist()), bool, len(keys))
                if own
                else np.zeros(len(keys), dtype=bool)
            )
            if self.snapshot is None:
                return found
            rest = np.flatnonzero(~found)
            rows = self.snapshot.rows(keys[rest])
            kept = rows >= 0
            kept[kept] = self._base_alive[rows[kept]]
            found[rest[kept]] = True
            return found

    @property
    def in_memory(self) -> int:
        """Papers held in this process's own index, not in the snapshot."""
        return len(self._rows)

    @property
    def approximate(self) -> bool:
        return isinstance(self._index, faiss.IndexHNSW)

    @property
    def dead(self) -> int:
        """Rows of replaced or removed papers still in the index (filtered out), the
        snapshot's excluded (it is rebuilt by the next `paperfeed fit`)."""
        return len(self._alive) - len(self._rows)

    def upsert(self, keys: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Add vectors, replacing any stored under the same keys."""
        key_array = np.asarray(keys, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(key_array) != len(vectors) or (len(vectors) and vectors.shape[1] != self.dim):
            raise ValueError(
                f"expected {len(key_array)} vectors of size {self.dim}, got {vectors.shape}"
            )
        if len(key_array) == 0:
            return
        if len(set(key_array.tolist())) != len(key_array):
            raise ValueError("duplicate keys in one upsert")
        with self._lock:
            self._bury(key_array.tolist())
            self._add(key_array, vectors)
            self._maintain()

    def remove(self, keys: np.ndarray | list[int]) -> None:
        with self._lock:
            self._bury([int(k) for k in keys])
            self._maintain()

    def search(
        self, queries: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, keys) per query row, leaving out the keys in `exclude`; missing
        slots have key -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        excluded = np.zeros(0, np.int64) if exclude is None else np.asarray(exclude, np.int64)
        with self._lock:
            k = min(k, len(self))
            if k == 0:
                empty = np.zeros((len(queries), 0))
                return empty.astype(np.float32), empty.astype(np.int64)
            ours = None
            if self._rows:
                own = [self._rows.get(key, -1) for key in excluded.tolist()]
                selector = without(self._selector, np.array(own, dtype=np.int64))
                params = search_params(self._index, k, selector)
                scores, rows = self._index.search(queries, k, params=params)
                ours = scores, np.where(rows >= 0, self._row_key[rows], -1)
            if self.snapshot is None or not self._base_live:
                assert ours is not None
                return ours
            base = self.snapshot
            selector = without(self._base_selector, base.rows(excluded))
            params = search_params(base.index, k, selector)
            scores, rows = base.index.search(queries, k, params=params)
            theirs = scores, np.where(rows >= 0, base.keys[rows], -1)
        return theirs if ours is None else best_of(ours, theirs, k)

    def vectors(self, keys: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(present, vectors): which keys are in the index, and their vectors (zeros if not).

        Missing keys are reported rather than raised: a paper may be withdrawn between
        retrieval and ranking.
        """
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        with self._lock:
            rows = (
                np.fromiter((self._rows.get(k, -1) for k in keys), np.int64, len(keys))
                if self._rows
                else np.full(len(keys), -1, dtype=np.int64)
            )
            present = rows >= 0
            if present.any():
                out[present] = self._index.reconstruct_batch(rows[present])
            if self.snapshot is not None and not present.all():
                rest = np.flatnonzero(~present)
                base = self.snapshot.rows(np.asarray(keys, dtype=np.int64)[rest])
                found = base >= 0
                found[found] = self._base_alive[base[found]]
                if found.any():
                    out[rest[found]] = self.snapshot.index.reconstruct_batch(base[found])
                    present[rest[found]] = True
        return present, out

    # The rest runs under the lock.

    def _bury(self, keys: list[int]) -> None:
        """Mark the rows of those keys that are present dead."""
        for key in keys:
            row = self._rows.pop(key, None)
            if row is not None:
                self._alive[row] = False
        if self.snapshot is not None:
            base = self.snapshot.rows(np.asarray(keys, dtype=np.int64))
            base = base[base >= 0]
            if len(base) and self._base_alive[base].any():
                self._base_alive[base] = False
                self._base_live = int(self._base_alive.sum())
                # The selector reads this buffer: keep it referenced for as long as it is used.
                self._base_bitmap = np.packbits(self._base_alive, bitorder="little")
                self._base_selector = faiss.IDSelectorBitmap(
                    len(self._base_bitmap), faiss.swig_ptr(self._base_bitmap)
                )

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        start = len(self._alive)
        self._index.add(vectors)
        self._row_key = np.concatenate([self._row_key, keys])
        self._alive = np.concatenate([self._alive, np.ones(len(keys), dtype=bool)])
        self._rows.update(zip(keys.tolist(), range(start, start + len(keys)), strict=True))

    def _maintain(self) -> None:
        """Rebuild when the index crosses the threshold upwards or too many rows are dead;
        otherwise refresh the filter on dead rows."""
        crossing = len(self._rows) >= self.ann.min_papers and not self.approximate
        if crossing or self.dead > self.ann.max_dead_share * len(self._alive):
            self._rebuild()
        if self.dead:
            # The selector reads this buffer: keep it referenced for as long as it is used.
            self._bitmap = np.packbits(self._alive, bitorder="little")
            self._selector = faiss.IDSelectorBitmap(len(self._bitmap), faiss.swig_ptr(self._bitmap))
        else:
            self._selector, self._bitmap = None, np.zeros(0, dtype=np.uint8)

    def _rebuild(self) -> None:
        live = np.flatnonzero(self._alive)
        keys = self._row_key[live]
        vectors = (
            self._index.reconstruct_batch(live)
            if len(live)
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        self._reset(approximate=len(live) >= self.ann.min_papers)
        if len(live):
            self._add(keys, vectors)
