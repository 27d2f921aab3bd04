"""A synthetic world for the load benchmark, written straight into PostgreSQL.

Papers come with clustered 384-d unit vectors stored under the configured embedding
model's name, as the server's embedding worker stores them (`storage/sql/save_embeddings.sql`),
so a server started on this database loads them into its index without embedding anything.
Readers have Zipf-skewed activity and one or two home topics; their clicks and saves fall
mostly on popular papers of those topics, the rest on papers popular everywhere.

    .venv/bin/python bench/world.py --database-url postgresql://... --scale small

Everything is written with COPY (asyncpg's `copy_records_to_table`) into a database that
the project's own migrations created; the events table's secondary indexes are dropped for
the load and rebuilt after it, from their stored definitions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
from tqdm import tqdm

from ranking.embedder import content_hash, model_identity
from storage.database import migrate

CHUNK = 50_000
# PostgreSQL's timestamps count microseconds from 2000-01-01 UTC.
PG_EPOCH_S = 946_684_800
DAY_S = 86_400


@dataclass(frozen=True)
class Scale:
    papers: int
    readers: int
    events: int
    topics: int
    years: int = 12


SCALES = {
    "tiny": Scale(papers=2_000, readers=200, events=10_000, topics=16),
    "small": Scale(papers=20_000, readers=2_000, events=100_000, topics=64),
    "medium": Scale(papers=200_000, readers=20_000, events=1_000_000, topics=256),
    "full": Scale(papers=1_000_000, readers=100_000, events=10_000_000, topics=1024),
}


@dataclass(frozen=True)
class World:
    """What was written, and how long each part took."""

    papers: int
    readers: int
    events: int
    saves: int
    clicks: int
    topics: int
    dim: int
    embedding_model: str
    seed: int
    papers_s: float
    events_s: float
    indexes_s: float
    total_s: float


# --- papers -----------------------------------------------------------------------------

_WORDS = (  # noqa: SIM905 (a paragraph reads better than a column of words)
    "sparse dense neural graph quantum bayesian stochastic robust adaptive efficient "
    "scalable causal latent optimal spectral convex federated contrastive generative "
    "variational recurrent attention transformer kernel manifold tensor diffusion "
    "reinforcement retrieval ranking embedding inference estimation learning control "
    "networks models methods bounds dynamics signals fields systems operators"
).split()


def _unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def paper_topics(scale: Scale, rng: np.random.Generator) -> np.ndarray:
    """Each paper's topic; topics differ in size (a mild power law)."""
    sizes = 1.0 / np.arange(1, scale.topics + 1) ** 0.6
    return rng.choice(scale.topics, size=scale.papers, p=sizes / sizes.sum()).astype(np.int32)


def published_seconds(scale: Scale, now_s: float, rng: np.random.Generator) -> np.ndarray:
    """Unix times over `scale.years`, more papers each year; sorted, so that the catalogue's
    order (seq) follows publication as an ingested arXiv's would."""
    span = scale.years * 365 * DAY_S
    age = span * (1 - np.sqrt(rng.random(scale.papers)))
    return np.sort(now_s - age)


def paper_records(
    start: int,
    topics: np.ndarray,
    published: np.ndarray,
    vectors: np.ndarray,
    model: str,
    rng: np.random.Generator,
) -> list[tuple[Any, ...]]:
    words = np.array(_WORDS)
    n = len(topics)
    title_words = words[rng.integers(len(words), size=(n, 6))]
    abstract_words = words[rng.integers(len(words), size=(n, 24))]
    author_ids = rng.integers(max(1000, n), size=(n, 4))
    author_counts = rng.integers(1, 5, size=n)
    records = []
    for i in range(n):
        topic = int(topics[i])
        title = f"{' '.join(title_words[i])} ({topic})"
        abstract = f"We study {' '.join(abstract_words[i])} in topic {topic}."
        digest = content_hash(title, abstract)
        records.append(
            (
                f"w{start + i:07d}",
                title,
                abstract,
                [f"A. Author{a}" for a in author_ids[i, : author_counts[i]]],
                [f"bench.T{topic % 100}"],
                int((published[i] - PG_EPOCH_S) * 1e6),
                None,
                digest,
                vectors[i].astype("<f4").tobytes(),
                digest,
                model,
            )
        )
    return records


