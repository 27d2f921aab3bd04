"""The offline evaluation (training.evaluate) on tiny hand-made data: no leaks,
hand-computed metrics, reproducible seeds, its outputs, and the `paperfeed eval` command."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from paperfeed.cli import main
from ranking.errors import DataError
from tests.support import CONFIG, context, planted, write_dataset
from training.baselines import BASELINES
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
from training.protocol import EvalContext, MethodSpec, holdout


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


def test_outputs_are_written(tmp_path: Path) -> None:
    methods = {"popularity": BASELINES["popularity"]}
    results = evaluate(planted(), methods, context(tmp_path), CONFIG)
    paths = write_outputs(results, tmp_path / "out")
    assert [p.name for p in paths] == ["results.json", "recall.png", "report.md"]
    saved = json.loads(paths[0].read_text())
    assert set(METRICS) <= set(saved["methods"]["popularity"])
    assert len(saved["methods"]["popularity"]["recall@50"]["per_seed"]) == 1
    assert "hits in top K / min(K, |test|)" in paths[2].read_text()


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


def test_named_users_are_evaluated_and_the_others_validate(tmp_path: Path) -> None:
    data = planted()
    named = [f"u{i}" for i in range(0, 60, 3)]
    methods = {"popularity": BASELINES["popularity"]}
    results = evaluate(data, methods, context(tmp_path), CONFIG, eval_users=named)
    assert results["protocol"]["evaluated_users"] == 20
    assert results["protocol"]["validation_users_also_evaluated"] == 0
    with pytest.raises(DataError, match="have no saves"):
        evaluate(data, methods, context(tmp_path), CONFIG, eval_users=["nobody"])
