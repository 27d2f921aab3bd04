"""Benchmark: the feed's in-process ranking work (profile, retrieval, features, scoring,
diversification) per request, by catalogue size and ranker. Storage is not included.

    .venv/bin/python bench/feed_pipeline.py [--sizes 10000,100000] [--readers 20000]
        [--requests 200]

Writes bench/results/feed_pipeline.json. Vectors are clustered (64 topics); readers save
papers from one or two topics, and the statistics snapshot's collaborative models (co-saves,
RP3beta, ALS, EASE) are fitted on their saves, as `paperfeed fit` does (timed too).
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

from ranking import collab, features, pipeline
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


def library(topic: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """`size` papers of one or two random topics, the most popular ones more often."""
    liked_topics = rng.choice(64, size=int(rng.integers(1, 3)), replace=False)
    pool = np.flatnonzero(np.isin(topic, liked_topics))
    weights = 1.0 / np.arange(1, len(pool) + 1) ** 0.7  # pool is in key order: a Zipf tail
    return rng.choice(pool, size=min(len(pool), size), replace=False, p=weights / weights.sum())


def run(n: int, readers: int, requests: int, rng: np.random.Generator) -> dict[str, object]:
    vectors, topic = catalogue(n, rng)
    index = VectorIndex(DIM)
    index.upsert(np.arange(n), vectors)
    libraries = [library(topic, rng, 15) for _ in range(readers)]
    reader_ids = np.repeat(np.arange(readers), [len(lib) for lib in libraries])
    saved = np.concatenate(libraries)
    counts = np.bincount(saved, minlength=n)
    papers = {
        int(k): PaperStats(saves_7d=int(counts[k]), saves_30d=int(counts[k]), impressions_30d=50)
        for k in np.flatnonzero(counts)
    }
    start = time.perf_counter()
    params = collab.CollabParams(threads=1)  # as a server with PAPERFEED_THREADS=1 fits them
    stats = CatalogueStats.from_saves("bench", papers, reader_ids, saved, params)
    fit_s = time.perf_counter() - start
    print(f"{n:>8} papers  collaborative models on {len(saved):,} saves: {fit_s:.1f} s")
    facts = {k: features.PaperFacts(800, 0.0) for k in range(n)}
    rankers: dict[str, Ranker] = {"heuristic": HeuristicRanker(), "lightgbm": trained_ranker(rng)}
    out: dict[str, object] = {"papers": n, "saves": len(saved), "collab_fit_s": round(fit_s, 1)}
    for name, ranker in rankers.items():
        times, sizes = [], []
        for _ in range(requests):
            liked = library(topic, rng, 30)
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
    parser.add_argument("--readers", type=int, default=20_000, help="readers with 15 saves")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON report")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # as a server process runs it
    rng = np.random.default_rng(0)
    results = [run(int(n), args.readers, args.requests, rng) for n in args.sizes.split(",")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "feed_pipeline",
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "threads": 1,
        "requests_per_case": args.requests,
        "readers": args.readers,
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
