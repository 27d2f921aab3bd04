"""Papers in: validation shared by the HTTP API and `paperfeed ingest`, and file reading."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from ranking.embedder import content_hash
from service import wire
from storage.rows import PaperRow

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def to_utc(moment: datetime, field: str) -> datetime:
    """`moment` in UTC. PostgreSQL refuses offsets beyond ±15:59 that RFC 3339 allows."""
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{field} {moment.isoformat()} is out of range") from exc


def to_row(paper: wire.PaperIn) -> PaperRow:
    """A validated paper (`wire.PaperIn` refuses blank titles and NUL characters) as a
    database row. Raises ValueError for a date out of range."""
    title = " ".join(paper.title.split())
    abstract = paper.abstract.strip()
    return PaperRow(
        id=paper.id,
        title=title,
        abstract=abstract,
        authors=[a.strip() for a in paper.authors if a.strip()],
        categories=[c.strip() for c in paper.categories if c.strip()],
        published_at=None
        if paper.published_at is None
        else to_utc(paper.published_at, "published_at"),
        url=paper.url,
        content_hash=content_hash(title, abstract),
    )


def id_from_title(title: str) -> str:
    """A stable id for a record that has none: a hash of its normalised title."""
    normal = " ".join(title.lower().split())
    return "t-" + hashlib.sha1(normal.encode()).hexdigest()[:16]


def parse_record(record: dict[str, Any]) -> PaperRow:
    """One file record as a row; raises ValueError with a readable reason."""
    record = {k: v for k, v in record.items() if v not in (None, "")}
    if "id" not in record and isinstance(record.get("title"), str):
        record["id"] = id_from_title(record["title"])
    for key in ("authors", "categories"):
        if isinstance(record.get(key), str):
            record[key] = [part for part in record[key].split(";") if part.strip()]
    if isinstance(record.get("published_at"), str) and _DATE_ONLY.match(record["published_at"]):
        record["published_at"] += "T00:00:00Z"
    try:
        paper = msgspec.convert(record, wire.PaperIn)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from exc
    return to_row(paper)


def catalogue_rows(path: Path) -> list[PaperRow]:
    """The papers of a catalogue file as `paperfeed ingest` stores them: invalid records
    and ids seen before are left out."""
    rows: dict[str, PaperRow] = {}
    for _, record in read_records(path):
        if isinstance(record, str):
            continue
        try:
            row = parse_record(record)
        except ValueError:
            continue
        rows.setdefault(row.id, row)
    return list(rows.values())


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record) for each record of a JSON Lines or CSV file.

    A record that cannot be parsed comes back as the error message instead.
    """
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            for number, row in enumerate(csv.DictReader(f), start=2):
                yield number, dict(row)
        return
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not valid JSON: {exc.msg}"
                continue
            yield number, record if isinstance(record, dict) else "not a JSON object"
