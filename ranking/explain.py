"""Explanations a reader understands: one sentence per feed item, built only from facts
the plan holds (the paper named really is one the reader saved, opened or picked)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from ranking.pipeline import Plan, Ranked, topic_of

# How a liked paper came to be in the reader's profile, as the sentence says it.
SAVED = "which you saved"
PICKED = "which you picked as an interest"
OPENED = "which you opened"


def explanation(
    plan: Plan,
    item: Ranked,
    titles: Mapping[int, str],
    age_days: float,
    cosaved: Mapping[int, list[int]] | None = None,
) -> str:
    """The sentence for `item` of a feed planned as `plan`. `titles` maps index keys of
    the reader's liked papers to their titles; `age_days` is the paper's age; `cosaved` is
    `cosaved_index(plan)`, made once for all of a feed's items (made here if not given).

    The strongest true statement wins: a random (exploration) pick says so; then the
    liked paper or onboarding topic it is most similar to, whichever is closer; then
    co-saves with the reader's saved papers; other readers' tastes; popularity;
    freshness.
    """
    if item.explored:
        return "A wildcard: picked at random so your feed is not only more of the same"
    sources = set(item.sources)
    if "similar" in sources:
        similar = _similar(plan, item, titles)
        if similar:
            return similar
    if "collaborative" in sources:
        saved = (cosaved if cosaved is not None else cosaved_index(plan)).get(item.key, [])
        if len(saved) == 1 and saved[0] in titles:
            return f"Readers who saved *{titles[saved[0]]}* also saved this"
        if saved:
            return f"Saved by readers who saved {len(saved)} of your papers"
    if sources & {"collaborative", "related", "factors", "ease"}:
        return "Saved by readers whose saves are like yours"
    if "popular" in sources:
        stats = plan.context.stats.of(item.key)
        counts = _counts(stats.saves_7d, stats.clicks_7d)
        return f"Popular this week ({counts})" if counts else "Popular this week"
    if "fresh" in sources:
        days = int(age_days)
        when = "today" if days < 1 else "yesterday" if days < 2 else f"{days} days ago"
        return f"New: published {when}"
    return "Recommended for you"


def _similar(plan: Plan, item: Ranked, titles: Mapping[int, str]) -> str | None:
    """The liked paper or onboarding topic the item is closest to, if there is one."""
    liked = item.similar_to
    topic = topic_of(liked) if liked is not None else None
    if topic is not None and topic < len(plan.topics):
        return f"Matches your interest in {plan.topics[topic]}"
    if liked is None or liked not in titles:
        return None
    if liked in plan.profile.saved:
        how = SAVED
    elif liked in plan.onboarding_keys:
        how = PICKED
    else:
        how = OPENED
    return f"Similar to *{titles[liked]}*, {how}"


def cosaved_index(plan: Plan, shown: Collection[int] | None = None) -> dict[int, list[int]]:
    """For every paper someone saved together with one of the reader's saved papers (every
    one of `shown`, when given): those saved papers, most co-saves first. Made once per
    feed from the saved papers' co-save lists, not once per item."""
    cosaves = plan.context.stats.models.cosaves
    saved, keys, together = cosaves.entries(list(plan.profile.saved))
    if shown is not None:
        kept = np.isin(keys, np.fromiter(shown, dtype=np.int64, count=len(shown)))
        saved, keys, together = saved[kept], keys[kept], together[kept]
    found: dict[int, list[int]] = {}
    # By paper, then most co-saves, then the smaller saved paper's key.
    order = np.lexsort((saved, -together.astype(np.int64), keys))
    for key, s in zip(keys[order].tolist(), saved[order].tolist(), strict=True):
        found.setdefault(key, []).append(s)
    return found


def _counts(saves: int, clicks: int) -> str:
    parts = [
        f"{n} {word}{'' if n == 1 else 's'}"
        for n, word in ((saves, "save"), (clicks, "click"))
        if n > 0
    ]
    return " and ".join(parts)
