"""Catalogue endpoints: upsert, read, withdraw."""

from __future__ import annotations

from typing import Annotated

from litestar import delete, get, post
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK

from service import wire
from service.auth import requires
from service.catalogue import to_row
from service.errors import Gone, InvalidInput, NotFound
from service.routes.body import StrictJSON
from service.routes.problems import problems
from service.runtime import RuntimeDep
from service.store import PaperRow

PaperPath = Annotated[str, Parameter(pattern=wire.ID_PATTERN, description="Paper id")]


@post(
    "/v1/papers",
    status_code=HTTP_200_OK,
    tags=["papers"],
    responses=problems(413, 422),
    guards=[requires("papers:write")],
    dto=StrictJSON[wire.PaperBatch],
)
async def upsert_papers(
    data: JSONBody[wire.PaperBatch], runtime: RuntimeDep
) -> wire.PaperBatchResult:
    """Add or update up to 1,000 papers. Idempotent by `id`: sending the same paper again
    changes nothing; a changed title or abstract is embedded again. Withdrawn papers and
    repeated ids within a batch are rejected per paper."""
    rows: list[PaperRow] = []
    rejected: list[wire.Rejection] = []
    seen: dict[str, int] = {}
    for i, paper in enumerate(data.papers):
        if paper.id in seen:
            reason = f"id {paper.id!r} repeats papers[{seen[paper.id]}] in this batch"
            rejected.append(wire.Rejection(i, paper.id, reason))
            continue
        try:
            rows.append(to_row(paper))
        except ValueError as exc:
            rejected.append(wire.Rejection(i, paper.id, str(exc)))
            continue
        seen[paper.id] = i
    if not rows:
        raise InvalidInput("no paper in the batch was valid", extra={"rejected": rejected})
    outcome = await runtime.store.upsert_papers(rows)
    for paper_id in outcome.withdrawn:
        rejected.append(
            wire.Rejection(seen[paper_id], paper_id, "paper was withdrawn and cannot be re-added")
        )
    if outcome.added or outcome.updated:
        runtime.worker.wake()
    rejected.sort(key=lambda r: r.index)
    if not (outcome.added or outcome.updated or outcome.unchanged):
        raise InvalidInput("no paper in the batch was valid", extra={"rejected": rejected})
    return wire.PaperBatchResult(
        added=len(outcome.added),
        updated=len(outcome.updated),
        unchanged=len(outcome.unchanged),
        rejected=rejected,
    )


@get(
    "/v1/papers/{paper_id:str}",
    tags=["papers"],
    responses=problems(404, 410),
    guards=[requires("feed:read", readers="any")],
)
async def get_paper(paper_id: PaperPath, runtime: RuntimeDep) -> wire.Paper:
    """One paper, with whether it has been embedded yet."""
    row = await runtime.store.get_paper(paper_id)
    if row is None:
        raise NotFound(f"no paper with id {paper_id!r}")
    if row["withdrawn"]:
        raise Gone(f"paper {paper_id!r} was withdrawn")
    return wire.Paper(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=list(row["authors"]),
        categories=list(row["categories"]),
        published_at=row["published_at"],
        url=row["url"],
        embedded=row["embedded"],
        withdrawn=row["withdrawn"],
    )


@delete(
    "/v1/papers/{paper_id:str}",
    tags=["papers"],
    responses=problems(404),
    guards=[requires("papers:write")],
)
async def withdraw_paper(paper_id: PaperPath, runtime: RuntimeDep) -> None:
    """Withdraw a paper: it is never served again. Repeating the call changes nothing."""
    seq = await runtime.store.withdraw_paper(paper_id)
    if seq is None:
        raise NotFound(f"no paper with id {paper_id!r}")
    runtime.index.remove([seq])


HANDLERS = [upsert_papers, get_paper, withdraw_paper]
