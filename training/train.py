"""`paperfeed train`: fit a LightGBM lambdarank model on logged feeds, compare it with the
active ranker and the heuristic on a later window, write an artifact and register it.

Feeds are split by time into three windows: the earliest train the model, the next choose
its number of trees (early stopping), the latest compare it with the active ranker. The
promotion gate looks only at the latest, which neither the model's training nor its
selection saw, so a model cannot win on the data it was picked on.
"""

from __future__ import annotations

import platform
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
from tqdm import tqdm

from ranking.artifacts import read_artifact, sha256, write_artifact
from ranking.errors import ArtifactError, TrainingError
from ranking.features import NAMES, names_hash
from ranking.model import HeuristicRanker, LightGBMRanker, Ranker
from storage import registry
from storage.rows import Activation
from storage.store import Store
from training.dataset import (
    DEFAULT_GAINS,
    Dataset,
    Gains,
    LoadReport,
    bin_feeds,
    bin_share,
    load_dataset,
    window_bounds,
)
from training.gate import RULE, Verdict, compare_rankers, judge
from training.lambdarank import LambdaRankParams
from training.position import Examination
from training.position import estimate as estimate_examination
from training.report import artifact_report


@dataclass(frozen=True)
class TrainConfig:
    min_groups: int = 30  # labelled feeds needed, all three windows together
    # Shares of the feeds, in time order after the training window: the selection window
    # (early stopping, number of trees), then the latest, the comparison window (the gate).
    selection_share: float = 0.2
    comparison_share: float = 0.2
    rounds: int = 400
    early_stopping: int = 40
    # Selection NDCG on a few hundred feeds is noisy: its maximum can fall on the first tree
    # or two, a model that barely ranks. The best iteration is chosen from this many trees on.
    min_trees: int = 20
    learning_rate: float = 0.05
    # Small trees with many rows per leaf: feedback logs are noisy and drift with time.
    num_leaves: int = 7
    min_data_in_leaf: int = 100
    min_hessian_in_leaf: float = 1e-3  # see LambdaRankParams
    # Share of features and of rows each tree samples (1: no sampling, for comparing
    # engines: a Dask worker samples its own partition's rows, not the same ones).
    sample_fraction: float = 0.9
    seed: int = 0
    # Learn the position bias jointly (LightGBM's `position`, unbiased LambdaMART). Dask
    # training cannot: LightGBM's Dask interface takes no positions (training/cluster.py).
    position_bias: bool = True
    attribution_hours: float = 24.0
    gains: Gains = DEFAULT_GAINS
    # The gate: a paired bootstrap over comparison feeds (seeded with `seed`).
    confidence: float = 0.95
    resamples: int = 2000

    def lightgbm_params(self) -> dict[str, Any]:
        ranker = LambdaRankParams(
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_data_in_leaf=self.min_data_in_leaf,
            min_hessian_in_leaf=self.min_hessian_in_leaf,
            sample_fraction=self.sample_fraction,
        )
        # The first metric, NDCG@10, decides early stopping.
        return ranker.lightgbm(self.seed, threads=2, metric="ndcg", eval_at=[10, 5])


def fit(
    train: Dataset, selection: Dataset, config: TrainConfig, progress: bool = True
) -> lightgbm.Booster:
    """LightGBM lambdarank with early stopping on the selection window's NDCG@10; the
    model keeps the trees up to the best selection NDCG@10 from `min_trees` on."""
    # `position` lets LightGBM learn the position bias jointly with the ranker (unbiased
    # LambdaMART), so the model is not rewarded for copying the order the logging ranker chose.
    params = config.lightgbm_params()
    train_set = lightgbm.Dataset(
        train.features,
        train.labels,
        group=train.group_sizes,
        position=train.positions if config.position_bias else None,
        feature_name=list(NAMES),
        reference=bins_reference(bin_feeds(train, bin_share(train.n_rows)).features, params),
    )
    valid_set = lightgbm.Dataset(
        selection.features, selection.labels, group=selection.group_sizes, reference=train_set
    )
    with tqdm(total=config.rounds, desc="train", unit=" trees", disable=not progress) as bar:

        def tick(env: lightgbm.callback.CallbackEnv) -> None:
            bar.update(1)

        curve: dict[str, Any] = {}
        booster = lightgbm.train(
            params,
            train_set,
            num_boost_round=config.rounds,
            valid_sets=[valid_set],
            valid_names=["selection"],
            # Otherwise LightGBM cuts the model to its own best iteration, which may come
            # before `min_trees`: `choose_trees` decides how many trees the artifact keeps.
            keep_training_booster=True,
            callbacks=[
                lightgbm.early_stopping(
                    config.early_stopping, first_metric_only=True, verbose=False
                ),
                tick,
                lightgbm.record_evaluation(curve),
            ],
        )
    booster.best_iteration = choose_trees(curve["selection"]["ndcg@10"], config)
    return booster


