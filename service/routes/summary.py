"""Live numbers for the researcher console (admin): feeds served, events received, and
click-through and save rates per model version and per position."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

from litestar import get
from litestar.params import Parameter

from service import wire
from service.auth import requires
from service.routes.problems import problems
from service.runtime import RuntimeDep
from storage import summary as stored
from storage.rows import ServedRates

# About this many time buckets, whatever the window: one a minute over the last hour.
BUCKETS = 60


def _rates(row: ServedRates) -> tuple[int, int, int, int, int, float, float]:
    """The fields of `wire.Rates`, in order."""
    shown = max(row.impressions, 1)
    click_rate, save_rate = round(row.clicked / shown, 4), round(row.saved / shown, 4)
    return row.feeds, row.impressions, row.clicked, row.saved, row.dismissed, click_rate, save_rate


@get("/v1/admin/metrics/summary", tags=["admin"], responses=problems(), guards=[requires("admin")])
async def metrics_summary(
    runtime: RuntimeDep,
    hours: Annotated[int, Parameter(ge=1, le=168, description="Window: the last N hours")] = 6,
) -> wire.MetricsSummary:
    """Feeds served and events received in the last `hours`, per time bucket (about 60 of
    them), with click-through and save rates (per paper shown; an event counts for a feed
    when it carries the feed's `request_id`) per model version and per position."""
    until = datetime.now(UTC)
    since = until - timedelta(hours=hours)
    bucket_seconds = hours * 3600 // BUCKETS
    rates, counts = await asyncio.gather(
        stored.served_rates(runtime.store, since),
        stored.timeline(runtime.store, since, bucket_seconds),
    )
    buckets: dict[datetime, wire.Bucket] = {}
    events: dict[str, int] = defaultdict(int)
    for c in counts:
        bucket = buckets.setdefault(c.bucket, wire.Bucket(c.bucket, {}, {}))
        (bucket.feeds if c.what == "feed" else bucket.events)[c.kind] = c.n
        if c.what == "event":
            events[c.kind] += c.n
    by_model = [
        wire.ModelRates(*_rates(r), model_version=r.model_version)
        for r in rates
        if r.model_version is not None
    ]
    by_position = [
        wire.PositionRates(*_rates(r), position=r.position) for r in rates if r.position is not None
    ]
    return wire.MetricsSummary(
        hours=hours,
        since=since,
        until=until,
        bucket_seconds=bucket_seconds,
        feeds=sum(r.feeds for r in by_model),
        impressions=sum(r.impressions for r in by_model),
        events=dict(events),
        events_per_minute=round(sum(events.values()) / (hours * 60), 3),
        by_model=by_model,
        by_position=by_position,
        timeline=[buckets[k] for k in sorted(buckets)],
    )


HANDLERS = [metrics_summary]