PAPER_COLUMNS = [
    "id",
    "title",
    "abstract",
    "authors",
    "categories",
    "published_at",
    "url",
    "content_hash",
    "embedding",
    "embedded_hash",
    "embedding_model",
]


# --- readers and events -------------------------------------------------------------------


def zipf_rank(n: np.ndarray, exponent: float, u: np.ndarray) -> np.ndarray:
    """A 0-based rank in [0, n) drawn with probability ~ 1/(rank+1)^exponent (exponent < 1),
    by the continuous inverse CDF: vectorised over a different `n` per draw."""
    a = 1.0 - exponent
    top = np.power(n.astype(np.float64) + 1.0, a)
    rank = np.floor(np.power(1.0 + u * (top - 1.0), 1.0 / a)) - 1.0
    out: np.ndarray = np.minimum(rank, n - 1).astype(np.int64)
    return out


@dataclass
class EventPlan:
    by_topic: np.ndarray  # paper indexes grouped by topic, each topic in popularity order
    topic_start: np.ndarray  # where each topic starts in by_topic (topics + 1 entries)
    global_order: np.ndarray  # paper indexes in global popularity order
    homes: np.ndarray  # (readers, 2) home topics
    reader_cdf: np.ndarray  # cumulative activity of readers


def plan_events(scale: Scale, topics: np.ndarray, rng: np.random.Generator) -> EventPlan:
    shuffled = rng.permutation(scale.papers)  # popularity order inside topics: random
    by_topic = shuffled[np.argsort(topics[shuffled], kind="stable")]
    counts = np.bincount(topics, minlength=scale.topics)
    topic_start = np.concatenate([[0], np.cumsum(counts)])
    homes = rng.choice(scale.topics, size=(scale.readers, 2))
    activity = 1.0 / np.arange(1, scale.readers + 1) ** 0.6  # reader r0 is the most active
    return EventPlan(
        by_topic=by_topic,
        topic_start=topic_start,
        global_order=rng.permutation(scale.papers),
        homes=homes,
        reader_cdf=np.cumsum(activity) / activity.sum(),
    )


