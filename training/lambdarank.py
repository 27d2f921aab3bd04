"""The LightGBM lambdarank ranker's settings, shared by `paperfeed train` (logged feeds)
and the offline evaluation (`training.served`): the one place they become LightGBM's
parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LambdaRankParams:
    objective: str = "lambdarank"
    learning_rate: float = 0.05
    # Small trees with many rows per leaf: feedback is noisy.
    num_leaves: int = 7
    min_data_in_leaf: int = 100
    # The same by the sum of the lambdarank hessians (LightGBM's min_sum_hessian_in_leaf,
    # whose default this is): the one that means the same on Dask (training/cluster.py).
    min_hessian_in_leaf: float = 1e-3
    # Share of the features each tree sees and of the rows each iteration samples (bagging).
    sample_fraction: float = 0.9

    def lightgbm(self, seed: int, threads: int, **extra: Any) -> dict[str, Any]:
        """LightGBM's parameters: deterministic for a seed, quiet, plus `extra` (for
        example the metric to stop early on)."""
        return {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "min_sum_hessian_in_leaf": self.min_hessian_in_leaf,
            "feature_fraction": self.sample_fraction,
            "bagging_fraction": self.sample_fraction,
            "bagging_freq": 1,
            "seed": seed,
            "deterministic": True,
            "num_threads": threads,
            "verbosity": -1,
            **extra,
        }
