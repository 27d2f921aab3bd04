"""Offline evaluation on an interaction dataset (`paperfeed eval interactions`).

Protocol, per seed: every evaluated user's library is split at random into history and
test (`holdout`). The training matrix holds everybody's saves except those test items, so
no method ever sees them. Each method ranks the whole catalogue minus the user's history.
Hyperparameters are chosen on a validation split carved out of the training matrix only
(`validation_split`), never on test items.

Metrics, averaged over evaluated users:
- Recall@K = hits in the top K / min(K, |test|), so a perfect ranking scores 1 at every K.
- NDCG@K with binary gains, log2 discounts, and the ideal DCG of min(K, |test|) hits.
- Coverage@20 = distinct items in any evaluated user's top 20 / catalogue size.
- Candidate recall = test items the method scores at all (a finite score) / |test|: 1 for
  a method that ranks the whole catalogue, the candidate stage's reach for a two-stage one.

A method is anything with `fit(train, context)` and `score(users, history)`; the registry
(`available_methods`) maps names to a factory and a small grid of parameters.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from ranking.errors import DataError
from training.baselines import BASELINES
from training.loaders import Interactions
from training.metrics import ndcg
from training.protocol import EvalContext, Method, MethodSpec, Split, holdout
from training.served import PAPERFEED

RECALL_KS = (20, 50, 100)
NDCG_KS = (10, 100)
COVERAGE_K = 20
MAX_K = max(*RECALL_KS, *NDCG_KS)
METRICS = (
    *(f"recall@{k}" for k in RECALL_KS),
    *(f"ndcg@{k}" for k in NDCG_KS),
    "coverage@20",
    "candidate_recall",
)
SELECT_BY = "recall@50"  # what tuning maximises on the validation split


def available_methods() -> dict[str, MethodSpec]:
    """Every method `paperfeed eval interactions` knows, by name, in report order.

    The baselines, then the service's own pipeline (`paperfeed`).
    """
    return {**BASELINES, "paperfeed": PAPERFEED}


def evaluated_rows(data: Interactions, min_saves: int, named: Sequence[str] | None) -> np.ndarray:
    """Rows of the users to evaluate: `named` ones, or everyone with at least `min_saves`."""
    counts = np.diff(data.matrix.indptr)
    if named is None:
        return np.flatnonzero(counts >= max(min_saves, 2))  # 2: one history, one test
    row = {user: i for i, user in enumerate(data.user_ids)}
    unknown = [u for u in named if u not in row]
    if unknown:
        raise DataError(f"{len(unknown)} evaluation user(s) have no saves: {unknown[:5]}")
    rows = np.unique([row[u] for u in named])
    thin = [data.user_ids[r] for r in rows if counts[r] < 2]
    if thin:
        raise DataError(f"evaluation users need at least 2 saves to split: {thin[:5]}")
    return rows


def validation_split(
    split: Split, fraction: float, n_users: int, min_saves: int, seed: int
) -> Split:
    """A split of the training matrix for tuning: prefer users who are not evaluated,
    topped up with evaluated users' histories when there are too few. Test items are
    absent from `split.train`, so they cannot leak into tuning."""
    rng = np.random.default_rng([seed, 1])
    counts = np.diff(split.train.indptr)
    eligible = counts >= max(min_saves, 2)
    outside = np.setdiff1d(np.flatnonzero(eligible), split.users)
    rows = rng.permutation(outside)[:n_users]
    if len(rows) < n_users:
        inside = np.intersect1d(np.flatnonzero(eligible), split.users)
        rows = np.r_[rows, rng.permutation(inside)[: n_users - len(rows)]]
    return holdout(split.train, np.sort(rows), fraction, seed + 1_000_003)


def top_items(scores: np.ndarray, history: sp.csr_matrix, k: int) -> np.ndarray:
    """(n, k) item indices by falling score, history excluded; -1 pads where fewer than k
    items are left."""
    scores = np.array(scores, dtype=np.float32)
    scores[np.isnan(scores)] = -np.inf
    rows, cols = history.nonzero()
    scores[rows, cols] = -np.inf
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    top[np.take_along_axis(part_scores, order, axis=1) == -np.inf] = -1
    return top


def user_metrics(top: np.ndarray, test: sp.csr_matrix) -> dict[str, np.ndarray]:
    """Per-user recall@K and NDCG@K of ranked lists `top` against `test` rows, plus
    `curve`: recall at every K from 1 to top.shape[1]."""
    truth = test.toarray() > 0
    hits = np.take_along_axis(truth, np.maximum(top, 0), axis=1) & (top >= 0)
    n_test = truth.sum(axis=1)
    found = np.cumsum(hits, axis=1)
    ks = np.arange(1, top.shape[1] + 1)
    out = {"curve": found / np.minimum(ks[None, :], n_test[:, None])}
    # A catalogue smaller than K gives shorter lists; the denominators stay as defined.
    for k in RECALL_KS:
        out[f"recall@{k}"] = found[:, min(k, top.shape[1]) - 1] / np.minimum(k, n_test)
    for k in NDCG_KS:
        ranked = np.zeros((len(top), k))
        ranked[:, : min(k, top.shape[1])] = hits[:, :k]
        # The ideal list: min(k, |test|) hits at the top.
        ideal = np.arange(k) < np.minimum(k, n_test)[:, None]
        out[f"ndcg@{k}"] = ndcg(ranked, ideal.astype(np.float64))
    return out


def reached(scores: np.ndarray, test: sp.csr_matrix) -> np.ndarray:
    """Per user: the share of their test items with a finite score."""
    rows, cols = test.nonzero()
    finite = np.isfinite(np.asarray(scores)[rows, cols])
    n_test = np.maximum(np.diff(test.indptr), 1)
    share: np.ndarray = np.bincount(rows, weights=finite, minlength=test.shape[0]) / n_test
    return share


def coverage(tops: Sequence[np.ndarray], n_items: int, k: int = COVERAGE_K) -> float:
    """Distinct items in any top-k list / catalogue size."""
    seen = np.unique(np.concatenate([t[:, :k].ravel() for t in tops]))
    return float(np.count_nonzero(seen >= 0) / n_items)


def run_method(
    method: Method, split: Split, batch: int = 512, desc: str = "", progress: bool = False
) -> dict[str, Any]:
    """Score the evaluated users in batches; mean metrics, coverage and the recall curve."""
    sums: dict[str, np.ndarray] = {}
    tops = []
    for start in tqdm(range(0, len(split.users), batch), desc=desc, disable=not progress):
        users = split.users[start : start + batch]
        history, test = split.train[users], split.test[users]
        scores = method.score(users, history)
        top = top_items(scores, history, MAX_K)
        tops.append(top[:, :COVERAGE_K])
        found = user_metrics(top, test)
        found["candidate_recall"] = reached(scores, test)
        for name, values in found.items():
            total = values.sum(axis=0)
            sums[name] = sums[name] + total if name in sums else total
    n = len(split.users)
    result: dict[str, Any] = {name: float(sums[name] / n) for name in METRICS if name in sums}
    result["coverage@20"] = coverage(tops, split.train.shape[1])
    result["curve"] = (sums["curve"] / n).tolist()
    return result


@dataclass(frozen=True)
class EvalConfig:
    seeds: tuple[int, ...] = (0, 1, 2)
    test_fraction: float = 0.2
    min_saves: int = 5
    validation_users: int = 1000
    batch: int = 512
    progress: bool = True


@dataclass
class MethodResult:
    per_seed: dict[str, list[float]] = field(default_factory=dict)
    curves: list[list[float]] = field(default_factory=list)
    params: list[dict[str, Any]] = field(default_factory=list)
    tuning: list[list[dict[str, Any]]] = field(default_factory=list)
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def add_time(self, stage: str, seconds: float) -> None:
        self.seconds.setdefault(stage, []).append(round(seconds, 2))


def tune(
    spec: MethodSpec, split: Split, context: EvalContext, batch: int, desc: str = ""
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The grid entry with the best validation `SELECT_BY` (the first one on ties)."""
    if len(spec.grid) == 1:
        return dict(spec.grid[0]), []
    log = []
    for params in tqdm(spec.grid, desc=desc, disable=not context.progress):
        method = spec.make(**params)
        method.fit(split.train, context)
        score = run_method(method, split, batch)[SELECT_BY]
        log.append({"params": dict(params), SELECT_BY: round(score, 5)})
        del method
    best = max(range(len(log)), key=lambda i: (log[i][SELECT_BY], -i))
    return dict(spec.grid[best]), log


