from typing import get_args

from ranking.candidates import SOURCES
from service import wire


def test_every_candidate_source_is_a_documented_reason() -> None:
    assert set(get_args(wire.Reason)) == {*SOURCES, "search", "explore"}
