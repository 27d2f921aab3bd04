"""Live numbers for the researcher console, from the feeds, impressions and events tables:
what was served, by which model version, and what readers did with it."""

from __future__ import annotations

from datetime import datetime

from storage.rows import ServedRates, TimelineCount
from storage.store import Store, sql


async def served_rates(store: Store, since: datetime) -> list[ServedRates]:
    """Feeds served since `since` with the clicks, saves and dismissals of the papers they
    showed, one row per model version and one per position (`sql/metrics_rates.sql`)."""
    rows = await store.pool.fetch(sql("metrics_rates"), since, timeout=30)
    return [
        ServedRates(
            r["model_version"] if r["by_model"] else None,
            None if r["by_model"] else r["position"],
            r["feeds"],
            r["impressions"],
            r["clicked"],
            r["saved"],
            r["dismissed"],
        )
        for r in rows
        if r["by_model"] or r["position"] is not None
    ]


async def timeline(store: Store, since: datetime, bucket_seconds: int) -> list[TimelineCount]:
    """Feeds served per model version and events received per type, in buckets of
    `bucket_seconds` from `since` (`sql/metrics_timeline.sql`)."""
    rows = await store.pool.fetch(sql("metrics_timeline"), since, float(bucket_seconds), timeout=30)
    return [TimelineCount(r["what"], r["kind"], r["bucket"], r["n"]) for r in rows]
