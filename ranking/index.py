"""A FAISS inner-product index over unit vectors, keyed by the papers' integer keys."""

from __future__ import annotations

import threading

import faiss
import numpy as np


class VectorIndex:
    """Exact cosine search with incremental add, replace and remove.

    A flat index keeps every update exact and cheap, and search stays a few
    milliseconds up to ~100k papers. All operations hold one lock, so updates from the
    embedding worker are safe against concurrent searches.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._keys: set[int] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

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
            present = [k for k in key_array.tolist() if k in self._keys]
            if present:
                self._index.remove_ids(np.asarray(present, dtype=np.int64))  # type: ignore[arg-type]
            self._index.add_with_ids(vectors, key_array)
            self._keys.update(key_array.tolist())

    def remove(self, keys: np.ndarray | list[int]) -> None:
        with self._lock:
            present = [int(k) for k in keys if int(k) in self._keys]
            if present:
                self._index.remove_ids(np.asarray(present, dtype=np.int64))  # type: ignore[arg-type]
                self._keys.difference_update(present)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, keys) per query row; missing slots have key -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        with self._lock:
            k = min(k, len(self._keys))
            if k == 0:
                empty = np.zeros((len(queries), 0))
                return empty.astype(np.float32), empty.astype(np.int64)
            scores, keys = self._index.search(queries, k)
        return scores, keys

    def vectors(self, keys: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(present, vectors): which keys are in the index, and their vectors (zeros if not).

        Missing keys are reported rather than raised: a paper may be withdrawn between
        retrieval and ranking.
        """
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        with self._lock:
            present = np.fromiter((k in self._keys for k in keys), dtype=bool, count=len(keys))
            if present.any():
                wanted = np.asarray(keys, dtype=np.int64)[present]
                out[present] = self._index.reconstruct_batch(wanted)
        return present, out
