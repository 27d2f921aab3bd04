"""paperfeed's own pipeline as an evaluation method: the service's candidate generation,
features and LightGBM ranker (`ranking.pipeline`), run over an interaction dataset.

The ranker learns from the training matrix alone. A share of its readers' saves is held
out as targets; the collaborative models behind the features are fitted without those
targets (otherwise the features would already contain the label), every such reader's
remaining saves go through the served pipeline, and each candidate is labelled 1 if it is
one of that reader's targets. For scoring, the models are fitted again on the whole
training matrix. Evaluated readers' test items never reach any of this (the runner
removes them from the training matrix).

The dataset has no dates, clicks or impressions: every paper counts as published now and
every save as recent, so the fresh source is empty and the 7- and 30-day save counts are
all-time counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import lightgbm
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from ranking import features, pipeline
from ranking.candidates import DEFAULT_LIMITS, Limits
from ranking.collab import DEFAULT_PARAMS, CollabParams
from ranking.index import VectorIndex
from ranking.model import LightGBMRanker
from ranking.profile import Interaction
from ranking.stats import CatalogueStats, PaperStats
from training.lambdarank import LambdaRankParams
from training.protocol import EvalContext, MethodSpec, Split, holdout

NOW = 0.0  # the dataset's clock: papers are published and saved "now"


def one_request_at_a_time() -> threadpool_limits:
    """One BLAS thread while running the pipeline reader by reader: its matrices are
    tiny (a 256×256 solve for the ALS fold-in), and two threads only wait on each other."""
    return threadpool_limits(1, "blas")


def catalogue_stats(train: sp.csr_matrix, params: CollabParams, version: str) -> CatalogueStats:
    """The statistics snapshot the service would compute if `train` were its saves."""
    readers, papers = train.nonzero()
    counts = np.bincount(papers, minlength=train.shape[1])
    per_paper = {
        int(j): PaperStats(saves_7d=int(counts[j]), saves_30d=int(counts[j]))
        for j in np.flatnonzero(counts)
    }
    return CatalogueStats.from_saves(version, per_paper, readers, papers, params)


@dataclass(frozen=True)
class ServedIndex:
    """The served pipeline's view of the dataset's papers."""

    index: VectorIndex
    facts: dict[int, features.PaperFacts]

    @classmethod
    def build(cls, context: EvalContext) -> ServedIndex:
        vectors = context.embeddings()
        index = VectorIndex(vectors.shape[1])
        index.upsert(np.arange(len(vectors)), vectors)
        facts = {
            j: features.PaperFacts(len(abstract), NOW)
            for j, abstract in enumerate(context.catalogue.abstracts)
        }
        return cls(index, facts)

    def candidates(
        self, saved: np.ndarray, stats: CatalogueStats, limits: Limits
    ) -> tuple[np.ndarray, np.ndarray]:
        """(keys, feature rows) of the candidates the service would rank for a reader who
        saved `saved`."""
        interactions = [Interaction(int(j), "save", 0.0) for j in saved]
        plan = pipeline.plan(self.index, interactions, stats, [], set(), NOW, limits)
        cands, _, built = pipeline.featurize(plan, self.index, self.facts)
        return cands.keys, built.matrix


@dataclass
class Groups:
    """The ranker's training data: one group per training reader with a target among
    their candidates."""

    split: Split  # history (train) and targets (test) of the chosen readers
    stats: CatalogueStats  # fitted on `split.train`: without the targets
    matrices: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)


def ranker_groups(
    served: ServedIndex,
    train: sp.csr_matrix,
    readers: int,
    fraction: float,
    params: CollabParams,
    limits: Limits,
    seed: int,
    progress: bool = False,
) -> Groups:
    """Hold out `fraction` of the saves of up to `readers` random training readers (5+
    saves) as targets, fit the collaborative models without them, and label each chosen
    reader's candidates: 1 for a target, 0 otherwise."""
    rng = np.random.default_rng([seed, 2])
    eligible = np.flatnonzero(np.diff(train.indptr) >= 5)
    rows = np.sort(rng.permutation(eligible)[:readers])
    split = holdout(train, rows, fraction, seed + 2_000_003)
    # Fitted without the targets: the features must not contain the labels.
    groups = Groups(split, catalogue_stats(split.train, params, f"groups-{seed}"))
    with one_request_at_a_time():
        for row in tqdm(rows, desc="ranker groups", disable=not progress):
            saved = split.train.indices[split.train.indptr[row] : split.train.indptr[row + 1]]
            targets = split.test.indices[split.test.indptr[row] : split.test.indptr[row + 1]]
            keys, matrix = served.candidates(saved, groups.stats, limits)
            label = np.isin(keys, targets)
            if label.any():
                groups.matrices.append(matrix)
                groups.labels.append(label.astype(np.float32))
                groups.sizes.append(len(keys))
    return groups


