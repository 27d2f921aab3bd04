"""The offline evaluation protocol on tiny hand-made data: no leaks, hand-computed
metrics, reproducible seeds, and every baseline finding a planted structure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from paperfeed.cli import main
from training.baselines import ALS, BASELINES, EASE
from training.evaluate import (
    METRICS,
    EvalConfig,
    coverage,
    evaluate,
    evaluated_rows,
    top_items,
    user_metrics,
    write_outputs,
)
from training.loaders import (
    Catalogue,
    DataError,
    EmbeddingCache,
    Interactions,
    load_catalogue,
    load_interactions,
)
from training.protocol import EvalContext, MethodSpec, holdout

GROUP_ITEMS = 100  # group A saves items 0-99, group B 100-199; 200-299 nobody saves


def planted(users_per_group: int = 30, saves: int = 15, seed: int = 0) -> Interactions:
    """Two user groups with disjoint item sets, plus papers nobody saves."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(2 * users_per_group):
        offset = GROUP_ITEMS * (user // users_per_group)
        for item in rng.choice(GROUP_ITEMS, saves, replace=False):
            rows.append(user)
            cols.append(offset + item)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(2 * users_per_group, 300)
    )
    return Interactions(matrix, [f"u{i}" for i in range(2 * users_per_group)])


def catalogue(n: int = 300) -> Catalogue:
    topics = ["alpha graph network", "beta protein gene", "gamma stellar galaxy"]
    words = ["learning", "model", "analysis", "method", "study", "data"]
    titles = [f"{topics[i // GROUP_ITEMS]} {words[i % 6]} {words[(i // 6) % 6]}" for i in range(n)]
    return Catalogue([str(i) for i in range(n)], titles, [""] * n)


