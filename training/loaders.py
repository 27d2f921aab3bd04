"""Read an interaction dataset (papers + user×item saves) into plain structures, and
embed the papers once (cached on disk).

Papers: JSON Lines, one `{"item_id": ..., "title": str, "abstract"?: str}` a line.
Interactions: a tab-separated file with the header `user_id<TAB>item_id`, one save a line.
Ids are kept as strings, so numeric and textual ids work alike. The catalogue's order
defines the columns of the interaction matrix.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from ranking.embedder import paper_text
from ranking.errors import DataError

HEADER = ("user_id", "item_id")


@dataclass(frozen=True)
class Catalogue:
    """The papers, column j of every matrix being `item_ids[j]`."""

    item_ids: list[str]
    titles: list[str]
    abstracts: list[str]

    def __len__(self) -> int:
        return len(self.item_ids)

    def texts(self) -> list[str]:
        """The text each paper is embedded or vectorised from (title and abstract)."""
        return [paper_text(t, a) for t, a in zip(self.titles, self.abstracts, strict=True)]


@dataclass(frozen=True)
class Interactions:
    """A binary users×items CSR matrix (float32, 1 = saved) and the ids of its rows."""

    matrix: sp.csr_matrix
    user_ids: list[str]

    @property
    def n_users(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.matrix.shape[1])


def _require(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{path}: no such file")


def load_catalogue(path: Path) -> Catalogue:
    """Papers in file order. Every line needs a unique `item_id` and a non-empty `title`."""
    _require(path)
    ids: list[str] = []
    titles: list[str] = []
    abstracts: list[str] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or "item_id" not in record:
                raise DataError(f"{path}:{number}: expected an object with an item_id")
            item_id, title = str(record["item_id"]), record.get("title")
            if not isinstance(title, str) or not title.strip():
                raise DataError(f"{path}:{number}: item {item_id} has no title")
            if item_id in seen:
                raise DataError(f"{path}:{number}: item_id {item_id} occurs twice")
            seen.add(item_id)
            abstract = record.get("abstract") or ""
            ids.append(item_id)
            titles.append(title)
            abstracts.append(abstract if isinstance(abstract, str) else "")
    if not ids:
        raise DataError(f"{path}: no papers")
    return Catalogue(ids, titles, abstracts)


def load_interactions(path: Path, catalogue: Catalogue) -> Interactions:
    """Saves as a users×items matrix over `catalogue`'s columns; repeated pairs count once.

    Users appear in order of first occurrence. An item id missing from the catalogue is
    an error (it would silently shrink every user's test set otherwise).
    """
    _require(path)
    column = {item_id: j for j, item_id in enumerate(catalogue.item_ids)}
    user_row: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    with path.open(encoding="utf-8") as file:
        header = tuple(file.readline().rstrip("\r\n").split("\t"))
        if header != HEADER:
            raise DataError(f"{path}:1: expected the header 'user_id<TAB>item_id', got {header}")
        for number, line in enumerate(file, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0] or not fields[1]:
                raise DataError(f"{path}:{number}: expected 'user_id<TAB>item_id', got {line!r}")
            user, item = fields
            j = column.get(item)
            if j is None:
                raise DataError(f"{path}:{number}: item {item} is not in the papers file")
            rows.append(user_row.setdefault(user, len(user_row)))
            cols.append(j)
    if not rows:
        raise DataError(f"{path}: no interactions")
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (np.array(rows), np.array(cols))),
        shape=(len(user_row), len(catalogue)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a pair saved twice is still one save
    return Interactions(matrix, list(user_row))


def load_user_ids(path: Path) -> list[str]:
    """User ids, one a line (blank lines and `#` comments ignored)."""
    _require(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    users = [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]
    if not users:
        raise DataError(f"{path}: no user ids")
    return users


class TextEmbedder(Protocol):
    """What content methods need from `ranking.embedder.Embedder` (tests pass a fake)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbeddingCache:
    """Catalogue embeddings on demand, cached as .npy keyed by model name and texts, so a
    second run (or a second seed) embeds nothing. The model loads only on a cache miss."""

    def __init__(
        self, model_name: str, load: Callable[[], TextEmbedder], folder: Path, chunk: int = 256
    ) -> None:
        self.model_name, self._load, self.folder, self.chunk = model_name, load, folder, chunk
        self._memory: dict[str, np.ndarray] = {}
        self.seconds = 0.0  # spent embedding (not reading the cache)

    def path_for(self, texts: Sequence[str]) -> Path:
        digest = hashlib.sha256(self.model_name.encode())
        for text in texts:
            digest.update(b"\x1e" + text.encode())
        return self.folder / f"embeddings-{digest.hexdigest()[:24]}.npy"

    def get(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        path = self.path_for(texts)
        if str(path) in self._memory:
            return self._memory[str(path)]
        if path.is_file():
            vectors = np.asarray(np.load(path), dtype=np.float32)
        else:
            started = time.perf_counter()
            vectors = self._embed(texts, progress)
            self.seconds += time.perf_counter() - started
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.partial.npy")
            np.save(partial, vectors)
            partial.replace(path)  # never leave a half-written cache file under the real name
        self._memory[str(path)] = vectors
        return vectors

    def _embed(self, texts: Sequence[str], progress: bool) -> np.ndarray:
        embedder = self._load()
        # Similar lengths in one batch waste less padding; results go back in input order.
        order = np.argsort([len(t) for t in texts], kind="stable")
        parts = []
        with tqdm(total=len(texts), desc="embed catalogue", disable=not progress) as bar:
            for start in range(0, len(texts), self.chunk):
                chunk = order[start : start + self.chunk]
                parts.append(embedder.embed([texts[i] for i in chunk]))
                bar.update(len(chunk))
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(parts)
        return vectors
