"""Synthetic readers that use the real HTTP API: fetch feeds, click and save.

Each paper has a topic (a cluster of its embedding) and a hidden quality; each reader has
hidden topic preferences. Clicks follow an examination model: the reader looks at position p
with probability (1 + p) ** -decay and, having looked, clicks with a probability that rises
with topic match and quality. Quality is shared by all readers, so what others clicked and
saved predicts what this reader will: a signal a trained ranker can learn beyond content
similarity, which is what `paperfeed train` is measured on.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
from tqdm import tqdm

from ranking.embedder import Embedder, paper_text
from storage.store import PaperRow

# Event ids are 1-128 characters (service.wire.ID_PATTERN).
_MAX_ID = 128


@dataclass(frozen=True)
class SimPaper:
    id: str
    topic: int
    quality: float  # hidden, roughly N(0, 1)


@dataclass(frozen=True)
class World:
    """The simulator's hidden truth about the catalogue."""

    papers: list[SimPaper]
    topics: int

    @classmethod
    def from_papers(
        cls, rows: Sequence[PaperRow], embedder: Embedder, topics: int = 6, seed: int = 0
    ) -> World:
        """The catalogue's papers (as ingest stored them: `service.records.catalogue_rows`).

        Topics are spherical k-means clusters of the papers' embeddings.
        """
        if not rows:
            raise ValueError("no papers to simulate readers on")
        ids = [row.id for row in rows]
        texts = [paper_text(row.title, row.abstract) for row in rows]
        topics = min(topics, len(ids))
        vectors = embedder.embed(texts)
        labels = spherical_kmeans(vectors, topics, np.random.default_rng([seed, 0]))
        quality = np.random.default_rng([seed, 1]).standard_normal(len(ids))
        papers = [
            SimPaper(pid, int(label), float(q))
            for pid, label, q in zip(ids, labels, quality, strict=True)
        ]
        return cls(papers, topics)


def spherical_kmeans(
    vectors: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 30
) -> np.ndarray:
    """Cluster label of each unit row vector (k-means++ start, cosine assignment).

    Plain numpy rather than FAISS so that labels do not depend on thread count.
    """
    x = np.asarray(vectors, dtype=np.float64)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        distance = np.clip(1.0 - np.max(x @ np.array(centres).T, axis=1), 0.0, None)
        total = distance.sum()
        pick = rng.choice(len(x), p=distance / total) if total > 0 else rng.integers(len(x))
        centres.append(x[pick])
    c = np.array(centres)
    labels = np.zeros(len(x), dtype=np.int64)
    for step in range(iterations):
        new = np.argmax(x @ c.T, axis=1)
        if step > 0 and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):  # an empty cluster keeps its old centre
                mean = members.sum(axis=0)
                c[j] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return labels


@dataclass(frozen=True)
class Behaviour:
    """The hidden click model. With the defaults readers click about 10-30% of shown papers
    (less while their feeds are still generic) and save about half of what they click."""

    topic_weight: float = 4.0  # logit per unit of preference for the paper's topic
    quality_weight: float = 0.8  # logit per unit of hidden quality
    position_decay: float = 0.5  # P(examined at 0-based position p) = (1 + p) ** -decay
    bias: float = -2.0  # logit of clicking an examined, off-topic paper of average quality
    save_given_click: float = 0.2  # P(save | click), off-topic paper of average quality
    save_topic_weight: float = 2.5
    save_quality_weight: float = 1.0


@dataclass(frozen=True)
class SimReader:
    id: str
    preference: np.ndarray  # over topics, sums to 1


def make_readers(world: World, n: int, seed: int, prefix: str = "sim") -> list[SimReader]:
    """`n` readers `{prefix}-{i}` whose preferences mostly sit on one or two topics."""
    rng = np.random.default_rng([seed, 2])
    # A small Dirichlet concentration puts most of the mass on few topics.
    return [
        SimReader(f"{prefix}-{i}", rng.dirichlet(np.full(world.topics, 0.25))) for i in range(n)
    ]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)  # no overflow for very negative logits (extreme Behaviour weights)
    return e / (1.0 + e)


def click_probability(
    reader: SimReader, paper: SimPaper, position: int, behaviour: Behaviour = Behaviour()
) -> float:
    """P(click) on `paper` shown at 0-based `position`: examination times attraction."""
    examined = float((1.0 + position) ** -behaviour.position_decay)
    match = float(reader.preference[paper.topic])
    logit = (
        behaviour.bias + behaviour.topic_weight * match + behaviour.quality_weight * paper.quality
    )
    return examined * _sigmoid(logit)


def save_probability(
    reader: SimReader, paper: SimPaper, behaviour: Behaviour = Behaviour()
) -> float:
    """P(save | click): position no longer matters once the reader has opened the paper."""
    match = float(reader.preference[paper.topic])
    p = min(max(behaviour.save_given_click, 1e-9), 1 - 1e-9)
    logit = (
        math.log(p / (1 - p))
        + behaviour.save_topic_weight * match
        + behaviour.save_quality_weight * paper.quality
    )
    return _sigmoid(logit)


def event_id(request_id: str, paper_id: str, kind: str) -> str:
    """Deterministic, so a retried POST of the same decisions is a duplicate on the server."""
    candidate = f"{request_id}:{paper_id}:{kind}"
    if len(candidate) <= _MAX_ID:
        return candidate
    return f"{request_id}:{hashlib.sha256(paper_id.encode()).hexdigest()[:40]}:{kind}"


