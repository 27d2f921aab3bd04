"""Serving a feed: what readers are told about why a paper is there (service.feed)."""

from __future__ import annotations

from typing import get_args

from ranking.candidates import SOURCES
from service import wire
from service.feed import reasons


def test_every_candidate_source_is_a_documented_reason() -> None:
    # Every collaborative model (co-saves, RP3beta, ALS) shows as "collaborative".
    shown = set(reasons(list(SOURCES)))
    assert shown == {"similar", "collaborative", "popular", "fresh"}
    assert set(get_args(wire.Reason)) == {*shown, "search", "explore"}
    assert reasons(["collaborative", "related", "factors", "popular"]) == [
        "collaborative",
        "popular",
    ]
