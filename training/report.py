"""The human-readable part of a model artifact: report.md and its two plots."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def artifact_report(
    version: str,
    metrics: Mapping[str, Mapping[str, float]],
    importance: Mapping[str, float],
    manifest: Mapping[str, Any],
) -> dict[str, bytes]:
    """report.md and two PNG plots for the artifact folder."""
    # A bare Figure, not pyplot: no global backend switch (a notebook that trains keeps
    # its inline plots) and nothing to close.
    from matplotlib.figure import Figure

    def png(draw: Callable[[Any], None], title: str) -> bytes:
        fig = Figure(figsize=(7, 4))
        ax = fig.subplots()
        draw(ax)
        ax.set_title(title)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()

    names = list(metrics)

    def draw_ndcg(ax: Any) -> None:
        x = np.arange(len(names))
        for i, k in enumerate(("ndcg@5", "ndcg@10")):
            ax.bar(x + (i - 0.5) * 0.38, [metrics[n][k] for n in names], 0.38, label=k.upper())
        ax.set_xticks(x, names)
        ax.set_ylim(0, 1)
        ax.legend()

    top = sorted(importance.items(), key=lambda kv: kv[1])[-15:]

    def draw_importance(ax: Any) -> None:
        ax.barh([k for k, _ in top], [v for _, v in top])
        ax.set_xlabel("total gain")

    rows = "\n".join(
        f"| {n} | {metrics[n]['ndcg@5']:.4f} | {metrics[n]['ndcg@10']:.4f} |" for n in names
    )
    data = manifest["data"]
    md = f"""# Model {version}

Trained on feeds served {data["first_served"]} .. {data["last_served"]}, in time order:
{data["train_groups"]} feeds ({data["train_rows"]} impressions) for training, the next
{data["selection_groups"]} feeds ({data["selection_rows"]} impressions) to choose the number
of trees, the latest {data["comparison_groups"]} feeds ({data["comparison_rows"]} impressions)
for the comparison below, which neither training nor the choice of trees saw.

NDCG with each gain divided by the probability that readers look at its slot
(examination ∝ (1+position)^-{manifest["position_bias_exponent"]:.2f}, estimated from the
exploration slots).

| ranker (comparison feeds) | NDCG@5 | NDCG@10 |
|---|---|---|
{rows}

Promotion gate: {manifest["gate"]["verdict"]}. {manifest["gate"]["rule"]}

![NDCG by ranker](ndcg.png)

![Feature importance](importance.png)
"""
    return {
        "report.md": md.encode(),
        "ndcg.png": png(draw_ndcg, "NDCG on the comparison window"),
        "importance.png": png(draw_importance, "Feature importance (gain)"),
    }
