"""The typed rows `storage.store` takes and returns: plain frozen dataclasses, so that
callers never index a database record by column name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ranking.stats import PaperStats


@dataclass(frozen=True, slots=True)
class PaperRow:
    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published_at: datetime | None
    url: str | None
    content_hash: str


@dataclass(frozen=True, slots=True)
class UpsertOutcome:
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    withdrawn: list[str]


@dataclass(frozen=True, slots=True)
class StoredPaper:
    """A paper as the catalogue holds it, withdrawn or not."""

    seq: int  # its key in the vector index
    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published_at: datetime | None
    url: str | None
    embedded: bool  # has a vector for its current text
    withdrawn: bool


@dataclass(frozen=True, slots=True)
class PopularPaper:
    seq: int
    id: str
    title: str
    score: float


@dataclass(frozen=True, slots=True)
class PendingPaper:
    seq: int
    id: str
    title: str
    abstract: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class IndexChanges:
    """Vectors stored and papers dropped since a horizon (`Store.index_changes`)."""

    horizon: int  # where the next look starts
    keys: np.ndarray  # int64 keys of live papers with a new vector ...
    vectors: np.ndarray  # ... and their vectors
    xids: np.ndarray  # ... and the transactions that stored them
    dropped: list[int]  # keys to remove: withdrawn, or embedded by another model


@dataclass(frozen=True, slots=True)
class SavedVectors:
    """What `save_embeddings` stored: the keys to index, and the transaction that did it."""

    live: list[int]
    xid: int


@dataclass(frozen=True, slots=True)
class PaperMeta:
    seq: int
    id: str
    title: str
    abstract_chars: int
    published_epoch: float


@dataclass(frozen=True, slots=True)
class EventRow:
    event_id: str
    user_id: str
    paper_id: str
    type: str
    occurred_at: datetime
    request_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class HistoryRow:
    paper_id: str
    seq: int
    type: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Impression:
    position: int
    paper_id: str
    score: float
    features: list[float]
    # Probability that this paper was shown in this slot (below 1 for exploration slots).
    propensity: float = 1.0
    explored: bool = False


@dataclass(frozen=True, slots=True)
class LabelledImpression:
    """One shown paper of a served feed, with the feed's facts and its label (the best
    feedback on it that names the feed)."""

    request_id: uuid.UUID
    served_at: datetime
    position: int
    paper_id: str
    features: list[float]
    propensity: float
    explored: bool
    feature_names: list[str]
    model_version: str
    label: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: str
    paper_id: str
    type: str
    occurred_at: datetime
    received_at: datetime
    request_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class StoredImpression:
    request_id: uuid.UUID
    position: int
    paper_id: str
    score: float
    served_at: datetime
    model_version: str


@dataclass(frozen=True, slots=True)
class FeedRecord:
    user_id: str
    served_at: datetime
    model_version: str
    stats_version: str
    features: dict[str, list[float]]  # paper id -> logged feature vector


@dataclass(frozen=True, slots=True)
class ModelRecord:
    version: str
    path: str
    created_at: datetime
    metrics: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Activation:
    id: int
    version: str | None  # None: the heuristic ranker
    path: str | None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    secret_sha256: str = ""  # only when read for checking a key


@dataclass(frozen=True, slots=True)
class Feedback:
    """What the catalogue statistics are computed from."""

    papers: dict[int, PaperStats]  # index key -> counts
    readers: np.ndarray  # (saves,) int64 reader numbers, one per current save
    saved: np.ndarray  # (saves,) int64 index keys of the saved papers


@dataclass(frozen=True, slots=True)
class DeletedRows:
    events: int
    feeds: int
    impressions: int