def bins_reference(features: np.ndarray, params: dict[str, Any]) -> lightgbm.Dataset:
    """A LightGBM dataset of features alone, whose bins a training set takes as its own
    (`reference`). Every engine bins on the same rows, chosen by `bin_feeds`; on up to
    `BIN_ROWS` training rows those are all of them, as LightGBM would bin by itself."""
    return lightgbm.Dataset(features, feature_name=list(NAMES), params=params)


def choose_trees(curve: Sequence[float], config: TrainConfig) -> int:
    """The number of trees to keep, from the selection NDCG@10 after each tree: the curve
    is cut where early stopping stops (no gain in `early_stopping` trees), then the best
    from `min_trees` on. A curve over all `rounds` trees (Dask training, which cannot stop
    early) gives the tree count that early stopping would have kept."""
    scores = np.asarray(curve, dtype=np.float64)
    best = 0
    for i in range(len(scores)):
        if scores[i] > scores[best]:
            best = i
        elif i - best >= config.early_stopping:
            scores = scores[: i + 1]
            break
    first = min(config.min_trees, len(scores))
    return first + int(np.argmax(scores[first - 1 :]))


@dataclass(frozen=True)
class Fitted:
    """What a trainer hands to the comparison and the artifact: the model, the windows it
    was selected and compared on (in this process), and how it was trained."""

    booster: lightgbm.Booster
    selection: Dataset
    comparison: Dataset
    examination: Examination  # from all windows' exploration slots
    loaded: LoadReport
    train_groups: int
    train_rows: int
    first_served: datetime
    engine: dict[str, Any]  # recorded in the manifest


# (store, since, until, config, progress) -> Fitted: one process, or a Dask cluster
Trainer = Callable[[Store, datetime, datetime, TrainConfig, bool], Awaitable[Fitted]]


async def train_locally(
    store: Store, since: datetime, until: datetime, config: TrainConfig, progress: bool
) -> Fitted:
    """Load the labelled feeds served in [since, until) into this process and fit there."""
    dataset, loaded = await load_dataset(
        store, since, until, config.attribution_hours, config.gains
    )
    train, selection, comparison = windows(dataset, loaded, config)
    booster = fit(train, selection, config, progress)
    # Examination is a property of the readers, not of either ranker: all feeds inform it.
    examination = estimate_examination(dataset)
    engine = {"engine": "lightgbm", "processes": 1, "position_aware": config.position_bias}
    return Fitted(
        booster,
        selection,
        comparison,
        examination,
        loaded,
        train.n_groups,
        train.n_rows,
        dataset.served_at[0],
        engine,
    )


@dataclass
class TrainResult:
    version: str
    path: Path
    metrics: dict[str, dict[str, float]]
    manifest: dict[str, Any]
    verdict: Verdict
    promoted: bool = False
    decision: str = "not promoted (run with --promote)"
    notes: list[str] = field(default_factory=list)
    # What the gate compared on (the comparison feeds neither model learned from) and the
    # examination model that debiased it: for a closer look, e.g. in a notebook.
    compared: Dataset | None = None
    examination: Examination | None = None

    def summary(self) -> list[str]:
        """One screen for the terminal."""
        m, d, v = self.manifest, self.manifest["data"], self.verdict
        selected = m["selection_metrics"][self.version]["ndcg@10"]
        lines = [
            f"model      {self.version}",
            f"artifact   {self.path}",
            f"data       {d['first_served']} .. {d['last_served']}",
            f"feeds      {d['train_groups']} train / {d['selection_groups']} selection / "
            f"{d['comparison_groups']} comparison, in time order"
            f"   rows {d['train_rows']} / {d['selection_rows']} / {d['comparison_rows']}",
            f"trees      {m['best_iteration']} (best selection NDCG@10 from "
            f"{m['config']['min_trees']} trees on; NDCG@10 there {selected:.4f}, not used "
            "to compare)",
            "",
            f"{'comparison (latest feeds)':<28}{'NDCG@5':>8}{'NDCG@10':>9}   (position-debiased)",
        ]
        for name, scores in self.metrics.items():
            lines.append(f"{name:<28}{scores['ndcg@5']:>8.4f}{scores['ndcg@10']:>9.4f}")
        lines += ["", "top features (gain): " + ", ".join(m["top_features"][:6])]
        lines += [
            *self.notes,
            f"gate       {v.describe()}; promoted only if its lower bound is above the "
            f"margin {v.margin:g}",
            f"promotion  {self.decision}",
        ]
        return lines


