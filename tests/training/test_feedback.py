"""Click and save rates of logged impressions (training.feedback)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support import rows_for
from training.dataset import Gains
from training.feedback import Rates, rates_by


def test_rates_count_clicks_saves_and_propensities_per_key() -> None:
    # Four feeds of three; in each the paper at position 0 is saved, at 1 clicked in the
    # first feed only; position 2 of the first feed was an exploration slot.
    rows = [replace(r, label=3 if r.position == 0 else 0) for r in rows_for(4, size=3)]
    rows[1] = replace(rows[1], label=1)
    rows[2] = replace(rows[2], explored=True, propensity=0.25)
    by_position = rates_by(rows, lambda r: r.position)
    assert list(by_position) == [0, 1, 2]
    assert sum(r.shown for r in by_position.values()) == 12
    assert sum(r.saves for r in by_position.values()) == 4
    # A saved paper counts as clicked through as well.
    assert sum(r.clicks for r in by_position.values()) == 5

    by_slot = rates_by(rows, lambda r: r.explored)
    assert by_slot[True] == Rates(shown=1, clicks=0, saves=0, propensity_sum=0.25)
    assert by_slot[False].mean_propensity == 1.0
    assert by_slot[False].click_rate == pytest.approx(by_slot[False].clicks / 11)

    # Labels follow the gains the rows were labelled with.
    relabelled = [replace(r, label={3: 5, 1: 2}.get(r.label, 0)) for r in rows]
    custom = rates_by(relabelled, lambda r: 0, Gains(save=5, click=2))
    assert (custom[0].clicks, custom[0].saves) == (5, 4)
    assert Rates().click_rate == Rates().save_rate == Rates().mean_propensity == 0.0
