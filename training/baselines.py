"""Standard recommenders to compare the service's ranker with, each behind the `Method`
protocol of `training.evaluate` and each with a small grid tuned on validation users.

Every `score` returns a dense float32 (users × items) array; the runner masks history.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp

from ranking.collab import als, ease, keep_top_k, row_normalised, rp3beta
from training.protocol import EvalContext, MethodSpec


def _dense(product: Any) -> np.ndarray:
    """A sparse or dense matrix product as a dense float32 array."""
    if sp.issparse(product):
        return np.asarray(product.toarray(), dtype=np.float32)
    return np.asarray(product, dtype=np.float32)


class Popularity:
    """Most saved items first, the same list for everyone."""

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        self.counts = np.asarray(train.sum(axis=0), dtype=np.float32).ravel()

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.counts, (len(users), 1))


class ItemKNN:
    """Item-based kNN (Deshpande & Karypis 2004): cosine similarity of items' saver sets,
    with a shrink term against similarities resting on few co-saves, each item keeping
    its `k` nearest neighbours; an item scores the sum of its similarities to the history."""

    def __init__(self, k: int = 100, shrink: float = 10.0) -> None:
        self.k, self.shrink = k, shrink

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        items = sp.csr_matrix(train.T, dtype=np.float32)
        co = sp.csr_matrix(items @ items.T)
        co.setdiag(0)
        co.eliminate_zeros()
        norms = np.sqrt(np.asarray(items.sum(axis=1)).ravel())
        rows = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr))
        co.data /= norms[rows] * norms[co.indices] + self.shrink + 1e-9
        # Rows of `co` are the items to score: keep each one's k nearest, then transpose.
        self.weights = sp.csr_matrix(keep_top_k(co, self.k).T)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return _dense(history @ self.weights)


class RP3beta:
    """RP3beta (Paudel et al. 2017): three-step random walk item→user→item with
    transition probabilities raised to `alpha`, divided by the target's popularity to
    the power `beta`, keeping each item's `k` strongest neighbours."""

    def __init__(self, alpha: float = 0.6, beta: float = 0.3, k: int = 200) -> None:
        self.alpha, self.beta, self.k = alpha, beta, k

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        # The same table the service builds from its saves (ranking.collab).
        self.weights = rp3beta(train, self.alpha, self.beta, self.k)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return _dense(history @ self.weights)


class EASE:
    """EASE (Steck 2019): B = I - P / diag(P) with P = (XᵀX + λI)⁻¹, zero diagonal.

    Items nobody saved in training have all-zero Gram rows, hence zero weights: leaving
    them out of the inverse changes no score and saves cubic time. The weights are the
    service's (`ranking.collab.ease`) before it keeps each item's strongest neighbours.
    """

    def __init__(self, l2: float = 100.0) -> None:
        self.l2 = l2

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        self.active = np.flatnonzero(np.asarray(train.sum(axis=0)).ravel() > 0)
        self.weights = ease(train[:, self.active], self.l2, context.threads)
        self.n_items = train.shape[1]

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        scores = np.zeros((len(users), self.n_items), dtype=np.float32)
        scores[:, self.active] = _dense(history[:, self.active] @ self.weights)
        return scores


