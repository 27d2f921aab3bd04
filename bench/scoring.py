"""Benchmark: scoring 500 candidates with a trained ranker, by way of predicting.

    .venv/bin/python bench/scoring.py [--candidates 500] [--repeats 2000]
        [--out bench/results/scoring.json]

The model is trained by the project's own training (`training.train.fit`, the lambdarank
parameters `paperfeed train` uses) on synthetic logged feeds whose saves depend on several
features with noise, so early stopping keeps a realistic number of trees; a second model
is the most `paperfeed train` can make (all 400 rounds). Each way of scoring gets the same
500 float32 feature rows (one feed's candidates): LightGBM's `Booster.predict` (one
thread, with and without `predict_disable_shape_check`, float32 and float64 input),
`ranking.model.LightGBMRanker.score` as served, and the model compiled by `lleaves` and by
`treelite` + `tl2cgen` where those are installed. Each is checked against the booster's
scores (max absolute difference) and timed `--repeats` times; medians in microseconds.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ranking.features import NAMES  # noqa: E402
from ranking.model import LightGBMRanker  # noqa: E402
from storage.rows import LabelledImpression  # noqa: E402
from training.dataset import from_rows  # noqa: E402
from training.train import TrainConfig, fit  # noqa: E402

OUT = ROOT / "bench" / "results" / "scoring.json"


def logged_feeds(n_feeds: int, size: int, seed: int) -> list[LabelledImpression]:
    """Feeds where a noisy mix of a few features decides what is clicked and saved."""
    rng = np.random.default_rng(seed)
    weights = np.zeros(len(NAMES))
    weights[rng.choice(len(NAMES), 6, replace=False)] = rng.normal(size=6)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for f in range(n_feeds):
        x = rng.normal(size=(size, len(NAMES))).astype(np.float32)
        utility = x @ weights + rng.normal(scale=1.0, size=size)
        for position in range(size):
            u = utility[position]
            label = 3 if u > 2.0 else 1 if u > 1.0 else 0
            rows.append(
                LabelledImpression(
                    request_id=uuid.UUID(int=f + 1),
                    served_at=start + timedelta(minutes=f),
                    position=position,
                    paper_id=f"paper-{f}-{position}",
                    features=x[position].tolist(),
                    propensity=1.0,
                    explored=False,
                    feature_names=list(NAMES),
                    model_version="heuristic-1",
                    label=label,
                )
            )
    return rows


def timed(fn: Callable[[], Any], repeats: int) -> float:
    for _ in range(20):
        fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1000


def version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def compiled(booster: Any, work: Path) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    out: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    text = work / "model.txt"
    booster.save_model(str(text))
    if version("lleaves"):
        import lleaves

        llvm = lleaves.Model(model_file=str(text))
        started = time.perf_counter()
        llvm.compile(cache=str(work / "lleaves.o"))
        print(f"lleaves compile {time.perf_counter() - started:.1f} s", flush=True)
        out["lleaves (n_jobs=1)"] = lambda x: llvm.predict(x, n_jobs=1)
    if version("treelite") and version("tl2cgen"):
        import tl2cgen
        import treelite

        forest = treelite.frontend.load_lightgbm_model(str(text))
        started = time.perf_counter()
        lib = work / "tl2cgen.so"
        tl2cgen.export_lib(forest, toolchain="gcc", libpath=str(lib), params={"parallel_comp": 1})
        print(f"tl2cgen compile {time.perf_counter() - started:.1f} s", flush=True)
        predictor = tl2cgen.Predictor(str(lib), nthread=1)

        def tl(x: np.ndarray) -> np.ndarray:
            return np.asarray(predictor.predict(tl2cgen.DMatrix(x))).reshape(-1)

        out["treelite+tl2cgen (nthread=1)"] = tl
    return out


def measure(booster: Any, x32: np.ndarray, repeats: int, work: Path) -> dict[str, Any]:
    x64 = x32.astype(np.float64)
    reference = booster.predict(x64, num_threads=1)
    served = LightGBMRanker(booster.model_to_string(), "bench")
    ways: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "Booster.predict float64": lambda x: booster.predict(x.astype(np.float64), num_threads=1),
        "Booster.predict float32": lambda x: booster.predict(x, num_threads=1),
        "Booster.predict float32 no shape check": lambda x: booster.predict(
            x, num_threads=1, predict_disable_shape_check=True
        ),
        "LightGBMRanker.score (served)": served.score,
        **compiled(booster, work),
    }
    results = {}
    for name, fn in ways.items():
        scores = np.asarray(fn(x32), dtype=np.float64).reshape(-1)
        error = float(np.max(np.abs(scores - reference)))
        median = timed(lambda fn=fn: fn(x32), repeats)
        results[name] = {"median_us": round(median, 1), "max_abs_diff": error}
        print(f"  {name:42s} {median:8.1f} µs   max |Δ| {error:.2e}", flush=True)
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    data, _ = from_rows(logged_feeds(3000, 10, 0))
    train, valid = data.split_by_time(0.2)
    rng = np.random.default_rng(1)
    x32 = np.ascontiguousarray(rng.normal(size=(args.candidates, len(NAMES))), dtype=np.float32)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
        "candidates": args.candidates,
        "features": len(NAMES),
        "versions": {n: version(n) for n in ("lightgbm", "lleaves", "treelite", "tl2cgen")},
        "models": {},
    }
    configs = {
        "early-stopped (as trained)": TrainConfig(),
        "400 trees (the most train makes)": TrainConfig(early_stopping=400, min_trees=400),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for label, config in configs.items():
            booster = fit(train, valid, config, progress=False)
            trees = booster.num_trees()
            print(f"{label}: {trees} trees, {booster.params.get('num_leaves')} leaves", flush=True)
            work = Path(tmp) / str(trees)
            work.mkdir()
            report["models"][label] = {
                "trees": trees,
                "ways": measure(booster, x32, args.repeats, work),
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
