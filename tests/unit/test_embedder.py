"""Embedding a window of papers: sorted by length for little padding, answered in order."""

from __future__ import annotations

import numpy as np

from ranking.embedder import Embedder


def test_a_window_comes_back_in_input_order_as_one_text_at_a_time(embedder: Embedder) -> None:
    # More than one call into the model, long and short texts interleaved, so sorting
    # moves them.
    texts = [
        f"Paper {i} on protein folding." if i % 10 else f"Paper {i}. " + "A long abstract. " * 40
        for i in range(140)
    ]
    window = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts[:8]])
    assert window.shape == (140, embedder.dim) and window.dtype == np.float32
    assert np.allclose(np.linalg.norm(window, axis=1), 1.0, atol=1e-5)
    # Padding is masked out: each text's vector is the one it gets on its own.
    assert np.all(np.sum(window[:8] * alone, axis=1) > 0.9999)
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_threads_apply_to_the_next_window(embedder: Embedder) -> None:
    import torch

    before = embedder.threads
    try:
        embedder.threads = 1
        embedder.embed(["one thread"])
        assert torch.get_num_threads() == 1
    finally:
        embedder.threads = before
