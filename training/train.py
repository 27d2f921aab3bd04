"""`paperfeed train`: fit a LightGBM lambdarank model on logged feeds, compare it with the
active ranker and the heuristic on a later window, write an artifact and register it."""

from __future__ import annotations

import io
import platform
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
from tqdm import tqdm

from ranking.artifacts import sha256, write_artifact
from ranking.errors import ArtifactError, TrainingError
from ranking.features import NAMES, names_hash
from ranking.model import HeuristicRanker, LightGBMRanker, Ranker
from storage import registry
from storage.store import Store
from training.dataset import DEFAULT_GAINS, Dataset, Gains, LoadReport, load_dataset
from training.position import Examination
from training.position import estimate as estimate_examination


@dataclass(frozen=True)
class TrainConfig:
    min_groups: int = 30  # labelled feeds needed, train and validation together
    validation_share: float = 0.2  # the latest share of feeds, held out by time
    rounds: int = 400
    early_stopping: int = 40
    # Validation NDCG on a few hundred feeds is noisy: its maximum can fall on the first tree
    # or two, a model that barely ranks. The best iteration is chosen from this many trees on.
    min_trees: int = 20
    learning_rate: float = 0.05
    # Small trees with many rows per leaf: feedback logs are noisy and drift with time.
    num_leaves: int = 7
    min_data_in_leaf: int = 100
    seed: int = 0
    attribution_hours: float = 24.0
    gains: Gains = DEFAULT_GAINS

    def lightgbm_params(self) -> dict[str, Any]:
        return {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [10, 5],  # the first, NDCG@10, decides early stopping
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": 0.9,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": 2,
            "verbosity": -1,
        }


def ndcg_at(
    scores: np.ndarray,
    labels: np.ndarray,
    group_sizes: np.ndarray,
    k: int,
    weights: np.ndarray | None = None,
) -> float:
    """Mean NDCG@k over groups, with LightGBM's gains (2^label - 1), each multiplied by
    the row's weight if given (inverse examination probability, for unbiased evaluation)."""
    total, start = 0.0, 0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    all_gains = (2.0**labels - 1) * (1.0 if weights is None else weights)
    for size in group_sizes:
        s, g = scores[start : start + size], all_gains[start : start + size]
        start += size
        gains = g[np.argsort(-s, kind="stable")][:k]
        ideal = np.sort(g)[::-1][:k]
        best = float(ideal @ discounts[: len(ideal)])
        total += float(gains @ discounts[: len(gains)]) / best if best > 0 else 0.0
    return total / len(group_sizes) if len(group_sizes) else 0.0


def evaluate(
    rankers: Mapping[str, Ranker], data: Dataset, examination: Examination | None = None
) -> dict[str, dict[str, float]]:
    """NDCG@5/@10 of each ranker on the same groups, position-debiased if `examination`
    is given (a click low in a feed counts more than one at the top)."""
    weights = None if examination is None else 1.0 / examination.probability(data.positions)
    out = {}
    for name, ranker in rankers.items():
        scores = ranker.score(data.features)
        out[name] = {
            f"ndcg@{k}": round(ndcg_at(scores, data.labels, data.group_sizes, k, weights), 4)
            for k in (5, 10)
        }
    return out


