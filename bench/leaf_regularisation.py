"""How the logged-feed ranker keeps its leaves large: rows (`min_data_in_leaf`) or the
sum of lambdarank hessians (`min_hessian_in_leaf`, LightGBM's min_sum_hessian_in_leaf).

Distributed LightGBM counts a leaf's rows from its hessians, so only the hessian sum means
the same on a Dask cluster as in one process (training/cluster.py). This compares both on
simulated logged feeds (`paperfeed.lab`, the sample catalogue), by NDCG@10 on the selection
window: the validation split `paperfeed train` chooses its trees on. The comparison window
is never looked at.

    .venv/bin/python bench/leaf_regularisation.py [--readers 600] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from paperfeed.lab import sandbox
from training.dataset import load_dataset
from training.metrics import ndcg_at
from training.train import TrainConfig, fit

ROOT = Path(__file__).resolve().parent.parent
CHOICES = {
    "rows >= 100": TrainConfig(),
    "hessian >= 0.3": TrainConfig(min_data_in_leaf=1, min_hessian_in_leaf=0.3),
    "hessian >= 1": TrainConfig(min_data_in_leaf=1, min_hessian_in_leaf=1.0),
    "hessian >= 3": TrainConfig(min_data_in_leaf=1, min_hessian_in_leaf=3.0),
    "hessian >= 10": TrainConfig(min_data_in_leaf=1, min_hessian_in_leaf=10.0),
}


async def one_seed(readers: int, seed: int) -> dict[str, float]:
    async with sandbox(ROOT / "examples" / "papers.jsonl", seed=seed) as lab:
        stats = await lab.simulate(readers, 3, seed=seed)
        print(stats.summary())
        data, _ = await load_dataset(lab.store, datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
    train, selection, _comparison = data.split_by_time(0.2, 0.2)
    print(f"seed {seed}: {train.n_groups} training feeds, {selection.n_groups} selection feeds")
    scores = {}
    for name, config in CHOICES.items():
        config = replace(config, seed=seed)
        booster = fit(train, selection, config, progress=False)
        scores_ = booster.predict(selection.features, num_iteration=booster.best_iteration)
        scores[name] = ndcg_at(scores_, selection.labels, selection.group_sizes, 10)
        print(f"  {name}: selection NDCG@10 {scores[name]:.4f}, {booster.best_iteration} trees")
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=600)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    started = time.monotonic()
    results = {seed: asyncio.run(one_seed(args.readers, seed)) for seed in args.seeds}
    mean = {name: sum(r[name] for r in results.values()) / len(results) for name in CHOICES}
    for name, value in mean.items():
        print(f"{name}: mean selection NDCG@10 {value:.4f}")
    out = ROOT / "bench" / "results" / "leaf_regularisation.json"
    out.write_text(
        json.dumps(
            {
                "command": "python bench/leaf_regularisation.py",
                "readers": args.readers,
                "seeds": results,
                "mean": mean,
                "seconds": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
