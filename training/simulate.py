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
from storage.rows import PaperRow

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
    saves_by_reader: dict[str, int] = field(default_factory=dict)  # reader id -> saves

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
        for reader, n in other.saves_by_reader.items():
            self.saves_by_reader[reader] = self.saves_by_reader.get(reader, 0) + n

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
    streams: Sequence[int] | None = None,
) -> SimStats:
    """Run `sessions` rounds in which every reader fetches a feed and reacts to it.

    `client` must have the server's base_url. Random draws depend on (seed, session,
    stream), where a reader's stream is its position in `readers` unless `streams` gives
    one per reader; not on the order in which concurrent requests finish. The feeds
    themselves still depend on what other readers did before. RuntimeError on any non-2xx
    answer.
    """
    papers = {p.id: p for p in world.papers}
    stats = SimStats()
    gate = asyncio.Semaphore(concurrency)
    keys = list(range(len(readers))) if streams is None else list(streams)
    if len(keys) != len(readers):
        raise ValueError(f"{len(keys)} streams for {len(readers)} readers")

    async def visit(session: int, index: int, reader: SimReader, bar: tqdm) -> None:
        rng = np.random.default_rng([seed, session, keys[index]])
        async with gate:
            response = await client.get(f"/v1/users/{reader.id}/feed", params={"limit": feed_limit})
            feed = _check(response, f"feed of {reader.id}")
            events = choose_events(reader, feed, papers, behaviour, rng)
            if events:
                await post_events(client, events)
        kinds = [e["type"] for e in events]
        stats.unknown += sum(1 for item in feed["items"] if item["paper_id"] not in papers)
        saves = kinds.count("save")
        stats.add(feed["model_version"], len(feed["items"]), kinds.count("click"), saves)
        stats.saves_by_reader[reader.id] = stats.saves_by_reader.get(reader.id, 0) + saves
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


def paired_interval(
    difference: np.ndarray,
    rng: np.random.Generator,
    level: float = 0.95,
    resamples: int = 10_000,
) -> tuple[float, float]:
    """Percentile bootstrap interval at `level` of the mean of per-pair differences (pairs
    are resampled whole, so what the two readers of a pair share cancels)."""
    d = np.asarray(difference, dtype=np.float64)
    if len(d) < 2:
        raise ValueError("a paired interval needs at least two pairs")
    means = d[rng.integers(0, len(d), (resamples, len(d)))].mean(axis=1)
    tail = (1.0 - level) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedComparison:
    """Two arms' counts, and per reader pair the treatment reader's saves minus the control
    reader's, with the 95% bootstrap interval of their mean."""

    arms: tuple[str, str]  # control, treatment
    control: SimStats
    treatment: SimStats
    difference: np.ndarray
    low: float
    high: float
    control_first: np.ndarray  # sessions x pairs: which arm each pair visited first

    @property
    def mean(self) -> float:
        return float(self.difference.mean())

    @property
    def t(self) -> float:
        """Paired t statistic of the mean difference."""
        se = float(self.difference.std(ddof=1)) / math.sqrt(len(self.difference))
        return self.mean / se if se > 0 else math.copysign(math.inf, self.mean)

    def summary(self) -> str:
        control, treatment = self.arms
        return (
            f"saves per shown paper: {control} {self.control.save_rate:.4f}, "
            f"{treatment} {self.treatment.save_rate:.4f}\n"
            f"paired difference ({treatment} - {control}) in saves per reader: "
            f"{self.mean:+.3f}, 95% CI [{self.low:+.3f}, {self.high:+.3f}] "
            f"(bootstrap over {len(self.difference)} pairs), paired t = {self.t:.2f}"
        )


async def ab_test(
    client: httpx.AsyncClient,
    world: World,
    arms: tuple[str, str],
    panels: tuple[Sequence[SimReader], Sequence[SimReader]],
    sessions: int,
    *,
    feed_limit: int = 10,
    behaviour: Behaviour = Behaviour(),
    seed: int = 0,
    concurrency: int = 8,
) -> PairedComparison:
    """A/B test of two rankers (`arms`: control, treatment; versions or "heuristic") on
    paired readers: reader i of each panel should share a hidden taste, and they share
    random draws. The ranker is switched through the admin API, so `client` needs an admin
    key; the last arm used stays active.

    Readers of both arms change the catalogue statistics the other arm is ranked with, so
    in every session each pair's order is a seeded coin flip: the control arm serves the
    pairs drawn control-first, then the treatment arm serves every pair, then the control
    arm the rest. RuntimeError if a feed comes from another ranker than the one activated.
    """
    control, treatment = panels
    n = len(control)
    if len(treatment) != n or n < 2:
        raise ValueError(f"panels of {n} and {len(treatment)} readers: need equal, >= 2")
    order = np.random.default_rng([seed, 3])
    stats = (SimStats(), SimStats())
    control_first = order.random((sessions, n)) < 0.5
    for session, first in enumerate(control_first):
        phases = ((0, first), (1, np.ones(n, dtype=bool)), (0, ~first))
        for arm, chosen in ((a, [int(i) for i in np.flatnonzero(m)]) for a, m in phases):
            if not chosen:
                continue
            name = arms[arm]
            active = _check(
                await client.post(f"/v1/admin/models/{name}/activate"), f"activate {name}"
            )["active"]
            run = await simulate(
                client,
                world,
                [panels[arm][i] for i in chosen],
                1,
                feed_limit=feed_limit,
                behaviour=behaviour,
                seed=seed,
                concurrency=concurrency,
                streams=[session * n + i for i in chosen],  # shared by the pair
            )
            if set(run.by_model) != {active}:
                raise RuntimeError(f"arm {name} ({active}) was served by {sorted(run.by_model)}")
            stats[arm].merge(run)
    difference = np.array(
        [
            stats[1].saves_by_reader.get(t.id, 0) - stats[0].saves_by_reader.get(c.id, 0)
            for c, t in zip(control, treatment, strict=True)
        ],
        dtype=np.float64,
    )
    low, high = paired_interval(difference, np.random.default_rng([seed, 4]))
    return PairedComparison(arms, stats[0], stats[1], difference, low, high, control_first)
