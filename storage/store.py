"""PostgreSQL access through one pool: the catalogue, events, feeds, models and keys here;
the rest in the `storage` modules beside it, one per area (delivery, interests, pages,
summary), which share this pool. Queries live in `storage/sql/*.sql`.

Methods take and return the typed rows of `storage.rows` (and numpy arrays); wire types
stay in the route handlers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

import asyncpg
import msgspec
import numpy as np

from ranking.catalogue import PaperMeta
from ranking.stats import CLICK_WEIGHT, COUNTS, EMPTY_COUNTS, SAVE_WEIGHT, PaperCounts
from storage.rows import (
    Activation,
    CountRead,
    DeletedRows,
    EventRow,
    Feedback,
    FeedRecord,
    HistoryRow,
    Impression,
    IndexChanges,
    KeptList,
    KeyRecord,
    LabelledImpression,
    ModelRecord,
    PaperRow,
    PendingPaper,
    PopularPaper,
    StoredEvent,
    StoredImpression,
    StoredPaper,
    UpsertOutcome,
)


@cache
def sql(name: str) -> str:
    """The text of `storage/sql/<name>.sql`."""
    return (files("storage") / "sql" / f"{name}.sql").read_text()


def _counts(row: asyncpg.Record) -> PaperCounts:
    """A row of paper_counts.sql (or _since): each column a bytea of big-endian integers."""
    return PaperCounts.of_columns(
        np.frombuffer(row["keys"], dtype=">i8"),
        [np.frombuffer(row[c], dtype=">i4") for c in COUNTS],
    )


def _key(row: asyncpg.Record) -> KeyRecord:
    return KeyRecord(
        row["key_id"],
        row["name"],
        tuple(row["scopes"]),
        row["created_at"],
        row["revoked_at"],
        row.get("secret_sha256", ""),
    )


def impression_args(
    request_id: uuid.UUID, user_id: str, impressions: Sequence[Impression]
) -> tuple[Any, ...]:
    """The arguments of `insert_impressions.sql` (the first ones of `log_feed.sql`) for a
    feed's shown papers: one array per column, the features flattened (every row has as
    many)."""
    width = len(impressions[0].features) if impressions else 0
    if any(len(i.features) != width for i in impressions):
        raise ValueError("every impression of a feed needs as many features")
    return (
        request_id,
        user_id,
        [i.position for i in impressions],
        [i.paper_id for i in impressions],
        [i.score for i in impressions],
        [x for i in impressions for x in i.features],
        [i.propensity for i in impressions],
        [i.explored for i in impressions],
        [i.page for i in impressions],
        width,
    )


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def vectors_from_bytes(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim).astype(np.float32)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a pooled connection needs between uses beyond what asyncpg always does (roll
    back a transaction left open): nothing. The default resets session state (advisory
    locks, cursors, LISTEN, settings) with one more round trip per use, and no query here
    leaves any: the embedding claim and migrations hold their locks on connections of
    their own, cursors live in transactions, and the staging table is emptied at commit."""


