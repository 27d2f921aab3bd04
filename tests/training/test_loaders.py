"""Reading and checking the evaluation data set, and caching its embeddings on disk
(training.loaders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ranking.errors import DataError
from tests.support import WordEmbedder, eval_catalogue, planted, write_dataset
from training.loaders import EmbeddingCache, load_catalogue, load_interactions


def test_embeddings_are_cached_on_disk(tmp_path: Path) -> None:
    embedder = WordEmbedder()
    texts = eval_catalogue().texts()
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


def test_the_real_dataset_loads(shared_data: Path) -> None:
    folder = shared_data / "citeulike-a"
    cat = load_catalogue(folder / "papers.jsonl")
    data = load_interactions(folder / "interactions.tsv", cat)
    assert len(cat) == 16_980 and data.matrix.nnz == 158_365