def choose_events(
    reader: SimReader,
    feed: Mapping[str, Any],
    papers: Mapping[str, SimPaper],
    behaviour: Behaviour,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """The reader's click and save events for one feed response (a save follows its click).

    Items unknown to the world are skipped. Two draws per item whatever happens, so one
    item's outcome never shifts the random numbers of the next.
    """
    items = feed["items"]
    draws = rng.random((len(items), 2))
    request_id = str(feed["request_id"])
    now = datetime.now(UTC).isoformat()
    events: list[dict[str, Any]] = []
    for item, (u_click, u_save) in zip(items, draws, strict=True):
        paper = papers.get(item["paper_id"])
        if paper is None or u_click >= click_probability(
            reader, paper, int(item["position"]), behaviour
        ):
            continue
        kinds = ["click"]
        if u_save < save_probability(reader, paper, behaviour):
            kinds.append("save")
        for kind in kinds:
            events.append(
                {
                    "event_id": event_id(request_id, paper.id, kind),
                    "user_id": reader.id,
                    "paper_id": paper.id,
                    "type": kind,
                    "occurred_at": now,
                    "request_id": request_id,
                }
            )
    return events


def _check(response: httpx.Response, what: str) -> Any:
    if not response.is_success:
        raise RuntimeError(
            f"{what} failed: {response.status_code} from {response.request.url}: "
            f"{response.text[:500]}"
        )
    return response.json()


async def post_events(client: httpx.AsyncClient, events: Sequence[dict[str, Any]]) -> Any:
    """POST one batch to /v1/events; the server's answer. RuntimeError if any is rejected."""
    body = _check(await client.post("/v1/events", json={"events": list(events)}), "POST events")
    if body.get("rejected"):
        raise RuntimeError(f"the server rejected simulated events: {body['rejected'][:5]}")
    return body


@dataclass
class SimStats:
    feeds: int = 0
    impressions: int = 0
    clicks: int = 0
    saves: int = 0
    unknown: int = 0  # shown papers missing from the world (catalogue mismatch)
    # model_version -> [impressions, clicks, saves]
    by_model: dict[str, list[int]] = field(default_factory=dict)

    @property
    def save_rate(self) -> float:
        return self.saves / self.impressions if self.impressions else 0.0

    @property
    def click_rate(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    def add(self, model_version: str, impressions: int, clicks: int, saves: int) -> None:
        self.feeds += 1
        self.impressions += impressions
        self.clicks += clicks
        self.saves += saves
        row = self.by_model.setdefault(model_version, [0, 0, 0])
        row[0] += impressions
        row[1] += clicks
        row[2] += saves

    def merge(self, other: SimStats) -> None:
        """Add another run's counts to these."""
        self.feeds += other.feeds
        self.impressions += other.impressions
        self.clicks += other.clicks
        self.saves += other.saves
        self.unknown += other.unknown
        for version, counts in other.by_model.items():
            row = self.by_model.setdefault(version, [0, 0, 0])
            for i, n in enumerate(counts):
                row[i] += n

    def summary(self) -> str:
        """A few readable lines: totals, then one line per model version."""
        lines = [
            f"{self.feeds} feeds, {self.impressions} impressions: "
            f"{_rates(self.impressions, self.clicks, self.saves)}"
        ]
        if self.unknown:
            lines.append(f"{self.unknown} shown papers were not in the simulated catalogue")
        for version, (shown, clicks, saves) in sorted(self.by_model.items()):
            lines.append(f"  {version}: {shown} impressions, {_rates(shown, clicks, saves)}")
        return "\n".join(lines)


def _rates(shown: int, clicks: int, saves: int) -> str:
    def pct(n: int) -> str:
        return f"{100 * n / shown:.1f}%" if shown else "-"

    return f"{clicks} clicks ({pct(clicks)}), {saves} saves ({pct(saves)})"


async def simulate(
    client: httpx.AsyncClient,
    world: World,
    readers: Sequence[SimReader],
    sessions: int,
    *,
    feed_limit: int = 10,
    behaviour: Behaviour = Behaviour(),
    seed: int = 0,
    concurrency: int = 8,
    progress: bool = False,
) -> SimStats:
    """Run `sessions` rounds in which every reader fetches a feed and reacts to it.

    `client` must have the server's base_url. Random draws depend on (seed, session,
    reader), not on the order in which concurrent requests finish; the feeds themselves
    still depend on what other readers did before. RuntimeError on any non-2xx answer.
    """
    papers = {p.id: p for p in world.papers}
    stats = SimStats()
    gate = asyncio.Semaphore(concurrency)

    async def visit(session: int, index: int, reader: SimReader, bar: tqdm) -> None:
        rng = np.random.default_rng([seed, session, index])
        async with gate:
            response = await client.get(f"/v1/users/{reader.id}/feed", params={"limit": feed_limit})
            feed = _check(response, f"feed of {reader.id}")
            events = choose_events(reader, feed, papers, behaviour, rng)
            if events:
                await post_events(client, events)
        kinds = [e["type"] for e in events]
        stats.unknown += sum(1 for item in feed["items"] if item["paper_id"] not in papers)
        stats.add(
            feed["model_version"], len(feed["items"]), kinds.count("click"), kinds.count("save")
        )
        bar.update(1)

    with tqdm(
        total=sessions * len(readers), desc="simulate", unit=" feeds", disable=not progress
    ) as bar:
        for session in range(sessions):
            try:
                async with asyncio.TaskGroup() as group:
                    for index, reader in enumerate(readers):
                        group.create_task(visit(session, index, reader, bar))
            except ExceptionGroup as failed:
                # Surface the first failure itself (a RuntimeError with the server's answer).
                raise failed.exceptions[0] from None
    return stats