class ALS:
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) with the
    `implicit` package; users are the training rows, so their factors exist."""

    def __init__(
        self, factors: int = 128, regularization: float = 0.01, alpha: float = 10.0
    ) -> None:
        self.factors, self.regularization, self.alpha = factors, regularization, alpha

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        self.users, self.items = als(
            train,
            self.factors,
            self.regularization,
            self.alpha,
            iterations=15,
            threads=context.threads,
            seed=context.seed,
        )

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        scores: np.ndarray = self.users[users] @ self.items.T
        return scores


class ContentKNN:
    """Similarity of MiniLM embeddings (title and abstract) to the history: the mean
    (similarity to the centroid) or the maximum over history items."""

    def __init__(self, aggregate: str = "mean") -> None:
        if aggregate not in ("mean", "max"):
            raise ValueError(f"aggregate must be mean or max, not {aggregate}")
        self.aggregate = aggregate

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        self.vectors = context.embeddings()
        if self.aggregate == "max":
            # All pairs once (n² floats) beats a matrix product per user.
            self.similarity = self.vectors @ self.vectors.T

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        if self.aggregate == "mean":
            centroids = _dense(row_normalised(history) @ self.vectors)
            mean: np.ndarray = centroids @ self.vectors.T
            return mean
        scores = np.full((len(users), self.vectors.shape[0]), -np.inf, dtype=np.float32)
        for i in range(len(users)):
            seen = history.indices[history.indptr[i] : history.indptr[i + 1]]
            if len(seen):
                scores[i] = self.similarity[seen].max(axis=0)
        return scores


class TfidfSVM:
    """The arxiv-sanity approach: TF-IDF of title and abstract (words and bigrams) and a
    linear SVM per user, trained on the history against `negatives` random other papers
    (rather than the whole catalogue: about 10× faster at the same ranking quality)."""

    def __init__(self, c: float = 0.1, negatives: int = 2000) -> None:
        self.c, self.negatives = c, negatives

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectoriser = TfidfVectorizer(
            ngram_range=(1, 2),
            min_df=2,
            max_df=0.5,
            sublinear_tf=True,
            stop_words="english",
            dtype=np.float32,
        )
        self.features = sp.csr_matrix(vectoriser.fit_transform(context.catalogue.texts()))
        self.seed, self.threads = context.seed, context.threads

    def _weights(self, user: int, positives: np.ndarray) -> np.ndarray:
        from sklearn.svm import LinearSVC

        n_items = self.features.shape[0]
        rng = np.random.default_rng([self.seed, user])
        sample = rng.choice(n_items, min(self.negatives + len(positives), n_items), False)
        negatives = np.setdiff1d(sample, positives)[: self.negatives]
        rows = np.r_[positives, negatives]
        labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
        model = LinearSVC(C=self.c, class_weight="balanced", tol=1e-4, max_iter=2000)
        model.fit(self.features[rows], labels)
        return np.asarray(model.coef_[0], dtype=np.float32)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        saved = [
            history.indices[history.indptr[i] : history.indptr[i + 1]] for i in range(len(users))
        ]
        # liblinear releases the GIL: one reader's SVM per thread.
        with ThreadPoolExecutor(self.threads) as pool:
            weights = np.stack(list(pool.map(self._weights, users.tolist(), saved)))
        return _dense(self.features @ weights.T).T


# Grids: a few values around what worked on a validation split of CiteULike-a.
BASELINES: dict[str, MethodSpec] = {
    "popularity": MethodSpec(Popularity, about="most saved first"),
    "itemknn": MethodSpec(
        ItemKNN,
        tuple({"k": k, "shrink": s} for k in (50, 200) for s in (0.0, 10.0)),
        "item-item cosine on co-saves, top-k neighbours",
    ),
    "als": MethodSpec(
        ALS,
        tuple(
            {"factors": f, "regularization": 0.01, "alpha": a} for f in (128, 256) for a in (10, 30)
        ),
        "matrix factorisation (implicit)",
    ),
    "ease": MethodSpec(EASE, tuple({"l2": v} for v in (25.0, 50.0, 150.0)), "Steck 2019"),
    "rp3beta": MethodSpec(
        RP3beta,
        tuple({"alpha": a, "beta": b, "k": 200} for a in (0.4, 0.6, 0.8) for b in (0.2, 0.3)),
        "graph walk with popularity penalty",
    ),
    "content-mean": MethodSpec(ContentKNN, ({"aggregate": "mean"},), "MiniLM, centroid"),
    "content-max": MethodSpec(ContentKNN, ({"aggregate": "max"},), "MiniLM, nearest saved"),
    "tfidf-svm": MethodSpec(TfidfSVM, tuple({"c": c} for c in (0.1, 1.0)), "arxiv-sanity"),
}
