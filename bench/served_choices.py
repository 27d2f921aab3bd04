"""The served pipeline's EASE design choices, made on a validation split of CiteULike-a's
training readers (the test split is never read here).

The split is the one `paperfeed eval interactions` tunes baselines on for seed 0: each
evaluated reader's test items are held out first (`holdout`), then a validation split is
carved from what remains (`validation_split`). Each variant changes one setting of
`ServedPipeline`'s defaults; it is fitted on the validation split's training matrix and
scored on its validation items. The variant with the best validation Recall@50 (the
evaluation's `SELECT_BY`) wins, and the defaults (`ranking.collab.CollabParams`,
`ServedPipeline`) follow it.

    .venv/bin/python bench/served_choices.py     # 5-20 minutes a variant on 2 cores

writes bench/results/served_choices.json after each variant; a rerun skips the variants
already there (delete the file to start afresh).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from ranking.embedder import model_fingerprint
from service.settings import load_settings
from service.worker import load_embedder
from training.evaluate import SELECT_BY, EvalConfig, evaluated_rows, run_method, validation_split
from training.loaders import EmbeddingCache, load_catalogue, load_interactions
from training.protocol import EvalContext, holdout
from training.served import ServedPipeline

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "citeulike-a"
OUT = Path(__file__).resolve().parent / "results" / "served_choices.json"

# The defaults (each paper keeps its 1,000 largest EASE weights by magnitude), then one
# change each: no EASE at all; 250 or 4,000 weights; only the 1,000 largest positive ones.
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults (EASE by magnitude, 1000)": {},
    "no EASE": {"ease_items": 0},
    "EASE by magnitude, 250": {"ease_neighbours": 250},
    "EASE by magnitude, 4000": {"ease_neighbours": 4000},
    "EASE positive only, 1000": {"ease_positive_only": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path(".paperfeed/cache"))
    args = parser.parse_args()
    config = EvalConfig(seeds=(args.seed,))
    settings = load_settings()
    threads = os.cpu_count() or 1
    catalogue = load_catalogue(DATA / "papers.jsonl")
    data = load_interactions(DATA / "interactions.tsv", catalogue)
    cache = EmbeddingCache(
        model_fingerprint(settings.resolved_model_path()),
        lambda: load_embedder(settings),
        args.cache_dir,
    )
    context = EvalContext(catalogue, seed=args.seed, embeddings_cache=cache, threads=threads)
    split = holdout(
        data.matrix, evaluated_rows(data, config.min_saves, None), config.test_fraction, args.seed
    )
    val = validation_split(
        split, config.test_fraction, config.validation_users, config.min_saves, args.seed
    )
    done = json.loads(OUT.read_text()) if OUT.exists() else {}
    results = done.get("variants", {}) if done.get("seed") == args.seed else {}
    for name, params in VARIANTS.items():
        if name in results:
            continue
        started = time.perf_counter()
        method = ServedPipeline(**params)
        method.fit(val.train, context)
        metrics = run_method(method, val, config.batch)
        results[name] = {
            "params": params,
            "validation recall@50": round(float(metrics["recall@50"]), 4),
            "validation ndcg@10": round(float(metrics["ndcg@10"]), 4),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(name, results[name], flush=True)
        best = max(results, key=lambda n: results[n][f"validation {SELECT_BY}"])
        summary = {
            "seed": args.seed,
            "validation_users": len(val.users),
            "select_by": f"validation {SELECT_BY}",
            "chosen": best if len(results) == len(VARIANTS) else None,
            "variants": results,
        }
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"chosen: {max(results, key=lambda n: results[n][f'validation {SELECT_BY}'])}")


if __name__ == "__main__":
    main()