class Store:
    """Async access to the paperfeed database through one connection pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, max_size: int = 10) -> Store:
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=max_size, command_timeout=60, reset=_keep_session
        )
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1", timeout=2)

    # --- papers ---------------------------------------------------------------------------

    async def upsert_papers(self, rows: Sequence[PaperRow]) -> UpsertOutcome:
        """Insert new papers and update changed ones in one transaction; withdrawn papers
        are left alone and reported."""
        ids = [r.id for r in rows]
        payload = msgspec.json.encode(
            [
                {
                    "id": r.id,
                    "title": r.title,
                    "abstract": r.abstract,
                    "authors": r.authors,
                    "categories": r.categories,
                    "published_at": r.published_at,
                    "url": r.url,
                    "content_hash": r.content_hash,
                }
                for r in rows
            ]
        ).decode()
        async with self.pool.acquire() as conn, conn.transaction():
            withdrawn = {r["id"] for r in await conn.fetch(sql("withdrawn_among"), ids)}
            changed = await conn.fetch(sql("upsert_papers"), payload)
        inserted = {r["id"] for r in changed if r["inserted"]}
        updated = {r["id"] for r in changed if not r["inserted"]}
        return UpsertOutcome(
            added=[i for i in ids if i in inserted],
            updated=[i for i in ids if i in updated],
            unchanged=[
                i for i in ids if i not in inserted and i not in updated and i not in withdrawn
            ],
            withdrawn=[i for i in ids if i in withdrawn],
        )

    async def get_paper(self, paper_id: str) -> StoredPaper | None:
        row = await self.pool.fetchrow(sql("get_paper"), paper_id)
        return None if row is None else StoredPaper(**dict(row))

    async def withdraw_paper(self, paper_id: str) -> int | None:
        """Mark a paper withdrawn; returns its index key, or None if it is unknown."""
        seq: int | None = await self.pool.fetchval(sql("withdraw_paper"), paper_id)
        return seq

    async def pending_embeddings(self, model: str, limit: int) -> list[PendingPaper]:
        rows = await self.pool.fetch(sql("pending_embeddings"), model, limit)
        return [PendingPaper(**dict(r)) for r in rows]

    async def stored_embeddings(
        self, model: str, dim: int, chunk: int = 10_000
    ) -> AsyncIterator[tuple[np.ndarray, np.ndarray, list[PaperMeta]]]:
        """Yield (keys, vectors, facts) chunks of every live paper's current vector, in key
        order."""
        async with self.pool.acquire() as conn, conn.transaction():
            cursor = await conn.cursor(sql("stored_embeddings"), model)
            while rows := await cursor.fetch(chunk):
                keys = np.array([r["seq"] for r in rows], dtype=np.int64)
                facts = [PaperMeta(r[0], *r[2:]) for r in rows]
                yield keys, vectors_from_bytes([r["embedding"] for r in rows], dim), facts

    async def index_horizon(self) -> int:
        """Where a process that reads every stored vector now starts following changes."""
        horizon: int = await self.pool.fetchval(sql("index_horizon"))
        return horizon

    async def index_changes(self, model: str, dim: int, since: int) -> IndexChanges:
        """Vectors stored and papers withdrawn by transactions from `since` on, and the
        horizon to ask from next time (see storage/migrations/0006_index_changes.sql)."""
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            horizon = await conn.fetchval(sql("index_horizon"))
            rows = await conn.fetch(sql("index_changes"), model, since)
        live = [r for r in rows if r["embedding"] is not None]
        return IndexChanges(
            horizon=horizon,
            keys=np.array([r["seq"] for r in live], dtype=np.int64),
            vectors=vectors_from_bytes([r["embedding"] for r in live], dim),
            xids=np.array([r["xid"] for r in live], dtype=np.int64),
            dropped=[r["seq"] for r in rows if r["embedding"] is None],
        )

    async def catalogue_counts(self, model: str) -> tuple[int, int]:
        """(live papers, papers waiting for an embedding)."""
        row = await self.pool.fetchrow(sql("catalogue_counts"), model, timeout=2)
        return int(row["live"]), int(row["pending"])

    async def papers_by_seq(
        self, seqs: Sequence[int], *, live_only: bool = False
    ) -> dict[int, PaperMeta]:
        """Facts about papers by key; with `live_only`, withdrawn papers are left out."""
        rows = await self.pool.fetch(sql("papers_by_seq"), list(seqs), live_only)
        # The query's columns are PaperMeta's fields in order (hundreds of rows a feed).
        return {r[0]: PaperMeta(*r) for r in rows}

    async def fresh(self, limit: int, as_of: datetime | None = None) -> list[int]:
        return [r["seq"] for r in await self.pool.fetch(sql("fresh"), limit, as_of)]

    async def popular(self, days: int, limit: int) -> list[PopularPaper]:
        """The papers with the most feedback in the last `days`, scored as
        `ranking.stats.popularity` scores them, best first."""
        rows = await self.pool.fetch(sql("popular"), days, limit, SAVE_WEIGHT, CLICK_WEIGHT)
        return [PopularPaper(**dict(r)) for r in rows]

    async def popular_between(
        self, since: datetime, until: datetime, limit: int, published: bool = False
    ) -> list[PopularPaper]:
        """The papers with the most feedback in [since, until) (scored as `popular`), or
        with `published` the papers published then, most feedback first; with counts."""
        query = sql("published_between" if published else "trending_between")
        rows = await self.pool.fetch(query, since, limit, SAVE_WEIGHT, CLICK_WEIGHT, until)
        return [PopularPaper(**dict(r)) for r in rows]

    # --- events ---------------------------------------------------------------------------

    async def record_events(self, events: Sequence[EventRow]) -> tuple[int, set[int]]:
        """Store events in one transaction, skipping event_ids already stored.

        Returns (number newly stored, indexes of events naming unknown papers). Events
        with unknown papers are not stored. The batch is copied into a staging table
        (COPY: no per-row statement) and inserted from it by one statement.
        """
        records = [
            (n, e.event_id, e.user_id, e.paper_id, e.type, e.occurred_at, e.request_id)
            for n, e in enumerate(events)
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(sql("stage_events"))
            await conn.copy_records_to_table("events_staging", records=records)
            row = await conn.fetchrow(sql("insert_staged_events"))
        return int(row["stored"]), set(row["unknown"])

    async def user_history(
        self, user_id: str, limit: int, as_of: datetime | None = None
    ) -> list[HistoryRow]:
        rows = await self.pool.fetch(sql("user_history"), user_id, limit, as_of)
        return [HistoryRow(**dict(r)) for r in rows]

    async def overshown(
        self, user_id: str, days: int, max_impressions: int, as_of: datetime | None = None
    ) -> set[int]:
        rows = await self.pool.fetch(sql("overshown"), user_id, days, max_impressions, as_of)
        return {r["seq"] for r in rows}

    # --- impressions ----------------------------------------------------------------------

    async def log_feed(
        self,
        request_id: uuid.UUID,
        user_id: str,
        served_at: datetime,
        model_version: str,
        stats_version: str,
        feature_names: Sequence[str],
        candidates: int,
        impressions: Sequence[Impression],
        surface: str = "api",
        kept: KeptList | None = None,
    ) -> None:
        """Record a served feed (shown on `surface`: api, digest, atom) and what the ranker
        saw for each shown paper, and keep the rest of its ranked list (`kept`) for its
        later pages. One statement (storage/sql/log_feed.sql): one round trip instead of
        five (BEGIN, three inserts, COMMIT)."""
        await self.pool.execute(
            sql("log_feed"),
            *impression_args(request_id, user_id, impressions),
            served_at,
            model_version,
            stats_version,
            list(feature_names),
            candidates,
            surface,
            kept.page_size if kept is not None else None,
            msgspec.msgpack.encode(kept.items) if kept is not None else None,
        )

    async def feed_record(self, request_id: uuid.UUID) -> FeedRecord | None:
        """A served feed and the feature vectors logged for each paper in it."""
        row = await self.pool.fetchrow(sql("feed_record"), request_id)
        if row is None:
            return None
        return FeedRecord(
            row["user_id"],
            row["served_at"],
            row["model_version"],
            row["stats_version"],
            msgspec.json.decode(row["features"]),
            row["surface"],
        )

    async def training_impressions(
        self,
        since: datetime,
        until: datetime,
        attribution_hours: float,
        gains: tuple[int, int, int],
        part: tuple[int, int] = (0, 1),
    ) -> list[LabelledImpression]:
        """Impressions served in [since, until) with their label (gains: save, click,
        dismiss); with `part` (i, n), only those of readers in hash part i of n."""
        rows = await self.pool.fetch(
            sql("training_impressions"),
            since,
            until,
            attribution_hours,
            *gains,
            part[1],
            part[0],
            timeout=600,
        )
        return [LabelledImpression(**dict(r)) for r in rows]

    # --- model registry -------------------------------------------------------------------

    async def register_model(
        self,
        version: str,
        path: str,
        feature_names: Sequence[str],
        metrics: object,
        manifest: object,
    ) -> None:
        await self.pool.execute(
            sql("register_model"),
            version,
            path,
            list(feature_names),
            msgspec.json.encode(metrics).decode(),
            msgspec.json.encode(manifest).decode(),
        )

    async def list_models(self) -> list[ModelRecord]:
        rows = await self.pool.fetch(sql("list_models"))
        return [
            ModelRecord(
                r["version"],
                r["path"],
                r["created_at"],
                msgspec.json.decode(r["metrics"]),
                msgspec.json.decode(r["data_window"]),
            )
            for r in rows
        ]

    async def active_model(self) -> Activation | None:
        row = await self.pool.fetchrow(sql("active_model"), timeout=5)
        return None if row is None else Activation(row["id"], row["version"], row["path"])

    async def activate_model(self, version: str | None, reason: str) -> None:
        """Make `version` (None: the heuristic) the active ranker for every server."""
        await self.pool.execute(sql("activate_model"), version, reason)

    async def rollback_model(self) -> bool:
        """Undo the newest activation; False if there was none to undo."""
        return await self.pool.fetchval(sql("rollback_model")) is not None

    # --- collaborative-model artifacts (`paperfeed fit`) -----------------------------------

    async def register_collab(
        self, version: str, path: str, manifest: object, activate: bool = True
    ) -> None:
        """Register an artifact and, with `activate`, make it the one servers load."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                sql("register_collab"), version, path, msgspec.json.encode(manifest).decode()
            )
            if activate:
                await conn.execute(sql("activate_collab"), version)

    async def activate_collab(self, version: str) -> None:
        await self.pool.execute(sql("activate_collab"), version)

    async def active_collab(self) -> Activation | None:
        """The active collaborative artifact (None: none is)."""
        row = await self.pool.fetchrow(sql("active_collab"), timeout=5)
        return None if row is None else Activation(row["id"], row["version"], row["path"])

    async def count_papers(self, settle_seconds: float) -> CountRead:
        """Clicks, saves and impressions per paper over the statistics' windows, in full
        (storage/sql/paper_counts.sql)."""
        return await self._count(settle_seconds, "paper_counts")

    async def count_papers_since(self, last: CountRead, settle_seconds: float) -> CountRead:
        """What changed in the settled counts since `last` was read, and the rest in full
        (storage/sql/paper_counts_since.sql)."""
        return await self._count(settle_seconds, "paper_counts_since", last.mark, last.now)

    async def _count(self, settle_seconds: float, query: str, *since: datetime) -> CountRead:
        # One snapshot, and one now() for both statements (a transaction's start time).
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            # Planned for these times: a generic plan assumes a third of all events fall
            # in any range and hashes the whole papers table (1 s instead of 45 ms at 1M).
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            now, mark = await conn.fetchrow(
                "SELECT now(), now() - make_interval(secs => $1)", settle_seconds
            )
            rows = {
                r["settled"]: _counts(r)
                for r in await conn.fetch(sql(query), settle_seconds, *since, timeout=300)
            }
        return CountRead(now, mark, rows.get(True, EMPTY_COUNTS), rows.get(False, EMPTY_COUNTS))

    # --- API keys, reader-token secret, readers' data ------------------------------------

    async def create_key(
        self, key_id: str, name: str, secret_sha256: str, scopes: Sequence[str]
    ) -> KeyRecord:
        return _key(
            await self.pool.fetchrow(sql("create_key"), key_id, name, secret_sha256, list(scopes))
        )

    async def get_key(self, key_id: str) -> KeyRecord | None:
        row = await self.pool.fetchrow(sql("get_key"), key_id, timeout=5)
        return None if row is None else _key(row)

    async def list_keys(self) -> list[KeyRecord]:
        return [_key(r) for r in await self.pool.fetch(sql("list_keys"))]

    async def revoke_key(self, key_id: str) -> KeyRecord | None:
        row = await self.pool.fetchrow(sql("revoke_key"), key_id)
        return None if row is None else _key(row)

    async def revoke_keys_named(self, name: str) -> None:
        await self.pool.execute(sql("revoke_keys_named"), name)

    async def server_secret(self, name: str, candidate: bytes) -> bytes:
        """The secret called `name`: `candidate` if none was stored yet, else the stored one."""
        value: bytes | None = await self.pool.fetchval(sql("server_secret"), name, candidate)
        if value is None:
            # Another process stored it first, committing after this statement's snapshot:
            # the insert waited for that row and skipped, but the read could not see it.
            # A new statement can (seen when two servers start at once on a new database).
            value = await self.pool.fetchval(sql("server_secret"), name, candidate)
        assert value is not None
        return value

    async def delete_user(self, user_id: str) -> DeletedRows:
        """Remove everything stored about one reader, in one transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            impressions = await conn.execute(sql("delete_user_impressions"), user_id)
            feeds = await conn.execute(sql("delete_user_feeds"), user_id)
            events = await conn.execute(sql("delete_user_events"), user_id)
            interests = await conn.execute(sql("delete_user_interests"), user_id)
            # Their e-mail address and feed tokens go too (not counted: one row or a few).
            await conn.execute(sql("delete_user_subscription"), user_id)
            await conn.execute(sql("delete_user_feed_tokens"), user_id)
        # asyncpg returns the command tag, e.g. "DELETE 12".
        tags = (events, feeds, impressions, interests)
        return DeletedRows(*(int(tag.split()[-1]) for tag in tags))

    async def export_user(self, user_id: str) -> tuple[list[StoredEvent], list[StoredImpression]]:
        """(events, impressions) of one reader, oldest first, from one snapshot."""
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            events = await conn.fetch(sql("export_user_events"), user_id)
            impressions = await conn.fetch(sql("export_user_impressions"), user_id)
        return (
            [StoredEvent(**dict(r)) for r in events],
            [StoredImpression(**dict(r)) for r in impressions],
        )

    # --- catalogue statistics -------------------------------------------------------------

    async def feedback(self) -> Feedback:
        """Every current save (storage/sql/saves.sql)."""
        saves = await self.pool.fetch(sql("saves"), timeout=300)
        readers = np.array([r["reader"] for r in saves], dtype=np.int64)
        saved = np.array([r["paper"] for r in saves], dtype=np.int64)
        return Feedback(readers, saved)

    # --- the demo page -------------------------------------------------------------------

    async def recent_readers(self, limit: int) -> list[str]:
        """Readers with the most recent events, newest first."""
        return [r["user_id"] for r in await self.pool.fetch(sql("demo_readers"), limit)]