class WordEmbedder:
    """A stand-in for MiniLM: hashed bag of words, unit length; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 64), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, sum(map(ord, word)) % 64] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def context(tmp_path: Path, embedder: WordEmbedder | None = None) -> EvalContext:
    found = embedder or WordEmbedder()
    cache = EmbeddingCache("words", lambda: found, tmp_path / "cache")
    return EvalContext(catalogue(), embeddings_cache=cache, threads=1, progress=False)


CONFIG = EvalConfig(seeds=(0,), validation_users=20, batch=16, progress=False)


class RandomScores:
    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        self.rng = np.random.default_rng(context.seed)
        self.n_items = train.shape[1]

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self.rng.random((len(users), self.n_items))


@dataclass
class Spy:
    """Records every matrix a method is shown."""

    seen: list[sp.csr_matrix] = field(default_factory=list)

    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        self.seen.append(train.copy())
        self.n_items = train.shape[1]

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        self.seen.append(history.copy())
        return np.zeros((len(users), self.n_items), np.float32)


def test_holdout_moves_a_fifth_of_each_library_into_test() -> None:
    data = planted()
    rows = np.arange(0, 60, 2)  # every other user is evaluated
    split = holdout(data.matrix, rows, 0.2, seed=3)
    assert split.train.multiply(split.test).nnz == 0
    assert (split.train + split.test != data.matrix).nnz == 0
    assert np.all(np.diff(split.test.indptr)[rows] == 3)  # 15 saves × 0.2
    others = np.setdiff1d(np.arange(60), rows)
    assert split.test[others].nnz == 0


def test_no_method_ever_sees_a_test_item(tmp_path: Path) -> None:
    data = planted()
    spies: list[Spy] = []

    def make(**params: object) -> Spy:
        spies.append(Spy())
        return spies[-1]

    spec = MethodSpec(make, ({"a": 1}, {"a": 2}))  # two entries: tuning runs too
    evaluate(data, {"spy": spec}, context(tmp_path), EvalConfig(seeds=(0, 1), progress=False))
    assert len(spies) == 6  # per seed: two tuning fits and the final one
    for seed, group in ((0, spies[:3]), (1, spies[3:])):
        split = holdout(data.matrix, evaluated_rows(data, 5, None), 0.2, seed)
        for spy in group:
            for matrix in spy.seen:
                assert matrix.shape[1] == 300
                if matrix.shape[0] == 60:  # a fitted matrix: all users
                    assert matrix.multiply(split.test).nnz == 0
        # Scored histories of the final fit are exactly the training rows.
        final = sp.vstack(group[-1].seen[1:])
        assert (final != split.train[split.users]).nnz == 0


def test_metrics_match_hand_computed_values() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    history = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1]]))
    top = top_items(scores, history, 5)
    assert top.tolist() == [[1, 2, 3, 4, 5], [4, 3, 2, 1, 0]]
    # User 0 finds its test items at ranks 2 and 4; user 1 its only one at rank 5.
    test = sp.csr_matrix(np.array([[0, 0, 1, 0, 1, 0], [1, 0, 0, 0, 0, 0]]))
    got = user_metrics(top, test)
    assert got["recall@20"] == pytest.approx([1.0, 1.0])
    assert got["curve"][:, 2] == pytest.approx([1 / 2, 0.0])  # recall@3: 1 of min(3, 2)
    assert got["curve"][:, 0] == pytest.approx([0.0, 0.0])
    dcg0 = 1 / np.log2(3) + 1 / np.log2(5)
    assert got["ndcg@10"] == pytest.approx([dcg0 / (1 + 1 / np.log2(3)), 1 / np.log2(6)])
    # Top 2 of both users: items 1, 2, 3, 4 out of 6.
    assert coverage([top], 6, k=2) == pytest.approx(4 / 6)


def test_recall_divides_by_k_when_the_test_set_is_larger() -> None:
    top = np.array([[0, 1]])
    test = sp.csr_matrix(np.array([[1, 0, 1, 1, 1]]))
    assert user_metrics(top, test)["curve"][0].tolist() == [1.0, 0.5]


def test_the_same_seed_gives_the_same_numbers(tmp_path: Path) -> None:
    methods = {"itemknn": BASELINES["itemknn"], "popularity": BASELINES["popularity"]}
    config = EvalConfig(seeds=(0, 1), validation_users=20, progress=False)
    first = evaluate(planted(), methods, context(tmp_path), config)
    again = evaluate(planted(), methods, context(tmp_path), config)
    for name in methods:
        for metric in METRICS:
            values = first["methods"][name][metric]["per_seed"]
            assert values == again["methods"][name][metric]["per_seed"]
    assert len(set(first["methods"]["itemknn"]["recall@20"]["per_seed"])) == 2


def test_every_baseline_beats_random_on_planted_groups(tmp_path: Path) -> None:
    data = planted()
    # The registered ALS grid (128+ factors) is sized for real data, not for 60 users.
    small_als = MethodSpec(ALS, ({"factors": 4, "alpha": 1.0},))
    methods = {**BASELINES, "small-als": small_als, "random": MethodSpec(RandomScores)}
    results = evaluate(data, methods, context(tmp_path), CONFIG)["methods"]
    chance = results["random"]["recall@50"]["mean"]
    assert chance < 0.3
    for name in BASELINES:
        assert results[name]["recall@50"]["mean"] > chance + 0.1, name
    # Methods that see the groups put (nearly) only the right group's items first.
    for name in ("itemknn", "small-als", "ease", "rp3beta", "content-mean", "content-max"):
        assert results[name]["recall@50"]["mean"] > 0.5, name


def test_embeddings_are_cached_on_disk(tmp_path: Path) -> None:
    embedder = WordEmbedder()
    texts = catalogue().texts()
    cache = EmbeddingCache("words", lambda: embedder, tmp_path, chunk=64)
    first = cache.get(texts, progress=False)
    assert embedder.calls == 5 and first.shape == (300, 64)
    fresh = EmbeddingCache("words", lambda: embedder, tmp_path)
    assert np.array_equal(fresh.get(texts, progress=False), first)
    assert embedder.calls == 5  # read back, not embedded again
    assert fresh.path_for(texts) != fresh.path_for([*texts[:-1], "changed"])
    assert EmbeddingCache("other", lambda: embedder, tmp_path).path_for(texts) != fresh.path_for(
        texts
    )
    assert np.allclose(first, embedder.embed(texts))  # order kept despite length sorting


def test_outputs_are_written(tmp_path: Path) -> None:
    methods = {"popularity": BASELINES["popularity"]}
    results = evaluate(planted(), methods, context(tmp_path), CONFIG)
    paths = write_outputs(results, tmp_path / "out")
    assert [p.name for p in paths] == ["results.json", "recall.png", "report.md"]
    saved = json.loads(paths[0].read_text())
    assert set(METRICS) <= set(saved["methods"]["popularity"])
    assert len(saved["methods"]["popularity"]["recall@50"]["per_seed"]) == 1
    assert "hits in top K / min(K, |test|)" in paths[2].read_text()


def write_dataset(folder: Path, data: Interactions) -> tuple[Path, Path]:
    papers, saves = folder / "papers.jsonl", folder / "interactions.tsv"
    cat = catalogue()
    papers.write_text(
        "".join(
            json.dumps({"item_id": int(i), "title": t}) + "\n"
            for i, t in zip(cat.item_ids, cat.titles, strict=True)
        )
    )
    rows, cols = data.matrix.nonzero()
    saves.write_text(
        "user_id\titem_id\n" + "".join(f"{r}\t{c}\n" for r, c in zip(rows, cols, strict=True))
    )
    return papers, saves


def test_loaders_read_and_check_files(tmp_path: Path) -> None:
    papers, saves = write_dataset(tmp_path, planted())
    cat = load_catalogue(papers)
    assert len(cat) == 300 and cat.item_ids[5] == "5"
    with saves.open("a") as f:
        f.write("0\t3\n0\t3\n")  # saved again: still one save
    data = load_interactions(saves, cat)
    assert data.matrix.shape == (60, 300) and data.matrix.max() == 1.0
    with pytest.raises(DataError, match="no such file"):
        load_catalogue(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.tsv"
    bad.write_text("user\titem\n0\t1\n")
    with pytest.raises(DataError, match="header"):
        load_interactions(bad, cat)
    bad.write_text("user_id\titem_id\n0\t1\n0\t999\n")
    with pytest.raises(DataError, match=r"bad.tsv:3: item 999 is not in the papers file"):
        load_interactions(bad, cat)


def test_eval_command_writes_a_report(tmp_path: Path) -> None:
    papers, saves = write_dataset(tmp_path, planted())
    out = tmp_path / "out"
    args = ["eval", "interactions", "--papers", str(papers), "--interactions", str(saves)]
    result = CliRunner().invoke(
        main, [*args, "--seeds", "0,1", "--methods", "popularity,rp3beta", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "| rp3beta |" in result.output
    assert (out / "report.md").is_file() and (out / "recall.png").is_file()
    result = CliRunner().invoke(main, [*args, "--methods", "nope"])
    assert result.exit_code == 2 and "unknown ['nope']" in result.output


def test_the_real_dataset_loads(shared_data: Path) -> None:
    folder = shared_data / "citeulike-a"
    cat = load_catalogue(folder / "papers.jsonl")
    data = load_interactions(folder / "interactions.tsv", cat)
    assert len(cat) == 16_980 and data.matrix.nnz == 158_365


def test_named_users_are_evaluated_and_the_others_validate(tmp_path: Path) -> None:
    data = planted()
    named = [f"u{i}" for i in range(0, 60, 3)]
    methods = {"popularity": BASELINES["popularity"]}
    results = evaluate(data, methods, context(tmp_path), CONFIG, eval_users=named)
    assert results["protocol"]["evaluated_users"] == 20
    assert results["protocol"]["validation_users_also_evaluated"] == 0
    with pytest.raises(DataError, match="have no saves"):
        evaluate(data, methods, context(tmp_path), CONFIG, eval_users=["nobody"])


def test_ease_matches_its_closed_form(tmp_path: Path) -> None:
    train = planted().matrix
    ease = EASE(l2=5.0)
    ease.fit(train, context(tmp_path))
    x = train.toarray().astype(np.float64)
    inverse = np.linalg.inv(x.T @ x + 5.0 * np.eye(300))
    weights = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(weights, 0.0)
    # Items nobody saved (200-299 and a few others) have zero weights and are left out.
    saved = np.flatnonzero(x.sum(axis=0))
    assert len(saved) < 200 and np.array_equal(ease.active, saved)
    unsaved = np.setdiff1d(np.arange(300), saved)
    assert np.allclose(weights[unsaved], 0) and np.allclose(weights[:, unsaved], 0)
    assert np.allclose(ease.weights, weights[np.ix_(saved, saved)], atol=1e-5)
    scores = ease.score(np.arange(3), train[:3])
    assert np.allclose(scores, x[:3] @ weights, atol=1e-4)
