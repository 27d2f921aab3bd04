"""The servers' live counts, refreshed incrementally: after events settle, age out of the
7- and 30-day windows and arrive anew, the running total equals a full recount."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from ranking.stats import PaperCounts, PaperStats
from storage.database import migrate
from storage.rows import CountRead, Impression
from tests.support import side_store

SETTLE = 60.0
# Rows this close to a window's edge leave it between the two reads.
EDGE_S = 4


def total(read: CountRead, settled: PaperCounts) -> dict[int, PaperStats]:
    return settled.plus(read.recent).as_dict()


async def test_an_incremental_refresh_counts_what_a_full_recount_does(database_url: str) -> None:
    await migrate(database_url)
    async with side_store(database_url) as store:
        await store.pool.execute(
            "INSERT INTO papers (id, title, content_hash) "
            "SELECT 'p' || n, 'Paper ' || n, 'h' FROM generate_series(1, 4) n"
        )
        seq = dict(await store.pool.fetch("SELECT id, seq FROM papers"))

        async def events(rows: list[tuple[str, str, str, str]]) -> None:
            # (paper, type, occurred_at ago, received_at ago) as PostgreSQL intervals.
            await store.pool.executemany(
                "INSERT INTO events (event_id, user_id, paper_id, type, occurred_at, received_at) "
                "VALUES ($1, 'r', $2, $3, now() - $4::text::interval, now() - $5::text::interval)",
                [(uuid.uuid4().hex, *row) for row in rows],
            )

        await events(
            [
                ("p1", "click", "1 day", "1 day"),  # settled, stays in both windows
                ("p1", "save", f"7 days - {EDGE_S} seconds", "7 days"),  # leaves 7 days
                ("p2", "click", f"30 days - {EDGE_S} seconds", "30 days"),  # leaves 30 days
                ("p2", "save", "40 days", "1 hour"),  # never in a window
                ("p3", "click", "2 hours", f"{SETTLE - 1} seconds"),  # settles in between
                ("p3", "dismiss", "1 hour", "1 hour"),  # not counted
            ]
        )
        # Impressions: one served long ago (it leaves the 30-day window), two just now.
        for n, paper in enumerate(["p4", "p4", "p1"]):
            request = uuid.uuid4()
            impression = Impression(0, paper, 1.0, [0.0])
            await store.log_feed(request, "r", datetime.now(UTC), "m", "s", ["f"], 1, [impression])
            if n == 0:
                await store.pool.execute(
                    "UPDATE impressions SET served_at = now() - $1::text::interval WHERE request_id = $2",
                    f"30 days - {EDGE_S} seconds",
                    request,
                )

        first = await store.count_papers(SETTLE)
        assert total(first, first.settled) == {
            seq["p1"]: PaperStats(
                clicks_7d=1, saves_7d=1, clicks_30d=1, saves_30d=1, impressions_30d=1
            ),
            seq["p2"]: PaperStats(clicks_30d=1),
            seq["p3"]: PaperStats(clicks_7d=1, clicks_30d=1),
            seq["p4"]: PaperStats(impressions_30d=2),
        }
        assert seq["p3"] not in first.settled.as_dict()  # received under a minute ago

        await asyncio.sleep(EDGE_S + 1)
        await events(
            [("p2", "save", "3 days", "0 seconds"), ("p4", "click", "1 hour", "10 minutes")]
        )
        second = await store.count_papers_since(first, SETTLE)
        settled = first.settled.plus(second.settled)
        recount = await store.count_papers(SETTLE)

    expected = {
        seq["p1"]: PaperStats(clicks_7d=1, clicks_30d=1, saves_30d=1, impressions_30d=1),
        seq["p2"]: PaperStats(saves_7d=1, saves_30d=1),
        seq["p3"]: PaperStats(clicks_7d=1, clicks_30d=1),
        seq["p4"]: PaperStats(clicks_7d=1, clicks_30d=1, impressions_30d=1),
    }
    assert total(recount, recount.settled) == expected
    # The click on p4 was received ten minutes ago, before the first read's mark, but
    # committed after it: a late commit, which only a full recount counts.
    assert total(second, settled) == expected | {seq["p4"]: PaperStats(impressions_30d=1)}
    assert seq["p3"] in settled.as_dict()
    # What a server holds: the sum alone, brought up to date without the settled counts.
    held = first.settled.plus(first.recent).refreshed(first.recent, second.settled, second.recent)
    assert held.as_dict() == total(second, settled)
