"""The embedding claim: of all the paperfeed processes sharing a database, on any number of
hosts, exactly one embeds new papers.

The claim is a session-level PostgreSQL advisory lock held by a connection of its own.
Why a lock and not a lease row with a heartbeat: PostgreSQL releases the lock the moment
the holder's session ends (the process exits or is killed, its connection closes, the
server restarts), so there is no expiry to tune and no clock to trust; a process that wants
the claim simply asks again every few seconds and the first to ask after the holder is gone
gets it. A host that vanishes without closing its connection is noticed by the server's TCP
keepalives (set below for this session: about 25 s). The holder stores its vectors through
that same connection, so a process that has lost the claim without knowing it (its session
ended) cannot store anything: a save can only succeed while its session, and so the lock,
is alive. That is also why the claim needs a direct connection: a pooler in transaction
mode (pgbouncer) would hand the session, and the lock with it, to someone else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
import numpy as np

from storage.rows import PendingPaper, SavedVectors
from storage.store import sql, vector_to_bytes

log = logging.getLogger(__name__)

# Any constant works: it only has to be the same in every paperfeed process (and differ
# from storage.database.MIGRATION_LOCK).
EMBEDDING_LOCK = 7_315_220_002

# Server-side TCP keepalives for the claim's session (ignored on Unix sockets, where a
# dead process closes its end at once): a silent host loses the claim after ~10 + 3 × 5 s.
KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "application_name": "paperfeed embedding claim",
}


class EmbeddingClaim:
    """Take, hold and use the embedding claim on the database at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: asyncpg.Connection | None = None
        self._held = False

    @property
    def held(self) -> bool:
        """Whether this process held the claim when it last looked."""
        return self._held and self._conn is not None and not self._conn.is_closed()

    async def take(self) -> bool:
        """Take the claim if it is free; True if this process holds it (checking that a
        claim already held is still alive). Errors propagate; call `release` after one."""
        if self._conn is None or self._conn.is_closed():
            self._held = False
            self._conn = await asyncpg.connect(
                self.url, server_settings=KEEPALIVES, command_timeout=60
            )
        if self._held:
            await self._conn.fetchval("SELECT 1", timeout=10)
            return True
        self._held = bool(
            await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", EMBEDDING_LOCK)
        )
        if self._held:
            log.info("took the embedding claim: this process embeds new papers")
        return self._held

    async def save_embeddings(
        self, model: str, papers: Sequence[PendingPaper], vectors: np.ndarray
    ) -> SavedVectors:
        """Store vectors for papers whose text is unchanged, through the claim's session
        (so only while holding it). Returns the keys to index and the transaction's id."""
        if not self.held or self._conn is None:
            raise RuntimeError("storing embeddings needs the embedding claim")
        rows = await self._conn.fetch(
            sql("save_embeddings"),
            model,
            [p.id for p in papers],
            [vector_to_bytes(v) for v in vectors],
            [p.content_hash for p in papers],
        )
        xid = rows[0]["xid"] if rows else -1
        return SavedVectors([r["seq"] for r in rows if r["live"]], xid)

    async def release(self) -> None:
        """Give the claim up (closing its session releases the lock)."""
        was_held, self._held = self._held, False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close(timeout=5)
            except Exception:  # a dead connection: closing it is all that is left to do
                conn.terminate()
        if was_held:
            log.info("released the embedding claim")
