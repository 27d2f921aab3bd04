"""Feedback: idempotent batches, per-event rejection, one transaction per batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.store import Store
from tests.support import AppClient, event


async def stored_events(client: AppClient) -> int:
    count: int = await client.fetchval("SELECT count(*) FROM events")
    return count


async def test_a_retried_batch_is_stored_once(catalogue: AppClient) -> None:
    batch = {"events": [event(f"e{i}", "u1", f"rl-{i % 4}", "click") for i in range(10)]}
    first = (await catalogue.post("/v1/events", json=batch)).json()
    assert first == {"accepted": 10, "duplicates": 0, "rejected": []}
    again = (await catalogue.post("/v1/events", json=batch)).json()
    assert again == {"accepted": 0, "duplicates": 10, "rejected": []}
    assert await stored_events(catalogue) == 10


async def test_concurrent_identical_batches_are_stored_once(catalogue: AppClient) -> None:
    batch = {"events": [event(f"c{i}", f"u{i % 3}", f"proteins-{i % 4}") for i in range(200)]}
    responses = await asyncio.gather(*(catalogue.post("/v1/events", json=batch) for _ in range(4)))
    bodies = [r.json() for r in responses]
    assert all(r.status_code == 200 for r in responses), bodies
    assert sum(b["accepted"] for b in bodies) == 200
    assert sum(b["duplicates"] for b in bodies) == 600
    assert await stored_events(catalogue) == 200


async def test_repeated_event_id_within_a_batch_counts_once(catalogue: AppClient) -> None:
    e = event("same", "u1", "rl-0")
    body = (await catalogue.post("/v1/events", json={"events": [e, e]})).json()
    assert body == {"accepted": 1, "duplicates": 1, "rejected": []}


async def test_bad_events_are_rejected_one_by_one(catalogue: AppClient) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    events = [
        event("ok-1", "u1", "rl-0"),
        event("bad-type", "u1", "rl-0", "like"),
        event("bad-paper", "u1", "no-such-paper"),
        event("bad-time", "u1", "rl-0", at=future),
        event("bad id!", "u1", "rl-0"),
        event("naive-time", "u1", "rl-0", at="2026-01-01T00:00:00"),
        event("bad-request", "u1", "rl-0", request_id="not-a-uuid"),
        {**event("extra-field", "u1", "rl-0"), "colour": "red"},
        event("ok-2", "u1", "rl-1", "dismiss"),
    ]
    response = await catalogue.post("/v1/events", json={"events": events})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7]
    assert "unknown event type 'like'" in reasons[1]
    assert "unknown paper_id 'no-such-paper'" in reasons[2]
    assert "in the future" in reasons[3]
    assert "event_id" in reasons[4]
    assert "timezone" in reasons[5]
    assert "request_id" in reasons[6]
    assert "colour" in reasons[7]
    assert await stored_events(catalogue) == 2


async def test_a_batch_with_no_valid_event_is_refused_and_writes_nothing(
    catalogue: AppClient,
) -> None:
    events = [event("x1", "u1", "missing"), event("x2", "u1", "rl-0", "like")]
    response = await catalogue.post("/v1/events", json={"events": events})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert len(response.json()["rejected"]) == 2
    for bad in ({"events": []}, {"events": [event("y", "u", "rl-0")] * 1001}, {"evnts": []}, {}):
        assert (await catalogue.post("/v1/events", json=bad)).status_code == 400
    assert await stored_events(catalogue) == 0


async def test_a_unix_timestamp_is_not_a_time(catalogue: AppClient) -> None:
    # Decoding is strict: `occurred_at` is an RFC 3339 date-time, as the schema says.
    unix = {**event("unix", "u1", "rl-0"), "occurred_at": 1_700_000_000}
    response = await catalogue.post("/v1/events", json={"events": [unix]})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    [rejected] = response.json()["rejected"]
    assert rejected["id"] == "unix"
    assert "Expected `datetime`, got `int` - at `$.occurred_at`" in rejected["reason"]
    assert await stored_events(catalogue) == 0


async def test_stored_events_carry_their_papers_key_for_the_readers_history(
    catalogue: AppClient,
) -> None:
    batch = {"events": [event(f"k{i}", "u1", f"rl-{i}", "save") for i in range(3)]}
    assert (await catalogue.post("/v1/events", json=batch)).json()["accepted"] == 3
    assert not await catalogue.fetchval(
        """SELECT count(*) FROM events e JOIN papers p ON p.id = e.paper_id
           WHERE e.paper_seq IS DISTINCT FROM p.seq"""
    )
    # An event stored before the key was kept (migration 0013) is looked up instead.
    await catalogue.fetchval("UPDATE events SET paper_seq = NULL WHERE event_id = 'k1'")
    store = await Store.connect(catalogue.database_url or "", max_size=1)
    try:
        history = await store.user_history("u1", 10)
    finally:
        await store.close()
    seqs = dict(await _papers_seq(catalogue, [f"rl-{i}" for i in range(3)]))
    assert sorted((h.paper_id, h.seq) for h in history) == sorted(seqs.items())


async def _papers_seq(client: AppClient, ids: list[str]) -> list[tuple[str, int]]:
    rows = await client.fetchval(
        "SELECT array_agg(ARRAY[id, seq::text]) FROM papers WHERE id = ANY($1)", ids
    )
    return [(i, int(s)) for i, s in rows]