def fit(
    train: Dataset, valid: Dataset, config: TrainConfig, progress: bool = True
) -> lightgbm.Booster:
    """LightGBM lambdarank with early stopping on the validation window's NDCG@10; the
    model keeps the trees up to the best validation NDCG@10 from `min_trees` on."""
    # `position` lets LightGBM learn the position bias jointly with the ranker (unbiased
    # LambdaMART), so the model is not rewarded for copying the order the logging ranker chose.
    train_set = lightgbm.Dataset(
        train.features,
        train.labels,
        group=train.group_sizes,
        position=train.positions,
        feature_name=list(NAMES),
    )
    valid_set = lightgbm.Dataset(
        valid.features, valid.labels, group=valid.group_sizes, reference=train_set
    )
    with tqdm(total=config.rounds, desc="train", unit=" trees", disable=not progress) as bar:

        def tick(env: lightgbm.callback.CallbackEnv) -> None:
            bar.update(1)

        curve: dict[str, Any] = {}
        booster = lightgbm.train(
            config.lightgbm_params(),
            train_set,
            num_boost_round=config.rounds,
            valid_sets=[valid_set],
            valid_names=["validation"],
            callbacks=[
                lightgbm.early_stopping(
                    config.early_stopping, first_metric_only=True, verbose=False
                ),
                tick,
                lightgbm.record_evaluation(curve),
            ],
        )
    scores = curve["validation"]["ndcg@10"]
    first = min(config.min_trees, len(scores))
    booster.best_iteration = first + int(np.argmax(scores[first - 1 :]))
    return booster


@dataclass
class TrainResult:
    version: str
    path: Path
    metrics: dict[str, dict[str, float]]
    manifest: dict[str, Any]
    promoted: bool = False
    decision: str = "not promoted (run with --promote)"
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        """One screen for the terminal."""
        m = self.manifest
        lines = [
            f"model      {self.version}",
            f"artifact   {self.path}",
            f"data       {m['data']['first_served']} .. {m['data']['last_served']}",
            f"groups     {m['data']['train_groups']} train / {m['data']['valid_groups']} validation"
            f"   rows {m['data']['train_rows']} / {m['data']['valid_rows']}",
            f"trees      {m['best_iteration']} (best validation NDCG@10 from "
            f"{m['config']['min_trees']} trees on)",
            "",
            f"{'validation (latest feeds)':<28}{'NDCG@5':>8}{'NDCG@10':>9}   (position-debiased)",
        ]
        for name, scores in self.metrics.items():
            lines.append(f"{name:<28}{scores['ndcg@5']:>8.4f}{scores['ndcg@10']:>9.4f}")
        lines += ["", "top features (gain): " + ", ".join(m["top_features"][:6])]
        lines += [*self.notes, f"promotion  {self.decision}"]
        return lines


def _report(
    version: str,
    metrics: Mapping[str, Mapping[str, float]],
    importance: Mapping[str, float],
    manifest: Mapping[str, Any],
) -> dict[str, bytes]:
    """report.md and two PNG plots for the artifact folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def png(draw: Callable[[Any], None], title: str) -> bytes:
        fig, ax = plt.subplots(figsize=(7, 4))
        draw(ax)
        ax.set_title(title)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        return buffer.getvalue()

    names = list(metrics)

    def draw_ndcg(ax: Any) -> None:
        x = np.arange(len(names))
        for i, k in enumerate(("ndcg@5", "ndcg@10")):
            ax.bar(x + (i - 0.5) * 0.38, [metrics[n][k] for n in names], 0.38, label=k.upper())
        ax.set_xticks(x, names)
        ax.set_ylim(0, 1)
        ax.legend()

    top = sorted(importance.items(), key=lambda kv: kv[1])[-15:]

    def draw_importance(ax: Any) -> None:
        ax.barh([k for k, _ in top], [v for _, v in top])
        ax.set_xlabel("total gain")

    rows = "\n".join(
        f"| {n} | {metrics[n]['ndcg@5']:.4f} | {metrics[n]['ndcg@10']:.4f} |" for n in names
    )
    data = manifest["data"]
    md = f"""# Model {version}

Trained on feeds served {data["first_served"]} .. {data["last_served"]}:
{data["train_groups"]} feeds ({data["train_rows"]} impressions) for training, the latest
{data["valid_groups"]} feeds ({data["valid_rows"]} impressions) for validation.

NDCG with each gain divided by the probability that readers look at its slot
(examination ∝ (1+position)^-{manifest["position_bias_exponent"]:.2f}, estimated from the
exploration slots).

| ranker (validation feeds) | NDCG@5 | NDCG@10 |
|---|---|---|
{rows}

![NDCG by ranker](ndcg.png)

