"""Onboarding: the topics and papers a reader says they care about."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from litestar import get, put
from litestar.params import JSONBody

from ranking.errors import InvalidInput
from ranking.profile import build_profile, onboarding_weight
from service import wire
from service.auth import requires
from service.routes.body import StrictJSON
from service.routes.params import UserPath
from service.routes.problems import problems
from service.runtime import Runtime, RuntimeDep
from storage.feeds import HISTORY_EVENTS, interactions
from storage.interests import interests, set_interests, unknown_papers

OWN = requires("admin", readers="own")


async def _weight(runtime: Runtime, user_id: str) -> float:
    """The weight the reader's interests have in their feed now (`profile.onboarding_weight`)."""
    history = await runtime.store.user_history(user_id, HISTORY_EVENTS)
    return onboarding_weight(len(build_profile(interactions(history, datetime.now(UTC))).saved))


@put(
    "/v1/users/{user_id:str}/interests",
    tags=["readers"],
    responses=problems(422),
    guards=[OWN],
    dto=StrictJSON[wire.InterestsIn],
)
async def put_interests(
    user_id: UserPath, data: JSONBody[wire.InterestsIn], runtime: RuntimeDep
) -> wire.Interests:
    """Replace the reader's interests: free-text `topics` (embedded with the papers' model)
    and/or `paper_ids` they like. The very next feed is shaped by them; as the reader saves
    papers, the interests' weight fades (halved every 5 saves, gone after 22). Unknown or
    withdrawn papers are refused (422, naming them); both lists empty clears the interests."""
    topics = list(dict.fromkeys(t.strip() for t in data.topics))
    paper_ids = list(dict.fromkeys(data.paper_ids))
    unknown, withdrawn = await unknown_papers(runtime.store, paper_ids)
    if unknown or withdrawn:
        problems_found = []
        if unknown:
            problems_found.append(f"no paper with id {', '.join(map(repr, unknown))}")
        if withdrawn:
            problems_found.append(f"withdrawn: {', '.join(map(repr, withdrawn))}")
        raise InvalidInput(
            f"paper_ids must name papers in the catalogue; {'; '.join(problems_found)}",
            extra={"unknown_paper_ids": unknown + withdrawn},
        )
    vectors = await asyncio.to_thread(runtime.embedder.embed, topics)
    set_at = await set_interests(
        runtime.store, user_id, topics, paper_ids, vectors, runtime.embedder.name
    )
    weight = await _weight(runtime, user_id)
    return wire.Interests(user_id, topics, paper_ids, set_at, round(weight, 4))


@get("/v1/users/{user_id:str}/interests", tags=["readers"], responses=problems(), guards=[OWN])
async def get_interests(user_id: UserPath, runtime: RuntimeDep) -> wire.Interests:
    """The reader's interests (empty lists if they set none) and their weight now."""
    row = await interests(runtime.store, user_id, runtime.index.dim)
    weight = round(await _weight(runtime, user_id), 4)
    if row is None:
        return wire.Interests(user_id, [], [], None, weight)
    return wire.Interests(user_id, row.topics, row.paper_ids, row.set_at, weight)


HANDLERS = [put_interests, get_interests]
