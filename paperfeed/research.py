"""Commands for researchers: simulate readers, fit the collaborative models, train and
manage rankers, evaluate offline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperfeed.wiring import command_settings, with_store

if TYPE_CHECKING:
    from service.settings import Settings
    from storage.store import Store
    from training.train import Trainer


@click.command()
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
@click.option(
    "--api-key",
    envvar="PAPERFEED_API_KEY",
    required=True,
    help="A key with feed:read and events:write, or admin (or PAPERFEED_API_KEY).",
)
def simulate(
    url: str,
    catalogue: Path,
    readers: int,
    sessions: int,
    limit: int,
    seed: int,
    topics: int,
    concurrency: int,
    api_key: str,
) -> None:
    """Simulated readers fetch feeds from a running server and click and save.

    Readers have hidden topic preferences and papers a hidden quality, so the logged
    feedback holds a signal a trained ranker can learn. Reader ids are sim-0, sim-1, ...
    """
    import httpx

    from service.records import catalogue_rows
    from service.worker import load_embedder
    from training.simulate import World, make_readers
    from training.simulate import simulate as run_simulation

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the bar
    rows = catalogue_rows(catalogue)
    if not rows:
        raise click.ClickException(f"no valid paper in {catalogue}")
    world = World.from_papers(rows, load_embedder(command_settings()), topics=topics, seed=seed)
    people = make_readers(world, readers, seed)

    async def job() -> str:
        headers = {"Authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as client:
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


@click.command()
@click.option(
    "--activate/--no-activate",
    default=True,
    show_default=True,
    help="Make the new artifact the one every server loads (within MODEL_POLL_SECONDS).",
)
def fit(activate: bool) -> None:
    """Fit the collaborative models (co-save lists, RP3beta, EASE, ALS) on the current
    saves and write them as a versioned artifact under the model directory
    (<model dir>/collab/<version>/), registered and, unless --no-activate, active.

    Servers never fit: they memory-map the active artifact and swap to a new one within
    PAPERFEED_MODEL_POLL_SECONDS. `paperfeed train` runs this first.
    """
    settings = command_settings()
    lines = asyncio.run(with_store(settings, lambda store: fit_job(store, settings, activate)))
    click.echo("\n".join(lines))


async def fit_job(store: Store, settings: Settings, activate: bool = True) -> list[str]:
    """The fit with the server's parameters on PAPERFEED_FIT_THREADS threads (every core
    by default), progress on the terminal; its summary."""
    from dataclasses import replace

    from ranking.collab import DEFAULT_PARAMS
    from ranking.embedder import model_identity
    from training.fit import fit_and_register

    # The factors' search is an HNSW graph above PAPERFEED_ANN_MIN_PAPERS, built here once.
    params = replace(DEFAULT_PARAMS, threads=settings.resolved_fit_threads(), ann=settings.ann())
    # The content index too, of the vectors the server's embedding model made.
    content = model_identity(settings.resolved_model_path())
    result = await fit_and_register(
        store,
        settings.resolved_model_dir(),
        params,
        activate=activate,
        report=click.echo,
        content=content,
    )
    if result is None:
        return ["no saves yet: nothing to fit (servers serve content and popularity)"]
    return result.summary()


@click.command()
@click.option(
    "--promote", is_flag=True, help="Activate the model if it passes the gate (rule above)."
)
@click.option("--force", is_flag=True, help="With --promote: activate even if it does not.")
@click.option(
    "--margin",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="NDCG@10 gain over the active ranker that the interval's lower bound must exceed.",
)
@click.option(
    "--min-groups",
    type=click.IntRange(min=3),
    default=30,
    show_default=True,
    help="Labelled feeds needed, all three windows together.",
)
@click.option(
    "--selection-share",
    type=click.FloatRange(0.05, 0.4),
    default=0.2,
    show_default=True,
    help="Feeds after the training ones that choose the number of trees.",
)
@click.option(
    "--comparison-share",
    type=click.FloatRange(0.05, 0.4),
    default=0.2,
    show_default=True,
    help="The latest feeds, on which the gate compares the models.",
)
@click.option("--since", type=click.DateTime(), help="Only feeds served from this time (UTC).")
@click.option("--until", type=click.DateTime(), help="Only feeds served before this time (UTC).")
@click.option(
    "--dask-scheduler",
    metavar="ADDRESS",
    help="Read and train on this Dask cluster (e.g. tcp://scheduler:8786) instead of in this "
    "process; its workers need paperfeed installed and PAPERFEED_DATABASE_URL reachable.",
)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="With --dask-scheduler: parts of the readers (by hash), one Dask task each.",
)
@click.option(
    "--fit/--no-fit",
    "run_fit",
    default=True,
    show_default=True,
    help="First fit and activate the collaborative models, as `paperfeed fit` does.",
)
def train(
    promote: bool,
    force: bool,
    margin: float,
    min_groups: int,
    selection_share: float,
    comparison_share: float,
    since: datetime | None,
    until: datetime | None,
    dask_scheduler: str | None,
    partitions: int,
    run_fit: bool,
) -> None:
    """Fit the collaborative models (`paperfeed fit`, unless --no-fit), then train a
    LightGBM ranker on logged feeds and their feedback, compare it with the
    active ranker and the heuristic on the latest feeds, and register it.

    Labelled feeds are split in time order: the earliest train the model, the next
    (--selection-share) choose its number of trees, the latest (--comparison-share) compare
    it with the active ranker; neither training nor the choice of trees sees those. With
    --promote the model is activated only if the lower bound of the 95% paired bootstrap
    interval of its per-feed NDCG@10 gain over the active ranker on the comparison feeds is
    above --margin: a tie is never promoted.

    With --dask-scheduler, Dask tasks read the feeds by reader hash and LightGBM trains on
    the workers (DaskLGBMRanker), without positions and with leaves kept large by their
    hessian sum (training/cluster.py); the comparison, gate, artifact and registry entry are
    the same as in one process.
    """
    from ranking.errors import TrainingError
    from training.train import TrainConfig, train_and_register, train_locally

    settings = command_settings()
    config = TrainConfig(
        min_groups=min_groups, selection_share=selection_share, comparison_share=comparison_share
    )
    if dask_scheduler is not None:
        from training.cluster import for_dask

        config = for_dask(config)  # no positions, leaves by hessian (training/cluster.py)

    async def job(store: Store, trainer: Trainer) -> list[str]:
        fitted = [*(await fit_job(store, settings)), ""] if run_fit else []
        result = await train_and_register(
            store,
            settings.resolved_model_dir(),
            config,
            since=since.replace(tzinfo=UTC) if since else None,
            until=until.replace(tzinfo=UTC) if until else None,
            promote=promote,
            force=force,
            margin=margin,
            trainer=trainer,
        )
        return fitted + result.summary()

    try:
        if dask_scheduler is None:
            lines = asyncio.run(with_store(settings, lambda store: job(store, train_locally)))
        else:
            lines = _train_on_dask(settings, dask_scheduler, partitions, job)
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\n".join(lines))


def _train_on_dask(
    settings: Settings,
    address: str,
    partitions: int,
    job: Callable[[Store, Trainer], Awaitable[list[str]]],
) -> list[str]:
    from storage.database import database_url
    from training.cluster import DaskTrainer, connect

    with ExitStack() as stack:
        try:
            client = stack.enter_context(connect(address))
        except (OSError, TimeoutError) as exc:
            message = f"cannot reach the Dask scheduler at {address}: {exc}"
            raise click.ClickException(message) from exc
        # The workers read PostgreSQL themselves, at the URL this process uses.
        url = database_url(settings.database_url, settings.data_dir)
        trainer = DaskTrainer(client, url, partitions)
        return asyncio.run(with_store(settings, lambda store: job(store, trainer)))


@click.group()
def models() -> None:
    """The model registry: list, activate, roll back (servers follow within seconds)."""


@models.command("list")
def list_models() -> None:
    """Registered models, newest first; * marks the active one."""

    async def job(store: Store) -> list[str]:
        active = await store.active_model()
        current = active.version if active else None
        lines = [f"  heuristic{'  (active)' if current is None else ''}"]
        for m in await store.list_models():
            ndcg = m.metrics.get(m.version, {}).get("ndcg@10")
            score = f"held-out NDCG@10 {ndcg:.4f}" if ndcg is not None else ""
            mark = "*" if m.version == current else " "
            lines.append(f"{mark} {m.version}  {m.created_at:%Y-%m-%d %H:%M}  {score}")
        return lines

    click.echo("\n".join(asyncio.run(with_store(command_settings(), job))))


@models.command("activate")
@click.argument("version")
def activate_model(version: str) -> None:
    """Activate VERSION (or "heuristic") after checking its artifact."""
    from ranking.errors import PaperfeedError
    from storage import registry

    try:
        asyncio.run(with_store(command_settings(), lambda s: registry.activate(s, version, "cli")))
    except PaperfeedError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"activated {version}")


@models.command("rollback")
def rollback_model() -> None:
    """Undo the latest activation."""
    from ranking.errors import PaperfeedError
    from storage import registry

    async def job(store: Store) -> str:
        await registry.rollback(store)
        active = await store.active_model()
        return active.version if active and active.version else "heuristic"

    try:
        now = asyncio.run(with_store(command_settings(), job))
    except PaperfeedError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"rolled back; active: {now}")


# --- paperfeed eval -------------------------------------------------------------------


@click.group("eval")
def eval_group() -> None:
    """Offline evaluation against standard baselines."""


@eval_group.command("interactions")
@click.option(
    "--papers", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JSONL."
)
@click.option(
    "--interactions",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="TSV with the header user_id<TAB>item_id.",
)
@click.option(
    "--eval-users",
    type=click.Path(dir_okay=False, path_type=Path),
    help="User ids to evaluate, one a line (default: every user with at least 5 saves).",
)
@click.option("--test-fraction", type=click.FloatRange(0.01, 0.9), default=0.2, show_default=True)
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@click.option("--methods", help="Comma-separated method names (default: all).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval-out"),
    show_default=True,
    help="Folder for report.md, recall.png and results.json.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where catalogue embeddings are cached (default: DATA_DIR/cache).",
)
def eval_interactions(
    papers: Path,
    interactions: Path,
    eval_users: Path | None,
    test_fraction: float,
    seeds: str,
    methods: str | None,
    out: Path,
    cache_dir: Path | None,
) -> None:
    """Split each evaluated user's library into history and test (per seed), let every
    method rank the whole catalogue minus the history, and report Recall@20/50/100,
    NDCG@10/100 and coverage@20 (mean ± standard deviation over seeds)."""
    import os

    import msgspec

    from ranking.embedder import Embedder, model_fingerprint
    from ranking.errors import DataError
    from service.worker import load_embedder
    from training.evaluate import (
        EvalConfig,
        available_methods,
        evaluate,
        table,
        write_outputs,
    )
    from training.loaders import (
        EmbeddingCache,
        load_catalogue,
        load_interactions,
        load_user_ids,
    )
    from training.protocol import EvalContext

    registry = available_methods()
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown:
        known = ", ".join(registry)
        raise click.BadParameter(f"unknown {unknown}; known: {known}", param_hint="--methods")
    try:
        seed_list = tuple(int(s) for s in seeds.split(",") if s.strip())
    except ValueError as exc:
        raise click.BadParameter(f"not a list of integers: {seeds}", param_hint="--seeds") from exc
    settings = command_settings()
    # An offline job may use every core, unlike one of several server processes.
    threads = max(settings.threads, os.cpu_count() or 1)
    settings = msgspec.structs.replace(settings, threads=threads)

    def load() -> Embedder:
        return load_embedder(settings)

    try:
        catalogue = load_catalogue(papers)
        data = load_interactions(interactions, catalogue)
        named = load_user_ids(eval_users) if eval_users else None
        cache = EmbeddingCache(
            model_fingerprint(settings.resolved_model_path()),
            load,
            cache_dir or settings.data_dir / "cache",
        )
        context = EvalContext(catalogue, embeddings_cache=cache, threads=threads)
        config = EvalConfig(seeds=seed_list, test_fraction=test_fraction)
        results = evaluate(data, {n: registry[n] for n in names}, context, config, named)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    paths = write_outputs(results, out)
    click.echo(table(results))
    click.echo(f"\n{results['runtime_s']:.0f} s; written: {', '.join(map(str, paths))}")
