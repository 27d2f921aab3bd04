"""Facts about papers that a feed needs (id, title, abstract length, publication time,
first author), kept in memory by each server instead of read from PostgreSQL per feed.

`FactTable` holds them for many papers as plain arrays (strings as one UTF-8 buffer and
offsets): `paperfeed fit` writes it beside the content index, and every server process
memory-maps the same pages. `FactCache` answers lookups from that table and from the papers
read since (a paper added or changed after the fit, or a server without an artifact): the
index follower `forget`s every paper it sees change, and the next lookup reads it again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from ranking.diversify import author_code, work_code
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


class Facts(Protocol):
    """What ranking reads about a paper: a `PaperMeta`, or `ranking.features.PaperFacts`
    where no title or author is known (offline evaluation)."""

    @property
    def abstract_chars(self) -> int: ...

    @property
    def published_epoch(self) -> float: ...


@dataclass(frozen=True, slots=True)
class FactColumns:
    """The facts of a list of papers (a feed's candidates), one array each, aligned with
    the list: no object per paper."""

    known: np.ndarray  # (n,) bool: facts held; False for withdrawn or unknown papers
    published: np.ndarray  # (n,) float64: seconds since the epoch
    abstract_chars: np.ndarray  # (n,) int64
    works: np.ndarray  # (n,) int64: `work_code` of the title (0: unknown)
    authors: np.ndarray  # (n,) int64: `author_code` of the first author (0: unknown)

    def take(self, rows: np.ndarray) -> FactColumns:
        """The facts at `rows` (indexes or a boolean mask), in that order."""
        return FactColumns(
            self.known[rows],
            self.published[rows],
            self.abstract_chars[rows],
            self.works[rows],
            self.authors[rows],
        )

    @classmethod
    def empty(cls, n: int) -> FactColumns:
        return cls(
            np.zeros(n, dtype=bool),
            np.zeros(n, dtype=np.float64),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
        )

    @classmethod
    def of(cls, keys: Sequence[int], facts: Mapping[int, Facts]) -> FactColumns:
        """From facts by key (known where present): `PaperMeta`s give works and authors."""
        out = cls.empty(len(keys))
        for i, key in enumerate(keys):
            fact = facts.get(key)
            if fact is not None:
                out.fill(i, fact)
        return out

    def fill(self, i: int, fact: Facts) -> None:
        """Row `i` from one paper's facts (a `PaperMeta` also gives its work and author)."""
        self.known[i] = True
        self.published[i] = fact.published_epoch
        self.abstract_chars[i] = fact.abstract_chars
        if isinstance(fact, PaperMeta):
            self.works[i] = work_code(fact.title)
            self.authors[i] = author_code(fact.first_author)


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
    # `work_code`s of the titles and `author_code`s of the first authors, made once by the
    # fit (None in older artifacts: a server makes them as it needs them).
    work_codes: np.ndarray | None = None  # (n,) int64
    author_codes: np.ndarray | None = None  # (n,) int64

    def __post_init__(self) -> None:
        n = len(self.keys)
        codes = [c for c in (self.work_codes, self.author_codes) if c is not None]
        if any(len(c.offsets) != n + 1 for c in (self.ids, self.titles, self.authors)) or any(
            len(a) != n for a in (self.abstract_chars, self.published, *codes)
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
            np.array([work_code(m.title) for m in ordered], dtype=np.int64),
            np.array([author_code(m.first_author) for m in ordered], dtype=np.int64),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Its arrays by name (the keys excluded: they are the content index's)."""
        out = {"abstract_chars": self.abstract_chars, "published": self.published}
        if self.work_codes is not None and self.author_codes is not None:
            out |= {"work_codes": self.work_codes, "author_codes": self.author_codes}
        for name in COLUMNS:
            column: TextColumn = getattr(self, name)
            out[f"{name}.offsets"], out[f"{name}.blob"] = column.offsets, column.blob
        return out

    @classmethod
    def of_arrays(cls, keys: np.ndarray, arrays: Mapping[str, np.ndarray]) -> FactTable:
        ids, titles, authors = (
            TextColumn(arrays[f"{n}.offsets"], arrays[f"{n}.blob"]) for n in COLUMNS
        )
        return cls(
            keys,
            ids,
            titles,
            authors,
            arrays["abstract_chars"],
            arrays["published"],
            arrays.get("work_codes"),
            arrays.get("author_codes"),
        )

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
        # The table's rows' `work_code`s and `author_code`s: the table's own, or (a table
        # without them) made when first asked for (0: not yet, or a title that normalises
        # to nothing).
        if table.work_codes is not None and table.author_codes is not None:
            self._lazy = False
            self._works, self._authors = table.work_codes, table.author_codes
        else:
            self._lazy = True
            self._works = np.zeros(len(table.keys), dtype=np.int64)
            self._authors = np.zeros(len(table.keys), dtype=np.int64)
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
        rows, hit = self._rows(wanted)
        found.update((m.seq, m) for m in self.table.metas(rows[hit]))
        return found, wanted[~hit].tolist()

    def missing(self, keys: np.ndarray) -> list[int]:
        """Those of `keys` whose facts are neither in the table (unchanged) nor read since."""
        _, hit = self._rows(keys)
        return [k for k in keys[~hit].tolist() if k not in self._read]

    def columns(
        self,
        keys: np.ndarray,
        withdrawn: Collection[int] = (),
        read: Mapping[int, PaperMeta] | None = None,
    ) -> FactColumns:
        """The facts of `keys` as arrays: from the table, the papers read since and `read`
        (facts just read, whether or not kept); unknown for the others and for papers in
        `withdrawn`. No object per paper: a feed asks for several hundred."""
        rows, hit = self._rows(keys)
        out = FactColumns.empty(len(keys))
        table_rows = rows[hit]
        out.known[hit] = True
        out.published[hit] = self.table.published[table_rows]
        out.abstract_chars[hit] = self.table.abstract_chars[table_rows]
        out.works[hit], out.authors[hit] = self._codes(table_rows)
        if self._read or read:
            for i in np.flatnonzero(~hit).tolist():
                key = int(keys[i])
                meta = self._read.get(key) or (read.get(key) if read else None)
                if meta is not None:
                    out.fill(i, meta)
        if withdrawn:
            gone = np.fromiter(withdrawn, dtype=np.int64, count=len(withdrawn))
            out.known[np.isin(keys, gone)] = False
        return out

    def _rows(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each key's table row, whether that row answers: present and unchanged)."""
        rows = self.table.rows(keys)
        hit = rows >= 0
        hit[hit] = self._valid[rows[hit]]
        return rows, hit

    def _codes(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(work codes, author codes) of table rows, made for the rows that have none yet."""
        works = self._works[rows]
        if not self._lazy:  # the fit made them all
            return works, self._authors[rows]
        todo = rows[works == 0]
        if len(todo):
            self._works[todo] = [work_code(t) for t in self.table.titles.take(todo)]
            self._authors[todo] = [author_code(a) for a in self.table.authors.take(todo)]
            works = self._works[rows]
        return works, self._authors[rows]

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
