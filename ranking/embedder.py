"""Sentence embeddings of papers and queries with a local sentence-transformers model."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Long abstracts add little beyond their start and cost quadratic attention time.
MAX_CHARS = 3000
# Batches encoded per call while holding the model: one `encode` call per batch costs
# measurably more than one per few, and a search query waits for at most these.
BATCHES_PER_CALL = 4


def paper_text(title: str, abstract: str) -> str:
    """The text that represents a paper in embedding space."""
    title, abstract = title.strip(), abstract.strip()
    text = f"{title}. {abstract}" if abstract else title
    return text[:MAX_CHARS]


def content_hash(title: str, abstract: str) -> str:
    """Changes exactly when the embedded text changes."""
    return hashlib.sha256(paper_text(title, abstract).encode()).hexdigest()[:32]


def model_fingerprint(model_path: str) -> str:
    """A short name that changes when the model folder's configuration or weights change."""
    folder = Path(model_path)
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*")):
        if file.is_file() and not file.name.startswith("."):
            digest.update(file.relative_to(folder).as_posix().encode())
            if file.suffix == ".json":
                digest.update(file.read_bytes())
            else:
                digest.update(str(file.stat().st_size).encode())
    name = folder.name if folder.name != "model" else folder.parent.name
    return f"{name}-{digest.hexdigest()[:10]}"


def model_identity(model_path: str) -> tuple[str, int]:
    """(name, dimension) of the embeddings the model folder makes, without loading it: the
    name is `Embedder.name`, the size its pooling layer's output."""
    pooling = Path(model_path) / "1_Pooling" / "config.json"
    dim = int(json.loads(pooling.read_text())["word_embedding_dimension"])
    return model_fingerprint(model_path), dim


class Embedder:
    """Unit-length float32 embeddings from a sentence-transformers model on the CPU.

    Safe to call from several threads: calls into the model are serialised so that a long
    run of batches and a search query do not fight over the same cores, and a query waits
    for at most `BATCHES_PER_CALL` batches.
    """

    def __init__(self, model_path: str, *, threads: int = 1, batch_size: int = 32) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.threads = threads  # torch threads for the next batch (`embed` applies it)
        self.model = SentenceTransformer(model_path, device="cpu")
        self.name = model_fingerprint(model_path)
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"cannot tell the embedding size of the model in {model_path}")
        self.dim = int(dim)
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length.

        A batch is padded to its longest text, so the texts are sorted by length first
        (as sentence-transformers does within one `encode` call) and encoded a few batches
        at a time: pass many texts at once and few batches mix a long text with short ones.
        """
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Longest first, by characters: the key sentence-transformers sorts by.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        step = self.batch_size * BATCHES_PER_CALL
        for start in range(0, len(texts), step):
            rows = order[start : start + step]
            with self._lock:
                # Per call, in the calling thread: torch's thread count is per thread under
                # OpenMP, and `threads` may have changed (the embedding claim raises it).
                if torch.get_num_threads() != self.threads:
                    torch.set_num_threads(self.threads)
                out[rows] = self.model.encode(
                    [texts[i] for i in rows],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        return out
