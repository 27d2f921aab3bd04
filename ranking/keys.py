"""Finding papers' keys in a sorted key array: the one lookup every table of the catalogue
(content index, facts, collaborative models, live counts) makes for each candidate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def find(
    sorted_keys: np.ndarray, wanted: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(pos, hit) for each of `wanted`: `hit` if it is in `sorted_keys` (strictly
    ascending), and then `sorted_keys[pos] == wanted`.

    A table whose keys have no gaps (a catalogue's sequence numbers, as the content index
    and the facts usually have) answers by subtraction. Otherwise the wanted keys are
    sorted before the binary search, so that it walks the table front to back instead of
    jumping about: at 1M keys, 700 lookups take 50 µs instead of 200 (and 0.7 µs by
    subtraction)."""
    asked = np.asarray(wanted, dtype=np.int64)
    n = len(sorted_keys)
    if not n or not len(asked):
        return np.zeros(len(asked), dtype=np.int64), np.zeros(len(asked), dtype=bool)
    first = int(sorted_keys[0])
    if int(sorted_keys[-1]) - first == n - 1:  # strictly ascending without gaps
        pos = asked - first
        hit = (pos >= 0) & (pos < n)
        return np.where(hit, pos, 0), hit
    order = np.argsort(asked, kind="stable")
    pos = np.empty(len(asked), dtype=np.int64)
    pos[order] = np.searchsorted(sorted_keys, asked[order])
    np.minimum(pos, n - 1, out=pos)
    return pos, sorted_keys[pos] == asked


def rows_of(sorted_keys: np.ndarray, keys: Sequence[int] | np.ndarray) -> np.ndarray:
    """The position of each of `keys` in `sorted_keys` (strictly ascending), -1 where absent."""
    pos, hit = find(sorted_keys, keys)
    return np.where(hit, pos, -1)
