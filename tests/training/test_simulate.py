"""The reader simulator: its click model, and a run against the real app."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np

from ranking.embedder import Embedder
from service.records import catalogue_rows, parse_record, read_records
from tests.support import ROOT, AppClient, wait_indexed
from training.simulate import (
    Behaviour,
    SimPaper,
    SimReader,
    World,
    choose_events,
    click_probability,
    make_readers,
    paired_interval,
    post_events,
    save_probability,
    simulate,
)

CATALOGUE = ROOT / "examples" / "papers.jsonl"


def test_clicks_and_saves_rise_with_match_and_quality_and_fall_with_position() -> None:
    world = World(
        [SimPaper("liked", 0, 0.0), SimPaper("other", 1, 0.0), SimPaper("great", 1, 2.0)],
        topics=2,
    )
    reader = SimReader("r", np.array([0.9, 0.1]))
    liked, other, great = world.papers
    b = Behaviour()

    assert click_probability(reader, liked, 0, b) > click_probability(reader, other, 0, b)
    assert click_probability(reader, great, 0, b) > click_probability(reader, other, 0, b)
    by_position = [click_probability(reader, liked, p, b) for p in range(10)]
    assert all(a > z for a, z in pairwise(by_position))
    assert all(0 < p < 1 for p in by_position)

    assert save_probability(reader, liked, b) > save_probability(reader, other, b)
    assert save_probability(reader, great, b) > save_probability(reader, other, b)


def test_readers_are_seeded_and_prefer_few_topics() -> None:
    world = World([SimPaper(f"p{i}", i % 6, 0.0) for i in range(12)], topics=6)
    readers = make_readers(world, 20, seed=3)
    again = make_readers(world, 20, seed=3)
    assert [r.id for r in readers] == [f"sim-{i}" for i in range(20)]
    assert all(
        np.array_equal(a.preference, b.preference) for a, b in zip(readers, again, strict=True)
    )
    assert all(abs(r.preference.sum() - 1) < 1e-9 for r in readers)
    # Concentrated: on average the top two topics hold most of the mass.
    top_two = np.mean([np.sort(r.preference)[-2:].sum() for r in readers])
    assert top_two > 0.7


def test_the_paired_interval_covers_the_mean_difference_and_narrows_with_more_pairs() -> None:
    rng = np.random.default_rng(0)
    few = 0.5 + rng.standard_normal(50)
    many = 0.5 + rng.standard_normal(2000)
    low, high = paired_interval(few, np.random.default_rng(1))
    assert low < few.mean() < high
    # About 1.96 standard errors either side of the mean.
    se = few.std(ddof=1) / np.sqrt(len(few))
    assert abs((high - low) / (2 * se) - 1.96) < 0.2
    low_many, high_many = paired_interval(many, np.random.default_rng(1))
    assert low_many < 0.5 < high_many and low_many > 0
    assert high_many - low_many < (high - low) / 4
    assert paired_interval(few, np.random.default_rng(1)) == (low, high)


def catalogue_papers(path: Path) -> list[dict[str, str]]:
    """The file's papers as POST /v1/papers wants them, with the ids ingest derives."""
    rows = [parse_record(r) for _, r in read_records(path) if isinstance(r, dict)]
    return [{"id": r.id, "title": r.title, "abstract": r.abstract} for r in rows]


async def test_simulated_readers_click_and_save_through_the_api(
    client: AppClient, embedder: Embedder
) -> None:
    papers = catalogue_papers(CATALOGUE)
    assert len(papers) == 80
    response = await client.post("/v1/papers", json={"papers": papers})
    assert response.status_code == 200, response.text
    await wait_indexed(client)

    world = World.from_papers(catalogue_rows(CATALOGUE), embedder, topics=6, seed=0)
    assert {p.id for p in world.papers} == {p["id"] for p in papers}
    assert {p.topic for p in world.papers} == set(range(6))
    readers = make_readers(world, 10, seed=0)
    limit = 10

    stats = await simulate(client, world, readers, 2, feed_limit=limit, seed=0)
    print(stats.summary())
    assert stats.feeds == 20
    assert stats.impressions == 20 * limit
    assert 0 < stats.clicks < stats.impressions
    assert stats.saves <= stats.clicks
    assert list(stats.by_model.values()) == [[stats.impressions, stats.clicks, stats.saves]]
    stored = await client.fetchval("SELECT count(*) FROM events")
    assert stored == stats.clicks + stats.saves

    # Same seed, same readers: new feeds, so new request_ids and no colliding event ids.
    again = await simulate(client, world, readers, 2, feed_limit=limit, seed=0)
    stored = await client.fetchval("SELECT count(*) FROM events")
    assert stored == stats.clicks + stats.saves + again.clicks + again.saves

    # A retried POST of the same decisions changes nothing.
    reader = readers[0]
    feed = (await client.get(f"/v1/users/{reader.id}/feed", params={"limit": limit})).json()
    by_id = {p.id: p for p in world.papers}
    events = []
    for attempt in range(100):
        rng = np.random.default_rng(attempt)
        events = choose_events(reader, feed, by_id, Behaviour(), rng)
        if events:
            break
    assert events
    first = await post_events(client, events)
    retry = await post_events(client, events)
    assert first["accepted"] == len(events)
    assert retry["accepted"] == 0 and retry["duplicates"] == len(events)
    assert await client.fetchval("SELECT count(*) FROM events") == stored + len(events)
