"""Commands for delivery: `paperfeed digest send [--loop]`."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import click

from paperfeed.wiring import command_settings

if TYPE_CHECKING:
    from ranking.embedder import Embedder
    from service.digest import RunSummary
    from service.settings import Settings


@click.group()
def digest() -> None:
    """The e-mail digest: send the digests that are due."""


@digest.command("send")
@click.option(
    "--loop",
    is_flag=True,
    help="Keep running: send what is due every PAPERFEED_DIGEST_POLL_SECONDS (Ctrl-C stops).",
)
def send(loop: bool) -> None:
    """Send a digest to every subscriber who is due, ranked as their feed is, and record
    the papers as impressions (surface "digest").

    A failed delivery is logged and retried at the next run; the exit code is 1 if any
    failed. Run it from cron, for example every 15 minutes:

        */15 * * * *  cd /srv/paperfeed && .venv/bin/paperfeed digest send

    or as a service with --loop.
    """
    settings = command_settings()
    failed = asyncio.run(_run(settings, loop))
    sys.exit(1 if failed else 0)


async def _run(settings: Settings, loop: bool) -> int:
    from service.worker import load_embedder

    embedder = await asyncio.to_thread(load_embedder, settings)
    while True:
        summary = await _round(settings, embedder)
        click.echo(summary.line())
        for reader, reason in summary.failed.items():
            click.echo(f"  {reader}: {reason}", err=True)
        if not loop:
            return len(summary.failed)
        await asyncio.sleep(settings.digest_poll_seconds)


async def _round(settings: Settings, embedder: Embedder) -> RunSummary:
    """One run with a fresh runtime: the index, statistics and active model as they are now."""
    from service import runtime
    from service.digest import send_due
    from service.mail import Mailer

    rt = await runtime.start(settings, embedder, background=False)
    mailer = Mailer(settings)
    try:
        return await send_due(rt, mailer)
    finally:
        await asyncio.to_thread(mailer.close)
        await runtime.stop(rt)
