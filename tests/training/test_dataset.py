"""Logged feeds as a training dataset (training.dataset)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from tests.support import rows_for
from training.dataset import LoadReport, from_rows


def test_dataset_groups_feeds_and_splits_by_time() -> None:
    rows = rows_for(10)
    rows += [replace(r, request_id=uuid.UUID(int=99), label=0) for r in rows_for(1)]
    rows += [replace(r, request_id=uuid.UUID(int=98), feature_names=["old"]) for r in rows_for(1)]
    data, report = from_rows(rows)
    assert report == LoadReport(feeds=12, unlabelled=1, other_features=1)
    assert (data.n_groups, data.n_rows) == (10, 50)
    train, valid = data.split_by_time(0.2)
    assert (train.n_groups, valid.n_groups) == (8, 2)
    assert max(train.served_at) < min(valid.served_at)
    assert valid.request_ids == [uuid.UUID(int=9), uuid.UUID(int=10)]
    windows = data.split_by_time(0.2, 0.3)
    assert [w.n_groups for w in windows] == [5, 2, 3]
    assert [r for w in windows for r in w.request_ids] == data.request_ids  # in time order
