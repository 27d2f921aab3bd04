"""Commands for operators: serve, migrate, ingest, embed, keys."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperfeed.wiring import command_settings, with_store
from service.settings import Settings
from service.wire import SCOPES

if TYPE_CHECKING:
    from storage.store import Store

DEMO_KEY_NAME = "demo"


@click.command()
@click.option("--host", default=None, help="Interface to listen on (PAPERFEED_HOST).")
@click.option("--port", type=int, default=None, help="Port (PAPERFEED_PORT).")
@click.option(
    "--ingest",
    "catalogue",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ingest this catalogue file before serving (idempotent).",
)
@click.option(
    "--demo-key",
    is_flag=True,
    help=f"Create an admin API key named {DEMO_KEY_NAME!r} (revoking earlier ones) and print it.",
)
def serve(host: str | None, port: int | None, catalogue: Path | None, demo_key: bool) -> None:
    """Start the HTTP API (with an embedded PostgreSQL unless PAPERFEED_DATABASE_URL is set)."""
    from service.auth import create_key
    from service.server import serve as run_server

    settings = command_settings(host=host, port=port)
    if catalogue is not None:
        _ingest(settings, catalogue)
    key = key_id = ""
    if demo_key:

        async def job(store: Store) -> tuple[str, str]:
            await store.revoke_keys_named(DEMO_KEY_NAME)
            record, secret = await create_key(store, DEMO_KEY_NAME, ["admin"])
            return record.key_id, secret

        key_id, key = asyncio.run(with_store(settings, job))
    workers = settings.resolved_workers()
    base = f"http://{settings.host}:{settings.port}"
    click.echo(
        f"paperfeed on {base}  (reader page: /, console: /console, API docs: /docs; "
        f"{workers} worker process{'es' if workers > 1 else ''})"
    )
    if key:
        click.echo(
            f"demo API key (admin; replaced at the next start with --demo-key):\n  {key}\n"
            f"try: curl -H 'Authorization: Bearer {key}' "
            f"http://{settings.host}:{settings.port}/v1/trending"
        )
    run_server(settings, demo_key_id=key_id or None)


@click.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from storage.database import database_url
    from storage.database import migrate as run_migrations

    settings = command_settings()
    url = database_url(settings.database_url, settings.data_dir)
    applied = asyncio.run(run_migrations(url))
    click.echo(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


def _ingest(settings: Settings, path: Path) -> int:
    from service.ingest import ingest_file

    summary = asyncio.run(with_store(settings, lambda store: ingest_file(store, path)))
    for line in summary.lines(path):
        click.echo(line)
    return len(summary.rejected)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ingest(file: Path) -> None:
    """Upsert papers from a JSON Lines or CSV FILE.

    Fields: id, title, abstract, authors, categories, published_at, url (in CSV, authors
    and categories are separated by ";"). A record without id gets one from its title.
    A running server embeds the new papers; or run `paperfeed embed`.
    """
    rejected = _ingest(command_settings(), file)
    sys.exit(1 if rejected else 0)


@click.command()
def embed() -> None:
    """Embed every paper waiting for a vector now, with a progress bar.

    Only one process embeds at a time (the embedding claim): if a running server holds
    it, that server is embedding the waiting papers and this command leaves them to it.
    """
    from tqdm import tqdm

    from ranking.ann import EXACT_ONLY
    from ranking.index import VectorIndex
    from service.worker import EmbeddingWorker, load_embedder
    from storage.claim import EmbeddingClaim
    from storage.database import database_url

    settings = command_settings()
    embedder = load_embedder(settings)
    claim = EmbeddingClaim(database_url(settings.database_url, settings.data_dir))

    async def job(store: Store) -> int | None:
        _, pending = await store.catalogue_counts(embedder.name)
        worker = EmbeddingWorker(
            store,
            embedder,
            VectorIndex(embedder.dim, EXACT_ONLY),  # never searched: no graph to build
            claim,
            window=settings.embed_window,
            threads=settings.resolved_embed_threads(),
        )
        try:
            if not await worker.claimed():
                return None
            done = 0
            with tqdm(total=pending, desc="embed", unit=" papers") as bar:
                while n := await worker.embed_window():
                    done += n
                    bar.update(n)
            return done
        finally:
            await worker.release()

    done = asyncio.run(with_store(settings, job))
    if done is None:
        click.echo("another process (a running server) holds the embedding claim and is embedding")
        click.echo("the waiting papers; GET /ready shows how many are left")
    else:
        click.echo(f"embedded {done} papers with {embedder.name}")


# --- paperfeed keys -------------------------------------------------------------------


@click.group()
def keys() -> None:
    """API keys: create, list, revoke. Only a hash of each key is stored."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what uses the key, e.g. 'web-frontend'.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="Repeat for several; admin implies all.",
)
def create_api_key(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key and print it. It is shown only this once."""
    from service.auth import create_key

    record, key = asyncio.run(with_store(command_settings(), lambda s: create_key(s, name, scopes)))
    click.echo(f"created key {record.key_id} ({name}; {', '.join(record.scopes)}):")
    click.echo(key)


@keys.command("list")
def list_api_keys() -> None:
    """Every key: id, name, scopes, when it was created and revoked."""
    records = asyncio.run(with_store(command_settings(), lambda s: s.list_keys()))
    for r in records:
        revoked = f"revoked {r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "active"
        click.echo(
            f"{r.key_id}  {r.name:<20} {','.join(r.scopes):<40} "
            f"created {r.created_at:%Y-%m-%d %H:%M}  {revoked}"
        )
    if not records:
        click.echo("no keys yet: paperfeed keys create --name NAME --scope SCOPE")


@keys.command("revoke")
@click.argument("key_id")
def revoke_api_key(key_id: str) -> None:
    """Revoke KEY_ID at once, and every reader token it minted."""
    record = asyncio.run(with_store(command_settings(), lambda s: s.revoke_key(key_id)))
    if record is None:
        raise click.ClickException(f"no key with id {key_id!r} (see paperfeed keys list)")
    click.echo(f"revoked {record.key_id} ({record.name})")