![Feature importance](importance.png)
"""
    return {
        "report.md": md.encode(),
        "ndcg.png": png(draw_ndcg, "NDCG on the validation window"),
        "importance.png": png(draw_importance, "Feature importance (gain)"),
    }


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
) -> TrainResult:
    """Train on feeds served in [since, until) (default: everything so far), write and
    register the artifact, and with `promote` activate it if it beats the active ranker on
    validation NDCG@10 by at least `margin` (or always with `force`)."""
    since = since or datetime(1970, 1, 1, tzinfo=UTC)
    until = until or datetime.now(UTC)
    dataset, loaded = await load_dataset(
        store, since, until, config.attribution_hours, config.gains
    )
    _check_enough(dataset, loaded, config)
    train, valid = dataset.split_by_time(config.validation_share)
    booster = fit(train, valid, config, progress)

    model_text = booster.model_to_string()
    stamp = datetime.now(UTC)
    version = f"ltr-{stamp:%Y%m%d-%H%M%S}-{sha256(model_text.encode())[:6]}"
    rankers: dict[str, Ranker] = {version: LightGBMRanker(model_text, version)}
    notes = [
        f"data       {loaded.feeds} feeds served; {loaded.unlabelled} without feedback and "
        f"{loaded.other_features} with other features left out"
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
    examination = estimate_examination(dataset)
    notes.append(f"position   {examination.describe()}")
    metrics = evaluate(rankers, valid, examination)

    gain = booster.feature_importance(importance_type="gain")
    importance = {n: round(float(g), 3) for n, g in zip(NAMES, gain, strict=True)}
    manifest: dict[str, Any] = {
        "created_at": stamp.isoformat(),
        "feature_names": list(NAMES),
        "feature_hash": names_hash(),
        "params": config.lightgbm_params(),
        "config": {k: v for k, v in asdict(config).items() if k != "gains"},
        "gains": asdict(config.gains),
        "best_iteration": booster.best_iteration,
        "metrics": metrics,
        "position_bias_exponent": examination.exponent,
        "feature_importance": importance,
        "top_features": [k for k, _ in sorted(importance.items(), key=lambda kv: -kv[1])],
        "data": {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "first_served": dataset.served_at[0].isoformat(),
            "last_served": dataset.served_at[-1].isoformat(),
            "validation_from": valid.served_at[0].isoformat(),
            "train_groups": train.n_groups,
            "valid_groups": valid.n_groups,
            "train_rows": train.n_rows,
            "valid_rows": valid.n_rows,
        },
        "versions": {
            "lightgbm": lightgbm.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    extra = _report(version, metrics, importance, manifest)
    path = write_artifact(model_dir, version, model_text, manifest, extra)
    await store.register_model(version, str(path.resolve()), NAMES, metrics, manifest)
    result = TrainResult(version, path, metrics, manifest, notes=notes)
    if promote:
        await _promote(store, result, baseline, margin, force)
    return result


def _check_enough(dataset: Dataset, loaded: LoadReport, config: TrainConfig) -> None:
    if dataset.n_groups < config.min_groups:
        raise TrainingError(
            f"only {dataset.n_groups} served feeds have feedback (clicks or saves) with the "
            f"current features; at least {config.min_groups} are needed "
            f"({loaded.feeds} feeds in the window, {loaded.unlabelled} without feedback, "
            f"{loaded.other_features} logged with other features). Serve more feeds and "
            "collect events that carry the feed's request_id, or lower --min-groups."
        )


async def _promote(
    store: Store, result: TrainResult, baseline: str, margin: float, force: bool
) -> None:
    new = result.metrics[result.version]["ndcg@10"]
    old = result.metrics[baseline]["ndcg@10"]
    comparison = f"NDCG@10 {new:.4f} vs {old:.4f} ({baseline})"
    if force or new >= old + margin:
        await registry.activate(store, result.version, reason=f"train: {comparison}")
        result.promoted = True
        result.decision = f"activated{' (forced)' if force else ''}: {comparison}"
    else:
        result.decision = f"kept the active ranker: {comparison}, margin {margin}"