def evaluate(
    data: Interactions,
    methods: Mapping[str, MethodSpec],
    context: EvalContext,
    config: EvalConfig,
    eval_users: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every method on every seed; returns the `results.json` structure."""
    rows = evaluated_rows(data, config.min_saves, eval_users)
    if len(rows) == 0:
        raise DataError(f"no user has at least {config.min_saves} saves to evaluate")
    if not config.seeds:
        raise DataError("no seeds given")
    results = {name: MethodResult() for name in methods}
    started, from_evaluated = time.perf_counter(), 0
    for seed in config.seeds:
        split = holdout(data.matrix, rows, config.test_fraction, seed)
        val = validation_split(
            split, config.test_fraction, config.validation_users, config.min_saves, seed
        )
        seeded = replace(context, seed=seed, progress=config.progress)
        from_evaluated = len(np.intersect1d(val.users, split.users))
        for name, spec in methods.items():
            out = results[name]
            clock = time.perf_counter()
            params, log = tune(spec, val, seeded, config.batch, f"seed {seed} tune {name}")
            out.add_time("tune", time.perf_counter() - clock)
            clock = time.perf_counter()
            method = spec.make(**params)
            method.fit(split.train, seeded)
            out.add_time("fit", time.perf_counter() - clock)
            clock = time.perf_counter()
            desc = f"seed {seed} {name}"
            metrics = run_method(method, split, config.batch, desc, config.progress)
            out.add_time("score", time.perf_counter() - clock)
            del method
            out.curves.append(metrics.pop("curve"))
            for metric, value in metrics.items():
                out.per_seed.setdefault(metric, []).append(value)
            out.params.append(params)
            out.tuning.append(log)
    return {
        "methods": {name: _summary(result) for name, result in results.items()},
        "seeds": list(config.seeds),
        "protocol": {
            "test_fraction": config.test_fraction,
            "min_saves": config.min_saves,
            "evaluated_users": len(rows),
            "validation_users": config.validation_users,
            # Histories (never test items) of evaluated users fill up the validation split
            # when fewer non-evaluated users are available.
            "validation_users_also_evaluated": from_evaluated,
            "select_by": SELECT_BY,
            "recall": "hits in top K / min(K, |test|)",
            "ndcg": "binary gains, log2 discount, ideal DCG of min(K, |test|) hits",
            "coverage@20": "distinct items in any top 20 / catalogue size",
            "candidate_recall": "test items with a finite score / |test|",
        },
        "dataset": {
            "users": data.n_users,
            "items": data.n_items,
            "interactions": int(data.matrix.nnz),
        },
        "runtime_s": round(time.perf_counter() - started, 1),
        # Included in the first content method's fit time; 0 when read from the cache.
        "embedding_s": round(context.embeddings_cache.seconds, 1)
        if context.embeddings_cache
        else 0,
    }


def _summary(result: MethodResult) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for metric, values in result.per_seed.items():
        summary[metric] = {
            "mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "per_seed": values,
        }
    summary["recall_curve"] = np.mean(result.curves, axis=0).tolist()
    summary["params"] = result.params
    summary["tuning"] = result.tuning
    summary["runtime_s"] = {stage: sum(v) for stage, v in result.seconds.items()}
    summary["runtime_s"]["total"] = round(sum(summary["runtime_s"].values()), 2)
    summary["runtime_s"]["per_seed"] = result.seconds
    return summary


def table(results: Mapping[str, Any]) -> str:
    """The Markdown table: methods × metrics as mean ± standard deviation over seeds."""
    head = ["method", *(m.replace("recall", "Recall").replace("ndcg", "NDCG") for m in METRICS)]
    lines = [
        "| " + " | ".join([*head, "time (s)"]) + " |",
        "|" + "---|" * (len(head) + 1),
    ]
    for name, summary in results["methods"].items():
        cells = [f"{summary[m]['mean']:.4f} ± {summary[m]['std']:.4f}" for m in METRICS]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {summary['runtime_s']['total']:.0f} |"
        )
    return "\n".join(lines)


def write_outputs(results: Mapping[str, Any], folder: Path) -> list[Path]:
    """report.md, recall.png (Recall@K curves) and results.json in `folder`."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "results.json", folder / "recall.png", folder / "report.md"]
    paths[0].write_text(json.dumps(results, indent=1) + "\n")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, summary in results["methods"].items():
        curve = summary["recall_curve"]
        axes.plot(np.arange(1, len(curve) + 1), curve, label=name)
    axes.set(xlabel="K", ylabel="Recall@K (mean over users and seeds)", xlim=(1, MAX_K))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(paths[1], dpi=120)
    plt.close(figure)
    protocol, data = results["protocol"], results["dataset"]
    params = {name: s["params"] for name, s in results["methods"].items()}
    paths[2].write_text(
        "\n".join(
            [
                "# Offline evaluation",
                "",
                f"{data['users']} users, {data['items']} items, {data['interactions']} saves; "
                f"{protocol['evaluated_users']} users evaluated, seeds {results['seeds']}, "
                f"{protocol['test_fraction']:.0%} of each library held out at random.",
                "",
                table(results),
                "",
                "Mean ± standard deviation over seeds of the mean over users. Every method "
                "ranks the whole catalogue minus the user's history; test items are absent "
                "from all training data.",
                f"Recall@K = {protocol['recall']}. NDCG@K: {protocol['ndcg']}. "
                f"Coverage@20 = {protocol['coverage@20']}. Candidate recall = "
                f"{protocol['candidate_recall']}: below 1 where a method (paperfeed) ranks "
                "only the candidates it retrieved.",
                f"Parameters were chosen per seed by {protocol['select_by']} on a validation "
                f"split of {protocol['validation_users']} users' training rows (non-evaluated "
                f"users first; {protocol['validation_users_also_evaluated']} of them evaluated "
                "users, whose test items are not in those rows).",
                "Time (s) is tuning, fitting and scoring over all seeds; the first content "
                f"method's includes embedding the catalogue ({results['embedding_s']:.0f} s, "
                f"0 when cached). Whole run: {results['runtime_s']:.0f} s.",
                "",
                "![Recall@K](recall.png)",
                "",
                "## Chosen parameters (per seed)",
                "",
                *(f"- {name}: {p}" for name, p in params.items()),
                "",
            ]
        )
    )
    return paths
