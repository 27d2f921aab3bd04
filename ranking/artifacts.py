"""Model artifacts on disk: immutable, versioned folders written atomically.

A folder `<root>/<version>/` holds `model.txt` (LightGBM's text format), `manifest.json`
(feature names and their hash, parameters, metrics, data window, library versions, the
model's sha256) and any report files. It is written under a temporary name and renamed
into place, so a reader never sees half an artifact and nothing is ever overwritten.
The collaborative models' artifacts (`paperfeed fit`) live in `<root>/collab/<version>/`
(below).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import scipy.sparse as sp

from ranking.catalogue import FactTable
from ranking.collab import Collaborative, CosaveLists, Factors, NeighbourTable
from ranking.errors import ArtifactError
from ranking.features import NAMES, names_hash
from ranking.index import Snapshot

MODEL_FILE = "model.txt"
MANIFEST_FILE = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def new_version_folder(root: Path, version: str) -> Iterator[Path]:
    """A temporary folder to fill, published as `root/version` in one rename when the
    block ends (removed if it fails); refuses to replace an existing version."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / version
    if final.exists():
        raise ArtifactError(f"artifact {final} already exists; versions are immutable")
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=root))
    try:
        yield tmp
        tmp.chmod(0o755)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_artifact(
    root: Path,
    version: str,
    model_text: str,
    manifest: Mapping[str, Any],
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a new artifact folder `root/version`; refuses to replace an existing one."""
    model_bytes = model_text.encode()
    full_manifest = {**manifest, "version": version, "model_sha256": sha256(model_bytes)}
    files = {
        MODEL_FILE: model_bytes,
        MANIFEST_FILE: json.dumps(full_manifest, indent=2, sort_keys=True).encode(),
        **(extra_files or {}),
    }
    with new_version_folder(root, version) as tmp:
        for name, data in files.items():
            write_synced(tmp / name, data)
    return root / version


def read_artifact(path: Path, feature_names: Sequence[str] = NAMES) -> tuple[str, dict[str, Any]]:
    """(model text, manifest) of a checked artifact.

    Raises ArtifactError if a file is missing or unreadable, the model does not match
    the checksum in its manifest, or it was trained on other features than `feature_names`.
    """
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
        model_bytes = (path / MODEL_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read model artifact {path}: {exc}") from exc
    if not isinstance(manifest, dict) or "feature_names" not in manifest:
        raise ArtifactError(f"{path / MANIFEST_FILE} is not a paperfeed model manifest")
    if manifest.get("model_sha256") != sha256(model_bytes):
        raise ArtifactError(
            f"{path / MODEL_FILE} does not match its manifest's checksum (corrupt?)"
        )
    if list(manifest["feature_names"]) != list(feature_names):
        missing = sorted(set(feature_names) - set(manifest["feature_names"]))
        extra = sorted(set(manifest["feature_names"]) - set(feature_names))
        raise ArtifactError(
            f"model {manifest.get('version')} was trained on other features "
            f"(hash {manifest.get('feature_hash')}, this code has {names_hash(feature_names)}; "
            f"missing here: {extra or 'none'}, new here: {missing or 'none'}); retrain it"
        )
    return model_bytes.decode(), manifest


REPORT_FILE = "report.md"


def read_report(path: Path) -> tuple[dict[str, Any], str | None, dict[str, bytes]]:
    """(manifest, report.md text, PNG plots by file name) of an artifact, for display.

    Not checked like `read_artifact`: a report is shown even for a model that would be
    refused. Missing pieces come back empty; an unreadable folder raises ArtifactError.
    """
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
        report = path / REPORT_FILE
        text = report.read_text() if report.is_file() else None
        plots = {p.name: p.read_bytes() for p in sorted(path.glob("*.png"))}
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read the report of model artifact {path}: {exc}") from exc
    return (manifest if isinstance(manifest, dict) else {}), text, plots


# --- collaborative models ----------------------------------------------------------------
#
# `<model dir>/collab/<version>/`: one `.npy` file per array and `manifest.json`. Servers
# open the arrays with `np.load(..., mmap_mode="r")` and use them in place (scipy and FAISS
# are given arrays of the dtypes they keep, so neither copies): every process on a machine
# shares the same pages of the page cache instead of holding its own copy.

COLLAB_DIR = "collab"
FACTORS_INDEX = "factors.faiss"
CONTENT_INDEX = "content.faiss"


def collab_root(model_dir: Path) -> Path:
    return model_dir / COLLAB_DIR


def _csr_arrays(prefix: str, table: NeighbourTable) -> dict[str, np.ndarray]:
    # scipy keeps the index dtype it chose when the table was built: saved as is, the
    # loader's csr_matrix keeps the memory-mapped arrays instead of converting them.
    w = sp.csr_matrix(table.weights)
    return {f"{prefix}.indptr": w.indptr, f"{prefix}.indices": w.indices, f"{prefix}.data": w.data}


def collab_arrays(models: Collaborative) -> dict[str, np.ndarray]:
    """The arrays of a fit, by file stem (`keys`: the papers every table is over, but
    EASE's, which is over the papers in `ease.keys`)."""
    keys = models.related.keys
    arrays = {
        "keys": np.ascontiguousarray(keys, dtype=np.int64),
        "cosaves.indptr": models.cosaves.indptr,
        "cosaves.indices": models.cosaves.indices,
        "cosaves.data": models.cosaves.counts,
        **_csr_arrays("related", models.related),
        **_csr_arrays("ease", models.ease),
        "ease.keys": np.ascontiguousarray(models.ease.keys, dtype=np.int64),
    }
    if models.factors is not None:
        arrays["factors.items"] = models.factors.items
        arrays["factors.gram"] = models.factors.gram
    return arrays


def _write_npy(path: Path, array: np.ndarray) -> str:
    """Write `array` as `.npy` and fsync it; its sha256."""
    with path.open("wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    return _file_sha256(path)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_collab(
    model_dir: Path,
    version: str,
    models: Collaborative,
    manifest: Mapping[str, Any],
    snapshot: Snapshot | None = None,
) -> Path:
    """Write a collaborative fit as `<model_dir>/collab/<version>/` (atomically, never over
    an existing version), with the catalogue's content index if `snapshot`; its manifest
    gets each file's shape, dtype and sha256."""
    root = collab_root(model_dir)
    arrays = collab_arrays(models)
    if snapshot is not None:
        arrays["content.keys"] = snapshot.keys
        if snapshot.facts is not None:
            arrays |= {f"facts.{k}": v for k, v in snapshot.facts.arrays().items()}
    with new_version_folder(root, version) as tmp:
        files: dict[str, dict[str, Any]] = {}
        for stem, array in arrays.items():
            name = f"{stem}.npy"
            files[name] = {
                "shape": list(array.shape),
                "dtype": array.dtype.str,
                "sha256": _write_npy(tmp / name, array),
            }
        factors = models.factors
        if factors is not None:
            faiss.write_index(factors.search, str(tmp / FACTORS_INDEX))
            files[FACTORS_INDEX] = {"sha256": _file_sha256(tmp / FACTORS_INDEX)}
        if snapshot is not None:
            faiss.write_index(snapshot.index, str(tmp / CONTENT_INDEX))
            files[CONTENT_INDEX] = {"sha256": _file_sha256(tmp / CONTENT_INDEX)}
        full = {
            **manifest,
            "content": None
            if snapshot is None
            else {
                "model": snapshot.model,
                "dim": snapshot.index.d,
                "papers": len(snapshot.keys),
                "horizon": snapshot.horizon,
                "approximate": isinstance(snapshot.index, faiss.IndexHNSW),
            },
            "kind": "collab",
            "version": version,
            "papers": len(models.related.keys),
            "files": files,
            "factors": None
            if factors is None
            else {"regularization": factors.regularization, "alpha": factors.alpha},
        }
        write_synced(tmp / MANIFEST_FILE, json.dumps(full, indent=2, sort_keys=True).encode())
    return root / version


def read_through(path: Path, chunk: int = 8 << 20) -> int:
    """Read every file of the artifact folder `path` once, front to back, and return the
    bytes read: the kernel then holds them in its page cache, where the memory maps find
    them, instead of reading them a page at a time at random as searches touch them."""
    buffer = bytearray(chunk)
    total = 0
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        with file.open("rb", buffering=0) as f:
            while n := f.readinto(buffer):
                total += n
    return total


def read_collab_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read collaborative artifact {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("kind") != "collab":
        raise ArtifactError(f"{path / MANIFEST_FILE} is not a collaborative-model manifest")
    return manifest


def verify_collab(path: Path) -> dict[str, Any]:
    """The manifest of an artifact whose files all match their sha256 (reads every byte:
    the fit job checks what it wrote; servers check shapes and dtypes only)."""
    manifest = read_collab_manifest(path)
    for name, entry in manifest["files"].items():
        try:
            actual = _file_sha256(path / name)
        except OSError as exc:
            raise ArtifactError(f"cannot read {path / name}: {exc}") from exc
        if actual != entry["sha256"]:
            raise ArtifactError(f"{path / name} does not match its manifest's checksum")
    return manifest


def _mapped(path: Path, name: str, entry: Mapping[str, Any]) -> np.ndarray:
    """The array in file `name`, memory-mapped read only, as a plain view of the mapping:
    np.memmap's own indexing costs microseconds a call, and a feed makes hundreds."""
    try:
        array: np.ndarray = np.load(path / name, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot map {path / name}: {exc}") from exc
    if list(array.shape) != entry["shape"] or array.dtype.str != entry["dtype"]:
        raise ArtifactError(
            f"{path / name} is {array.dtype.str}{list(array.shape)}, its manifest says "
            f"{entry['dtype']}{entry['shape']}"
        )
    return array.view(np.ndarray)  # its base is the mapping, which stays open with it


def _table(keys: np.ndarray, arrays: Mapping[str, np.ndarray], prefix: str) -> NeighbourTable:
    indptr, indices, data = (arrays[f"{prefix}.{part}"] for part in ("indptr", "indices", "data"))
    weights = sp.csr_matrix((data, indices, indptr), shape=(len(keys), len(keys)), copy=False)
    if not all(
        np.shares_memory(a, b)
        for a, b in ((weights.data, data), (weights.indices, indices), (weights.indptr, indptr))
        if len(b)
    ):
        raise ArtifactError(f"scipy copied the {prefix} table instead of mapping it")
    return NeighbourTable(keys, weights)


def _inner_product_index(path: Path) -> faiss.Index:
    """A flat or HNSW inner-product index (ranking.index.matrix_index) read from `path`,
    its vectors memory-mapped (IO_FLAG_MMAP_IFC) instead of read."""
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError as exc:  # FAISS could not read its file
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    known = isinstance(index, faiss.IndexFlatIP | faiss.IndexHNSWFlat)
    if not known or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise ArtifactError(f"{path} is not an inner-product index")
    return index


def load_snapshot(path: Path) -> Snapshot | None:
    """The content index the artifact at `path` holds (memory-mapped, read only), None if
    it holds none; ArtifactError if it is not readable or not what its manifest says."""
    manifest = read_collab_manifest(path)
    content = manifest.get("content")
    if content is None:
        return None
    files = manifest["files"]
    try:
        keys = _mapped(path, "content.keys.npy", files["content.keys.npy"])
        index = _inner_product_index(path / CONTENT_INDEX)
        if index.d != int(content["dim"]):
            raise ArtifactError(f"{path / CONTENT_INDEX} does not match its manifest")
        facts = None
        if any(name.startswith("facts.") for name in files):  # older artifacts have none
            arrays = {
                name.removeprefix("facts.").removesuffix(".npy"): _mapped(path, name, entry)
                for name, entry in files.items()
                if name.startswith("facts.")
            }
            facts = FactTable.of_arrays(keys, arrays)
        return Snapshot(index, keys, str(content["model"]), int(content["horizon"]), facts)
    except KeyError as exc:
        raise ArtifactError(f"content index of {path} is incomplete: {exc}") from exc
    except ValueError as exc:
        raise ArtifactError(f"content index of {path}: {exc}") from exc


def load_collab(path: Path) -> Collaborative:
    """The collaborative models of the artifact at `path`, over memory-mapped arrays (read
    only); ArtifactError if it is not readable or not what its manifest says."""
    manifest = read_collab_manifest(path)
    files = manifest["files"]
    arrays = {
        name.removesuffix(".npy"): _mapped(path, name, entry)
        for name, entry in files.items()
        if name.endswith(".npy")
    }
    try:
        keys = arrays["keys"]
        cosaves = CosaveLists(
            keys, arrays["cosaves.indptr"], arrays["cosaves.indices"], arrays["cosaves.data"]
        )
        factors = None
        if manifest["factors"] is not None:
            # Flat, or an HNSW graph above PAPERFEED_ANN_MIN_PAPERS (ranking.index.matrix_index).
            search = _inner_product_index(path / FACTORS_INDEX)
            factors = Factors(
                keys,
                arrays["factors.items"],
                arrays["factors.gram"],
                float(manifest["factors"]["regularization"]),
                float(manifest["factors"]["alpha"]),
                search,
            )
        return Collaborative(
            cosaves=cosaves,
            related=_table(keys, arrays, "related"),
            factors=factors,
            # Older artifacts hold EASE over every paper of `keys`.
            ease=_table(arrays.get("ease.keys", keys), arrays, "ease"),
            version=str(manifest["version"]),
        )
    except (KeyError, RuntimeError) as exc:  # RuntimeError: FAISS could not read its file
        raise ArtifactError(f"collaborative artifact {path} is incomplete: {exc}") from exc
