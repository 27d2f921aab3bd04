"""Model artifacts on disk: immutable, versioned folders written atomically.

A folder `<root>/<version>/` holds `model.txt` (LightGBM's text format), `manifest.json`
(feature names and their hash, parameters, metrics, data window, library versions, the
model's sha256) and any report files. It is written under a temporary name and renamed
into place, so a reader never sees half an artifact and nothing is ever overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ranking.errors import ArtifactError
from ranking.features import NAMES, names_hash

MODEL_FILE = "model.txt"
MANIFEST_FILE = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_artifact(
    root: Path,
    version: str,
    model_text: str,
    manifest: Mapping[str, Any],
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a new artifact folder `root/version`; refuses to replace an existing one."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / version
    if final.exists():
        raise ArtifactError(f"artifact {final} already exists; versions are immutable")
    model_bytes = model_text.encode()
    full_manifest = {**manifest, "version": version, "model_sha256": sha256(model_bytes)}
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=root))
    try:
        files = {
            MODEL_FILE: model_bytes,
            MANIFEST_FILE: json.dumps(full_manifest, indent=2, sort_keys=True).encode(),
            **(extra_files or {}),
        }
        for name, data in files.items():
            with (tmp / name).open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        tmp.chmod(0o755)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


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
