"""Release lists by release health: which sessions query orders them, and the order it gives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from picket.stats.periods import InvalidParams
from picket.stats.release_sorts import health_query, rank

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


@dataclass
class R:
    version: str


def test_the_query_groups_the_figure_by_release_over_the_summary_period() -> None:
    q = health_query("crash_free_users", org_id=1, project_ids=[5, 6], environments=["prod"], period=None, now=NOW)
    assert q.fields == ("crash_free_rate(user)",) and q.group_by == ("release",)
    assert q.project_ids == (5, 6) and q.environments == ("prod",)
    assert (NOW - q.start).days >= 14 and q.interval == 86400  # 14d by default, in days
    short = health_query("sessions", org_id=1, project_ids=[5], environments=[], period="24h", now=NOW)
    assert short.interval == 3600
    with pytest.raises(InvalidParams):
        health_query("sessions", org_id=1, project_ids=[5], environments=[], period="5d", now=NOW)


def test_rank_orders_by_the_figure_and_leaves_out_releases_without_sessions() -> None:
    q = health_query("crash_free_sessions", org_id=1, project_ids=[5], environments=[], period="24h", now=NOW)
    # totals rows (bucket null): release, bucket, sessions, crashed, abnormal, errored
    rows = [("a", None, 10, 5, 0, 5), ("b", None, 4, 0, 0, 0), ("c", None, 8, 2, 0, 2)]
    releases = [R("d"), R("a"), R("b"), R("c")]
    assert [x.version for x in rank("crash_free_sessions", releases, q, rows)] == ["b", "c", "a"]
    by_count = health_query("sessions", org_id=1, project_ids=[5], environments=[], period="24h", now=NOW)
    assert [x.version for x in rank("sessions", releases, by_count, rows)] == ["a", "c", "b"]
