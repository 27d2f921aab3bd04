"""Benchmark: the feed's in-process ranking work (profile, retrieval, features, scoring,
diversification) per request, by catalogue size and ranker. Storage is not included.

    .venv/bin/python bench/feed_pipeline.py [--sizes 10000,100000] [--requests 200]

Writes bench/results/feed_pipeline.json. Vectors are clustered (64 topics), histories come
from one or two topics, and the statistics snapshot has co-saves for every liked paper.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import faiss
import lightgbm
import numpy as np

from ranking import features, pipeline
from ranking.index import VectorIndex
from ranking.model import HeuristicRanker, LightGBMRanker, Ranker
from ranking.profile import Interaction
from ranking.stats import CatalogueStats, PaperStats

DIM = 384
OUT = Path(__file__).parent / "results" / "feed_pipeline.json"


def catalogue(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(size=(64, DIM)).astype(np.float32)
    topic = rng.integers(64, size=n)
    vectors = centres[topic] + 0.8 * rng.normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, topic


def trained_ranker(rng: np.random.Generator) -> LightGBMRanker:
    """A 100-tree model of the shape `paperfeed train` writes, on random labels."""
    x = rng.normal(size=(5000, len(features.NAMES))).astype(np.float32)
    y = (rng.random(5000) < 0.1).astype(int)
    data = lightgbm.Dataset(x, y, group=[10] * 500)
    params = {"objective": "lambdarank", "num_leaves": 7, "verbosity": -1, "min_data_in_leaf": 20}
    booster = lightgbm.train(params, data, num_boost_round=100)
    return LightGBMRanker(booster.model_to_string(), "bench")


def run(n: int, requests: int, rng: np.random.Generator) -> dict[str, object]:
    vectors, topic = catalogue(n, rng)
    index = VectorIndex(DIM)
    index.upsert(np.arange(n), vectors)
    popular = {
        int(k): PaperStats(clicks_7d=5, saves_7d=2, clicks_30d=9, saves_30d=3, impressions_30d=50)
        for k in rng.choice(n, 2000, replace=False)
    }
    facts = {k: features.PaperFacts(800, 0.0) for k in range(n)}
    rankers: dict[str, Ranker] = {"heuristic": HeuristicRanker(), "lightgbm": trained_ranker(rng)}
    out: dict[str, object] = {"papers": n}
    for name, ranker in rankers.items():
        times, sizes = [], []
        for _ in range(requests):
            liked_topics = rng.choice(64, size=int(rng.integers(1, 3)), replace=False)
            pool = np.flatnonzero(np.isin(topic, liked_topics))
            liked = rng.choice(pool, size=min(len(pool), 30), replace=False)
            cosaves = {int(k): {int(j): 2 for j in rng.choice(n, 20)} for k in liked}
            stats = CatalogueStats.build("bench", popular, cosaves)
            history = [Interaction(int(k), "save", float(rng.random() * 30)) for k in liked]
            fresh = rng.choice(n, 100, replace=False).tolist()
            start = time.perf_counter()
            plan = pipeline.plan(index, history, stats, fresh, set(), 30 * 86_400.0)
            pipeline.rank(plan, index, facts, ranker, 20, explore_share=0.1, rng=rng)
            times.append((time.perf_counter() - start) * 1000)
            sizes.append(len(plan.candidates))
        times.sort()
        out[name] = {
            "candidates_median": statistics.median(sizes),
            "median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * len(times))], 2),
        }
        print(
            f"{n:>8} papers  {name:<9}  median {out[name]['median_ms']:7.2f} ms  "  # type: ignore[index]
            f"p95 {out[name]['p95_ms']:7.2f} ms"
        )  # type: ignore[index]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # as a server process runs it
    rng = np.random.default_rng(0)
    results = [run(int(n), args.requests, rng) for n in args.sizes.split(",")]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "feed_pipeline",
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "threads": 1,
        "requests_per_case": args.requests,
        "results": results,
    }
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