class ServedPipeline:
    """Candidates, features and a LightGBM lambdarank ranker, exactly as served.

    Defaults were chosen on the validation split of CiteULike-a (training readers only):
    small, strongly regularised trees (7 leaves, 300 rows a leaf, 150 trees) ranked best;
    early stopping on held-out groups, more trees or leaves, 4,000 instead of 3,000 groups
    and a truncated lambdarank did not help.
    """

    def __init__(
        self,
        groups: int = 3000,
        target_fraction: float = 0.2,
        rounds: int = 150,
        objective: str = "lambdarank",
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_data_in_leaf: int = 300,
        rp3_alpha: float = DEFAULT_PARAMS.rp3_alpha,
        rp3_beta: float = DEFAULT_PARAMS.rp3_beta,
        factor_count: int = DEFAULT_PARAMS.factors,
        factor_alpha: float = DEFAULT_PARAMS.factor_alpha,
        ease_items: int = DEFAULT_PARAMS.ease_items,
        ease_neighbours: int = DEFAULT_PARAMS.ease_neighbours,
        ease_positive_only: bool = DEFAULT_PARAMS.ease_positive_only,
    ) -> None:
        self.groups, self.target_fraction = groups, target_fraction
        self.rounds, self.learning_rate = rounds, learning_rate
        self.objective = objective
        self.num_leaves, self.min_data_in_leaf = num_leaves, min_data_in_leaf
        # The served candidate limits (the dataset has no dates, so no fresh candidates).
        self.limits = DEFAULT_LIMITS
        self.collab = replace(
            DEFAULT_PARAMS,
            rp3_alpha=rp3_alpha,
            rp3_beta=rp3_beta,
            factors=factor_count,
            factor_alpha=factor_alpha,
            ease_items=ease_items,
            ease_neighbours=ease_neighbours,
            ease_positive_only=ease_positive_only,
        )
        self.trees = 0

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        import faiss

        faiss.omp_set_num_threads(1)  # one query at a time, as a server runs them
        self.threads, self.progress = context.threads, context.progress
        params = replace(self.collab, seed=context.seed, threads=context.threads)
        self.served = ServedIndex.build(context)
        self.ranker = self._train_ranker(train, params, context.seed)
        self.stats = catalogue_stats(train, params, f"eval-{context.seed}")

    def _train_ranker(
        self, train: sp.csr_matrix, params: CollabParams, seed: int
    ) -> LightGBMRanker:
        groups = ranker_groups(
            self.served,
            train,
            self.groups,
            self.target_fraction,
            params,
            self.limits,
            seed,
            self.progress,
        )
        return self._fit_booster(groups.matrices, groups.labels, groups.sizes, seed)

    def _fit_booster(
        self, matrices: list[np.ndarray], labels: list[np.ndarray], sizes: list[int], seed: int
    ) -> LightGBMRanker:
        if not sizes:
            raise ValueError("no training reader has a target among their candidates")
        params = LambdaRankParams(
            self.objective,
            self.learning_rate,
            self.num_leaves,
            self.min_data_in_leaf,
            sample_fraction=0.8,
        ).lightgbm(seed, self.threads)
        data = lightgbm.Dataset(
            np.vstack(matrices),
            np.concatenate(labels),
            group=sizes,
            feature_name=list(features.NAMES),
        )
        booster = lightgbm.train(params, data, self.rounds)
        self.trees = booster.num_trees()
        return LightGBMRanker(booster.model_to_string(), "eval")

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """The ranker's score for each reader's candidates; -inf for every other paper
        (the service never shows those)."""
        scores = np.full(history.shape, -np.inf, dtype=np.float32)
        with one_request_at_a_time():
            for i in range(len(users)):
                saved = history.indices[history.indptr[i] : history.indptr[i + 1]]
                keys, matrix = self.served.candidates(saved, self.stats, self.limits)
                if len(keys):
                    scores[i, keys] = self.ranker.score(matrix)
        return scores


PAPERFEED = MethodSpec(ServedPipeline, ({},), "the service's candidates, features and ranker")