async def train_and_register(
    store: Store,
    model_dir: Path,
    config: TrainConfig = TrainConfig(),
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    promote: bool = False,
    force: bool = False,
    margin: float = 0.0,
    progress: bool = True,
    trainer: Trainer = train_locally,
) -> TrainResult:
    """Train on feeds served in [since, until) (default: everything so far), write and
    register the artifact, and with `promote` activate it if the gate passes: on the
    comparison window, the lower bound of the paired bootstrap interval of its NDCG@10
    gain over the active ranker is above `margin` (or always with `force`). `trainer`
    fits the model (`train_locally`, or `training.cluster.DaskTrainer`); the comparison,
    the gate, the artifact and the registry entry are the same whichever fits."""
    since = since or datetime(1970, 1, 1, tzinfo=UTC)
    until = until or datetime.now(UTC)
    fitted = await trainer(store, since, until, config, progress)
    booster, loaded = fitted.booster, fitted.loaded
    selection, comparison = fitted.selection, fitted.comparison

    model_text = booster.model_to_string()
    stamp = datetime.now(UTC)
    version = f"ltr-{stamp:%Y%m%d-%H%M%S}-{sha256(model_text.encode())[:6]}"
    rankers: dict[str, Ranker] = {version: LightGBMRanker(model_text, version)}
    notes = [
        f"data       {loaded.feeds} feeds served; {loaded.unlabelled} without feedback and "
        f"{loaded.other_features} with other features left out",
        "trained    " + ", ".join(f"{k} {v}" for k, v in fitted.engine.items()),
    ]
    active = await store.active_model()
    try:
        current = registry.ranker_for(active)
        rankers[f"active: {current.version}"] = current
    except ArtifactError as exc:
        current = None
        notes.append(f"note       the active model cannot be compared: {exc}")
    heuristic = HeuristicRanker()
    if current is None or current.version != heuristic.version:
        rankers[heuristic.version] = heuristic
    # Promotion compares with the active ranker, or with the heuristic if that cannot load.
    baseline = f"active: {current.version}" if current else heuristic.version
    examination = fitted.examination
    notes.append(f"position   {examination.describe()}")
    compared = _unseen(comparison, active if current else None, notes)
    metrics = compare_rankers(rankers, compared, examination)
    verdict = judge(
        rankers[version],
        rankers[baseline],
        compared,
        examination,
        margin=margin,
        confidence=config.confidence,
        resamples=config.resamples,
        seed=config.seed,
        baseline_name=baseline,
    )

    gain = booster.feature_importance(importance_type="gain")
    importance = {n: round(float(g), 3) for n, g in zip(NAMES, gain, strict=True)}
    manifest: dict[str, Any] = {
        "created_at": stamp.isoformat(),
        "feature_names": list(NAMES),
        "feature_hash": names_hash(),
        "params": config.lightgbm_params(),
        "config": {k: v for k, v in asdict(config).items() if k != "gains"},
        "engine": fitted.engine,
        "gains": asdict(config.gains),
        "best_iteration": booster.best_iteration,
        "metrics": metrics,
        # On the window the trees were chosen on: optimistic for the new model, not compared.
        "selection_metrics": compare_rankers(rankers, selection, examination),
        "gate": {**asdict(verdict), "verdict": verdict.describe(), "rule": RULE},
        "position_bias_exponent": examination.exponent,
        "feature_importance": importance,
        "top_features": [k for k, _ in sorted(importance.items(), key=lambda kv: -kv[1])],
        "data": {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "first_served": fitted.first_served.isoformat(),
            "last_served": comparison.served_at[-1].isoformat(),
            "selection_from": selection.served_at[0].isoformat(),
            "comparison_from": comparison.served_at[0].isoformat(),
            "train_groups": fitted.train_groups,
            "selection_groups": selection.n_groups,
            "comparison_groups": comparison.n_groups,
            "train_rows": fitted.train_rows,
            "selection_rows": selection.n_rows,
            "comparison_rows": comparison.n_rows,
        },
        "versions": {
            "lightgbm": lightgbm.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    extra = artifact_report(version, metrics, importance, manifest)
    path = write_artifact(model_dir, version, model_text, manifest, extra)
    await store.register_model(version, str(path.resolve()), NAMES, metrics, manifest)
    result = TrainResult(
        version,
        path,
        metrics,
        manifest,
        verdict,
        notes=notes,
        compared=compared,
        examination=examination,
    )
    if promote:
        await _promote(store, result, force)
    return result


def _unseen(comparison: Dataset, active: Activation | None, notes: list[str]) -> Dataset:
    """The comparison feeds served after the last feed the active model learned from: the
    gate must not compare on data either model was trained or selected on."""
    if active is None or active.path is None:
        return comparison  # the heuristic learned from nothing
    try:
        end = datetime.fromisoformat(read_artifact(Path(active.path))[1]["data"]["last_served"])
    except (ArtifactError, KeyError, TypeError, ValueError):
        notes.append("note       the active model's data window is unknown: compared on all")
        return comparison
    unseen = [i for i, served in enumerate(comparison.served_at) if served > end]
    if len(unseen) < comparison.n_groups:
        notes.append(
            f"note       {comparison.n_groups - len(unseen)} comparison feeds are in the active "
            f"model's data (up to {end:%Y-%m-%d %H:%M:%S}); compared on the {len(unseen)} after"
        )
    return comparison.groups(unseen)


def windows(
    dataset: Dataset, loaded: LoadReport, config: TrainConfig
) -> tuple[Dataset, Dataset, Dataset]:
    """(train, selection, comparison) windows in time order, or a TrainingError that says
    what is missing."""
    a, b, c, d = window_plan(dataset.n_groups, loaded, config)
    return dataset.groups(range(a, b)), dataset.groups(range(b, c)), dataset.groups(range(c, d))


def window_plan(n_groups: int, loaded: LoadReport, config: TrainConfig) -> list[int]:
    """Group indices that cut `n_groups` labelled feeds, in time order, into the train,
    selection and comparison windows: [0, selection start, comparison start, n_groups];
    a TrainingError that says what is missing if they are too few."""
    if n_groups < config.min_groups:
        raise TrainingError(
            f"only {n_groups} served feeds have feedback (clicks or saves) with the "
            f"current features; at least {config.min_groups} are needed "
            f"({loaded.feeds} feeds in the window, {loaded.unlabelled} without feedback, "
            f"{loaded.other_features} logged with other features). Serve more feeds and "
            "collect events that carry the feed's request_id, or lower --min-groups."
        )
    try:
        return window_bounds(n_groups, (config.selection_share, config.comparison_share))
    except ValueError as exc:
        raise TrainingError(
            f"{n_groups} labelled feeds leave no feeds to train on after the "
            f"selection ({config.selection_share:.0%}) and comparison "
            f"({config.comparison_share:.0%}) windows: collect more feedback or lower "
            "--selection-share / --comparison-share."
        ) from exc


async def _promote(store: Store, result: TrainResult, force: bool) -> None:
    verdict = result.verdict
    bound = f"lower bound {verdict.low:+.4f}, margin {verdict.margin:g}"
    if verdict.passes or force:
        await registry.activate(store, result.version, reason=f"train: {verdict.describe()}")
        result.promoted = True
        forced = " (forced: the gate did not pass)" if not verdict.passes else ""
        result.decision = f"activated{forced}: {bound}"
    elif verdict.feeds == 0:
        result.decision = "kept the active ranker: no comparison feeds it has not learned from"
    else:
        result.decision = (
            f"kept the active ranker: {bound} (a tie or a gain within the noise is not promoted)"
        )
