"""The collaborative models' artifact (`paperfeed fit` writes it, servers load it): files
and manifest, arrays used in place from memory-mapped files (no copy, so that worker
processes share the pages), checksums, and an empty fit."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from ranking import collab
from ranking.ann import AnnParams
from ranking.artifacts import load_collab, load_snapshot, verify_collab, write_collab
from ranking.catalogue import FactTable, PaperMeta
from ranking.collab import CollabParams
from ranking.errors import ArtifactError
from ranking.index import Snapshot, matrix_index


def group_saves() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    readers, papers = [], []
    for reader in range(40):
        for paper in rng.choice(20, 6, replace=False):
            readers.append(reader)
            papers.append(100 * (reader // 20) + int(paper))
    return np.array(readers), np.array(papers)


def mapped_file(array: np.ndarray) -> str | None:
    """The file that `array` is a memory-mapped view of (None: it is in its own memory)."""
    seen: object = array
    while isinstance(seen, np.ndarray):
        if isinstance(seen, np.memmap):
            return Path(str(seen.filename)).name
        seen = seen.base
    return None


def test_loaded_models_are_memory_mapped_and_score_as_fitted(tmp_path: Path) -> None:
    readers, papers = group_saves()
    fitted = collab.fit(readers, papers, CollabParams(factors=4, ease_neighbours=10))
    path = write_collab(tmp_path, "collab-a", fitted, {"fit_seconds": 1.5})
    assert path == tmp_path / "collab" / "collab-a"
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["version"] == "collab-a" and manifest["papers"] == 40
    assert manifest["fit_seconds"] == 1.5 and manifest["factors"]["alpha"] == 30.0
    assert manifest["files"]["factors.items.npy"]["shape"] == [40, 4]
    assert manifest["files"]["related.data.npy"]["dtype"] == "<f4"
    assert sorted(p.name for p in path.iterdir()) == sorted([*manifest["files"], "manifest.json"])

    loaded = load_collab(path)
    assert loaded.version == "collab-a"
    factors = loaded.factors
    assert factors is not None
    in_place = {
        "keys": loaded.related.keys,
        "cosaves.indices": loaded.cosaves.indices,
        "cosaves.data": loaded.cosaves.counts,
        "related.data": loaded.related.weights.data,
        "related.indices": loaded.related.weights.indices,
        "related.indptr": loaded.related.weights.indptr,
        "ease.data": loaded.ease.weights.data,
        "ease.indices": loaded.ease.weights.indices,
        "ease.indptr": loaded.ease.weights.indptr,
        "ease.keys": loaded.ease.keys,
        "factors.items": factors.items,
        "factors.gram": factors.gram,
    }
    for name, array in in_place.items():
        # scipy and the tables kept the mapped arrays: no copy in this process's memory.
        assert mapped_file(array) == f"{name}.npy", name
        assert not array.flags.writeable, name  # read-only pages: shared, never dirtied
    assert loaded.related.keys is loaded.cosaves.papers
    # EASE's table is over the papers it has weights for only.
    assert np.isin(loaded.ease.keys, loaded.related.keys).all()
    # FAISS maps its flat index's vectors too (IO_FLAG_MMAP_IFC) instead of reading them.
    assert str((path / "factors.faiss").resolve()) in Path("/proc/self/maps").read_text()

    assert dict(loaded.cosaves) == dict(fitted.cosaves) and len(loaded.cosaves) == 40
    for history in ([0, 1, 2], [100, 105], [999]):
        for table in ("related", "ease"):
            got = getattr(loaded, table).scores(history)
            want = getattr(fitted, table).scores(history)
            assert got.keys.tolist() == want.keys.tolist()
            np.testing.assert_allclose(got.values, want.values, rtol=1e-6)
    assert fitted.factors is not None
    taste = factors.fold_in([0, 1, 2])
    np.testing.assert_allclose(taste, fitted.factors.fold_in([0, 1, 2]), rtol=1e-5)
    assert factors.top(taste, 5) == fitted.factors.top(taste, 5)
    np.testing.assert_allclose(
        factors.score(taste, [0, 100]), fitted.factors.score(taste, [0, 100])
    )

    with pytest.raises(ArtifactError, match="immutable"):
        write_collab(tmp_path, "collab-a", fitted, {})


def test_a_corrupt_or_incomplete_artifact_is_refused(tmp_path: Path) -> None:
    readers, papers = group_saves()
    path = write_collab(
        tmp_path, "collab-b", collab.fit(readers, papers, CollabParams(factors=2)), {}
    )
    verify_collab(path)
    data = path / "related.data.npy"
    data.chmod(0o644)
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="checksum"):
        verify_collab(path)
    (path / "ease.indptr.npy").unlink()
    with pytest.raises(ArtifactError, match=r"ease\.indptr"):
        load_collab(path)
    with pytest.raises(ArtifactError, match="cannot read"):
        load_collab(tmp_path / "nowhere")


def test_an_empty_fit_round_trips(tmp_path: Path) -> None:
    # Every save deleted (a reader's data erased): the new artifact must hold nothing.
    path = write_collab(tmp_path, "collab-empty", collab.fit(np.zeros(0), np.zeros(0)), {})
    loaded = load_collab(path)
    assert len(loaded.related) == len(loaded.ease) == len(loaded.cosaves) == 0
    assert loaded.factors is None and loaded.related.scores([1]).keys.tolist() == []


def test_a_factor_graph_round_trips(tmp_path: Path) -> None:
    # Above PAPERFEED_ANN_MIN_PAPERS the fit stores an HNSW graph; servers load it as is.
    readers, papers = group_saves()
    params = CollabParams(factors=4, ease_neighbours=10, ann=AnnParams(min_papers=0))
    fitted = collab.fit(readers, papers, params)
    assert fitted.factors is not None and isinstance(fitted.factors.search, faiss.IndexHNSWFlat)
    loaded = load_collab(write_collab(tmp_path, "collab-graph", fitted, {})).factors
    assert loaded is not None and isinstance(loaded.search, faiss.IndexHNSWFlat)
    taste = fitted.factors.fold_in([100, 101, 102])
    assert loaded.top(taste, 10) == fitted.factors.top(taste, 10)


def test_the_content_index_round_trips_mapped_and_checked(tmp_path: Path) -> None:
    # `paperfeed fit` stores the catalogue's content index beside the models; servers map it.
    readers, papers = group_saves()
    fitted = collab.fit(readers, papers, CollabParams(factors=2))
    vectors = np.eye(8, dtype=np.float32)[[0, 1, 2, 3, 4]]
    keys = np.array([10, 20, 30, 40, 50])
    facts = FactTable.of([PaperMeta(int(k), f"p{k}", f"Paper {k}", 100, 1.7e9, "A") for k in keys])
    snapshot = Snapshot(matrix_index(vectors), keys, "minilm-x", horizon=123, facts=facts)
    path = write_collab(tmp_path, "collab-c", fitted, {}, snapshot)
    manifest = verify_collab(path)
    assert manifest["content"] == {
        "model": "minilm-x",
        "dim": 8,
        "papers": 5,
        "horizon": 123,
        "approximate": False,
    }
    loaded = load_snapshot(path)
    assert loaded is not None and (loaded.model, loaded.horizon) == ("minilm-x", 123)
    assert mapped_file(loaded.keys) == "content.keys.npy"
    assert loaded.rows(np.array([30, 10, 99, 5])).tolist() == [2, 0, -1, -1]
    assert loaded.index.search(vectors[2:3], 1)[1].tolist() == [[2]]
    # The papers' facts are mapped beside them.
    assert (
        loaded.facts is not None
        and mapped_file(loaded.facts.titles.blob) == "facts.titles.blob.npy"
    )
    assert loaded.facts.metas(loaded.rows(np.array([40]))) == facts.metas(np.array([3]))
    # So are the works' and first authors' codes the fit made (no work per server).
    assert loaded.facts.work_codes is not None and facts.work_codes is not None
    assert mapped_file(loaded.facts.work_codes) == "facts.work_codes.npy"
    assert loaded.facts.work_codes.tolist() == facts.work_codes.tolist()
    assert load_snapshot(write_collab(tmp_path, "collab-d", fitted, {})) is None
    (path / "content.faiss").write_bytes(b"not an index")
    with pytest.raises(ArtifactError, match=r"content\.faiss"):
        load_snapshot(path)
