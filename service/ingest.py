"""`paperfeed ingest`: load a catalogue file into the database in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from service.records import parse_record, read_records
from storage.rows import PaperRow
from storage.store import Store

BATCH = 500


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    # (line number, reason)
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def lines(self, path: Path, show_rejected: int = 10) -> list[str]:
        out = [
            f"{path}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.rejected)} rejected"
        ]
        for number, reason in self.rejected[:show_rejected]:
            out.append(f"  line {number}: {reason}")
        if len(self.rejected) > show_rejected:
            out.append(f"  ... and {len(self.rejected) - show_rejected} more")
        return out


async def ingest_file(store: Store, path: Path, *, progress: bool = True) -> IngestSummary:
    """Upsert every valid record of `path` (JSON Lines or CSV); report the rest."""
    summary = IngestSummary()
    batch: list[tuple[int, PaperRow]] = []
    seen: dict[str, int] = {}

    async def flush() -> None:
        if not batch:
            return
        outcome = await store.upsert_papers([row for _, row in batch])
        summary.added += len(outcome.added)
        summary.updated += len(outcome.updated)
        summary.unchanged += len(outcome.unchanged)
        line_of = {row.id: number for number, row in batch}
        for paper_id in outcome.withdrawn:
            summary.rejected.append((line_of[paper_id], f"paper {paper_id!r} was withdrawn"))
        batch.clear()

    with tqdm(desc="ingest", unit=" papers", disable=not progress) as bar:
        for number, record in read_records(path):
            bar.update()
            if isinstance(record, str):
                summary.rejected.append((number, record))
                continue
            try:
                row = parse_record(record)
            except ValueError as exc:
                summary.rejected.append((number, str(exc)))
                continue
            if row.id in seen:
                summary.rejected.append((number, f"id {row.id!r} repeats line {seen[row.id]}"))
                continue
            seen[row.id] = number
            batch.append((number, row))
            if len(batch) >= BATCH:
                await flush()
        await flush()
    summary.rejected.sort()
    return summary
