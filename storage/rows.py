"""The typed rows `storage.store` takes and returns: plain frozen dataclasses, so that
callers never index a database record by column name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from ranking.stats import PaperCounts


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
    saves: int = 0  # on the day asked for (trending by day)
    clicks: int = 0


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
    page: int = 1  # which page of the feed (cursor) it was on


@dataclass(frozen=True, slots=True)
class KeptItem:
    """One paper of a ranked list kept for the feed's later pages, as it will be served
    and logged (`features`: little-endian float32, as the ranker saw them)."""

    key: int
    paper_id: str
    title: str
    score: float
    features: bytes
    propensity: float
    explored: bool
    reasons: list[str]
    similar_to: str | None
    explanation: str


@dataclass(frozen=True, slots=True)
class KeptList:
    """The ranked list of a served feed beyond its first page."""

    page_size: int
    items: list[KeptItem]
    created_at: datetime | None = None
    model_version: str = ""


@dataclass(frozen=True, slots=True)
class InterestsRow:
    """A reader's onboarding interests as stored (the newest set in force)."""

    set_at: datetime
    topics: list[str]
    paper_ids: list[str]
    keys: list[int]  # index keys of the live papers among paper_ids
    topic_vectors: np.ndarray  # (topics, dim) float32
    embedding_model: str


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
    surface: str = "api"  # where it was shown: api, digest, atom


@dataclass(frozen=True, slots=True)
class ModelRecord:
    version: str
    path: str
    created_at: datetime
    metrics: dict[str, Any]
    # The manifest's "data" section: which feeds trained and judged it (empty if unknown).
    data_window: dict[str, Any] = field(default_factory=dict)


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
    """What the collaborative models are fitted on: every current save."""

    readers: np.ndarray  # (saves,) int64 reader numbers, one per current save
    saved: np.ndarray  # (saves,) int64 index keys of the saved papers


@dataclass(frozen=True, slots=True)
class CountRead:
    """Counts per paper as one refresh read them (storage/sql/paper_counts*.sql): the
    settled rows' counts (in full, or the change since the last read), the rest counted
    in full, and the database's clock: `now` ends the windows, `mark` ends the settled
    rows."""

    now: datetime
    mark: datetime
    settled: PaperCounts
    recent: PaperCounts


@dataclass(frozen=True, slots=True)
class DeletedRows:
    events: int
    feeds: int
    impressions: int
    interests: int = 0


@dataclass(frozen=True, slots=True)
class ServedRates:
    """Feeds served in a window and what readers did with the papers shown, for one model
    version (`position` None) or one position (`model_version` None)."""

    model_version: str | None
    position: int | None
    feeds: int
    impressions: int
    clicked: int
    saved: int
    dismissed: int


@dataclass(frozen=True, slots=True)
class TimelineCount:
    """Feeds served by one model version (`what` "feed") or events of one type (`what`
    "event") in the time bucket starting at `bucket`."""

    what: str
    kind: str
    bucket: datetime
    n: int


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """A reader's e-mail digest subscription and its delivery state."""

    user_id: str
    email: str
    frequency: str  # "daily" or "weekly"
    max_items: int
    send_hour_utc: int
    created_at: datetime
    updated_at: datetime
    next_due_at: datetime
    last_sent_at: datetime | None
    failures: int
    last_error: str | None
    claimed_until: datetime | None


@dataclass(frozen=True, slots=True)
class FeedTokenRow:
    token_id: str
    user_id: str
    created_at: datetime
    revoked_at: datetime | None
    secret_sha256: str = ""  # only when read for checking a token


@dataclass(frozen=True, slots=True)
class ShownPaper:
    """One paper of a feed already served: its place and score."""

    request_id: uuid.UUID
    served_at: datetime
    model_version: str
    position: int
    paper_id: str
    score: float