def event_chunks(
    scale: Scale,
    plan: EventPlan,
    published: np.ndarray,
    seq: np.ndarray,
    now_s: float,
    rng: np.random.Generator,
) -> Iterator[tuple[list[tuple[Any, ...]], int]]:
    """Chunks of event records (and the saves among them); `seq`: each paper's index key."""
    for start in range(0, scale.events, 10 * CHUNK // 2):
        n = min(10 * CHUNK // 2, scale.events - start)
        readers = np.minimum(np.searchsorted(plan.reader_cdf, rng.random(n)), scale.readers - 1)
        # Mostly the reader's first home topic, sometimes the second, else anything popular.
        home = plan.homes[readers, (rng.random(n) < 0.3).astype(int)]
        size = plan.topic_start[home + 1] - plan.topic_start[home]
        local = plan.by_topic[plan.topic_start[home] + zipf_rank(size, 0.8, rng.random(n))]
        everywhere = plan.global_order[zipf_rank(np.full(n, scale.papers), 0.9, rng.random(n))]
        papers = np.where(rng.random(n) < 0.8, local, everywhere)
        saves = rng.random(n) < 0.3
        # Recent days are busier; nothing happens before the paper was published.
        age = np.minimum(rng.exponential(60 * DAY_S, size=n), 365 * DAY_S)
        occurred = np.maximum(now_s - age, published[papers] + 3600)
        occurred = np.minimum(occurred, now_s - 1)
        micros = ((occurred - PG_EPOCH_S) * 1e6).astype(np.int64).tolist()
        kinds = np.where(saves, "save", "click").tolist()
        records = [
            (f"w{start + i:08d}", f"r{r:06d}", f"w{p:07d}", q, k, t)
            for i, (r, p, q, k, t) in enumerate(
                zip(
                    readers.tolist(),
                    papers.tolist(),
                    seq[papers].tolist(),
                    kinds,
                    micros,
                    strict=True,
                )
            )
        ]
        yield records, int(saves.sum())


EVENT_COLUMNS = ["event_id", "user_id", "paper_id", "paper_seq", "type", "occurred_at"]


# --- writing ------------------------------------------------------------------------------


async def _timestamps_as_micros(conn: asyncpg.Connection) -> None:
    """Send timestamptz values as microseconds since 2000-01-01 UTC: no datetime objects
    for millions of rows."""
    await conn.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=lambda micros: (micros,),
        decoder=lambda t: t[0],
        format="tuple",
    )


async def generate(
    url: str,
    scale: Scale,
    *,
    model: str,
    dim: int,
    seed: int = 0,
    progress: bool = True,
) -> World:
    """Migrate the (empty) database at `url` and write the world into it."""
    started = time.perf_counter()
    await migrate(url)
    rng = np.random.default_rng(seed)
    now_s = datetime.now(UTC).timestamp()
    topics = paper_topics(scale, rng)
    published = published_seconds(scale, now_s, rng)
    centres = rng.normal(size=(scale.topics, dim)).astype(np.float32)
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT count(*) FROM papers"):
            raise ValueError(f"the database at {url} already holds papers: use an empty one")
        await _timestamps_as_micros(conn)
        with tqdm(total=scale.papers, desc="papers", unit="", disable=not progress) as bar:
            for start in range(0, scale.papers, CHUNK):
                stop = min(start + CHUNK, scale.papers)
                noise = rng.normal(size=(stop - start, dim)).astype(np.float32)
                vectors = _unit(centres[topics[start:stop]] + 0.8 * noise)
                records = paper_records(
                    start, topics[start:stop], published[start:stop], vectors, model, rng
                )
                await conn.copy_records_to_table("papers", records=records, columns=PAPER_COLUMNS)
                bar.update(stop - start)
        await conn.execute("ANALYZE papers")
        papers_s = time.perf_counter() - started

        # Secondary indexes are rebuilt once after the load: far cheaper than kept up per row.
        indexes = await conn.fetch(
            """SELECT i.indexname, i.indexdef FROM pg_indexes i
               WHERE i.tablename = 'events' AND NOT EXISTS (
                   SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"""
        )
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        plan = plan_events(scale, topics, rng)
        # Each event carries its paper's index key, as the server's insert writes it.
        seq = np.zeros(scale.papers, dtype=np.int64)
        numbered = await conn.fetch("SELECT substr(id, 2)::int AS n, seq FROM papers")
        seq[[r["n"] for r in numbered]] = [r["seq"] for r in numbered]
        saves = 0
        with tqdm(total=scale.events, desc="events", unit="", disable=not progress) as bar:
            for records, chunk_saves in event_chunks(scale, plan, published, seq, now_s, rng):
                await conn.copy_records_to_table("events", records=records, columns=EVENT_COLUMNS)
                saves += chunk_saves
                bar.update(len(records))
        events_s = time.perf_counter() - started - papers_s
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for row in tqdm(indexes, desc="indexes", disable=not progress):
            await conn.execute(row["indexdef"])
        await conn.execute("ANALYZE events")
        readers = await conn.fetchval("SELECT count(DISTINCT user_id) FROM events")
    finally:
        await conn.close()
    total_s = time.perf_counter() - started
    return World(
        papers=scale.papers,
        readers=int(readers),
        events=scale.events,
        saves=saves,
        clicks=scale.events - saves,
        topics=scale.topics,
        dim=dim,
        embedding_model=model,
        seed=seed,
        papers_s=round(papers_s, 1),
        events_s=round(events_s, 1),
        indexes_s=round(total_s - papers_s - events_s, 1),
        total_s=round(total_s, 1),
    )


def reader_ids(scale: Scale, count: int) -> list[str]:
    """The ids of `count` readers, the most active first (as the world numbers them)."""
    return [f"r{r:06d}" for r in range(min(count, scale.readers))]


def main() -> None:
    from service.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="an empty database")
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    name, dim = model_identity(load_settings().resolved_model_path())
    world = asyncio.run(
        generate(args.database_url, SCALES[args.scale], model=name, dim=dim, seed=args.seed)
    )
    print(json.dumps(asdict(world), indent=2))


if __name__ == "__main__":
    main()
