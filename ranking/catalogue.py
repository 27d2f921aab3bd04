"""Facts about papers that a feed needs (id, title, abstract length, publication time,
first author), kept in memory by each server instead of read from PostgreSQL per feed.

`FactTable` holds them for many papers as plain arrays (strings as one UTF-8 buffer and
offsets): `paperfeed fit` writes it beside the content index, and every server process
memory-maps the same pages. `FactCache` answers lookups from that table and from the papers
read since (a paper added or changed after the fit, or a server without an artifact): the
index follower `forget`s every paper it sees change, and the next lookup reads it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ranking.keys import rows_of


class PaperMeta(NamedTuple):
    """A paper's facts. A named tuple, not a frozen dataclass: a feed makes hundreds, and
    a tuple is built about four times faster."""

    seq: int
    id: str
    title: str
    abstract_chars: int
    published_epoch: float
    first_author: str = ""  # "" when the paper lists no authors


@dataclass(frozen=True)
class TextColumn:
    """Strings as one UTF-8 buffer: string i is blob[offsets[i]:offsets[i + 1]]."""

    offsets: np.ndarray  # (n + 1,) int64, ascending from 0
    blob: np.ndarray  # (bytes,) uint8

    @classmethod
    def of(cls, strings: Iterable[str]) -> TextColumn:
        encoded = [s.encode() for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(offsets, np.frombuffer(b"".join(encoded), dtype=np.uint8))

    def take(self, rows: np.ndarray) -> list[str]:
        starts, ends = self.offsets[rows].tolist(), self.offsets[rows + 1].tolist()
        view = self.blob.data  # a memoryview: slicing it copies nothing
        return [str(view[a:b], "utf-8") for a, b in zip(starts, ends, strict=True)]


COLUMNS = ("ids", "titles", "authors")


@dataclass(frozen=True)
class FactTable:
    keys: np.ndarray  # (n,) int64, strictly ascending
    ids: TextColumn
    titles: TextColumn
    authors: TextColumn  # first authors
    abstract_chars: np.ndarray  # (n,) int32
    published: np.ndarray  # (n,) float64: seconds since the epoch

    def __post_init__(self) -> None:
        n = len(self.keys)
        if any(len(c.offsets) != n + 1 for c in (self.ids, self.titles, self.authors)) or any(
            len(a) != n for a in (self.abstract_chars, self.published)
        ):
            raise ValueError("a fact table needs one entry per key in every column")

    @classmethod
    def of(cls, metas: Sequence[PaperMeta]) -> FactTable:
        ordered = sorted(metas, key=lambda m: m.seq)
        keys = np.array([m.seq for m in ordered], dtype=np.int64)
        if (np.diff(keys) <= 0).any():
            raise ValueError("a fact table holds each paper once")
        return cls(
            keys,
            TextColumn.of(m.id for m in ordered),
            TextColumn.of(m.title for m in ordered),
            TextColumn.of(m.first_author for m in ordered),
            np.array([m.abstract_chars for m in ordered], dtype=np.int32),
            np.array([m.published_epoch for m in ordered], dtype=np.float64),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Its arrays by name (the keys excluded: they are the content index's)."""
        out = {"abstract_chars": self.abstract_chars, "published": self.published}
        for name in COLUMNS:
            column: TextColumn = getattr(self, name)
            out[f"{name}.offsets"], out[f"{name}.blob"] = column.offsets, column.blob
        return out

    @classmethod
    def of_arrays(cls, keys: np.ndarray, arrays: Mapping[str, np.ndarray]) -> FactTable:
        ids, titles, authors = (
            TextColumn(arrays[f"{n}.offsets"], arrays[f"{n}.blob"]) for n in COLUMNS
        )
        return cls(keys, ids, titles, authors, arrays["abstract_chars"], arrays["published"])

    def rows(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key, -1 for a key not in the table."""
        return rows_of(self.keys, keys)

    def metas(self, rows: np.ndarray) -> list[PaperMeta]:
        return list(
            map(
                PaperMeta._make,
                zip(
                    self.keys[rows].tolist(),
                    self.ids.take(rows),
                    self.titles.take(rows),
                    self.abstract_chars[rows].tolist(),
                    self.published[rows].tolist(),
                    self.authors.take(rows),
                    strict=True,
                ),
            )
        )


EMPTY_TABLE = FactTable.of([])


class FactCache:
    """A table's facts (valid until a paper changes) and the papers read since. Not
    thread-safe: one event loop uses it."""

    def __init__(self, table: FactTable = EMPTY_TABLE) -> None:
        self.table = table
        self._valid = np.ones(len(table.keys), dtype=bool)  # rows no change has touched
        self._read: dict[int, PaperMeta] = {}
        # Counts `forget` calls: facts read before one may be stale, so they are not kept.
        self.generation = 0

    def known(self, keys: Sequence[int]) -> tuple[dict[int, PaperMeta], list[int]]:
        """(the facts held for `keys`, the keys to read)."""
        found: dict[int, PaperMeta] = {}
        rest = []
        for key in keys:
            meta = self._read.get(key)
            if meta is None:
                rest.append(key)
            else:
                found[key] = meta
        if not rest:
            return found, []
        wanted = np.asarray(rest, dtype=np.int64)
        rows = self.table.rows(wanted)
        hit = rows >= 0
        hit[hit] = self._valid[rows[hit]]
        found.update((m.seq, m) for m in self.table.metas(rows[hit]))
        return found, wanted[~hit].tolist()

    def keep(self, metas: Iterable[PaperMeta], generation: int) -> None:
        """Hold facts read when `generation` was current, unless a change came since."""
        if generation == self.generation:
            self._read.update((m.seq, m) for m in metas)

    def forget(self, keys: Sequence[int]) -> None:
        """These papers changed (or were withdrawn): read them again when next asked."""
        if not len(keys):
            return
        self.generation += 1
        for key in keys:
            self._read.pop(int(key), None)
        rows = self.table.rows(np.asarray(keys, dtype=np.int64))
        self._valid[rows[rows >= 0]] = False
