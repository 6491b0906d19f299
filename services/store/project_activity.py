"""What projects have seen (`project_activity`, migration 0009, and the monitors projection):
the figures a project's serializations carry. One query for any number of projects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from picket.store.client import Store

# The `first_event` of a project that has sessions, feedback or transactions but no event.
_NO_EVENT = datetime(2299, 12, 31, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Activity:
    first_event: datetime | None = None
    environments: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    has_sessions: bool = False
    has_user_reports: bool = False
    has_transactions: bool = False
    has_monitors: bool = False


NONE = Activity()


def activity(store: Store, project_ids: list[int]) -> dict[int, Activity]:
    """Each project's activity (a project that saw nothing is absent: `NONE`)."""
    if not project_ids:
        return {}
    rows = store.query(
        "SELECT if(a.project_id != 0, a.project_id, m.project_id), a.first_event, a.environments, a.platforms, a.has_sessions, a.has_user_reports,"
        " a.has_transactions, m.project_id != 0 FROM ("
        " SELECT project_id, min(first_event) AS first_event, groupUniqArrayArray(environments) AS environments,"
        " groupUniqArrayArray(platforms) AS platforms, max(has_sessions) AS has_sessions,"
        " max(has_user_reports) AS has_user_reports, max(has_transactions) AS has_transactions"
        " FROM {db}.project_activity WHERE project_id IN {p:Array(UInt64)} GROUP BY project_id) AS a"
        # A project that ever had a monitor has monitors, as Sentry's flag stays set once set.
        " FULL OUTER JOIN (SELECT DISTINCT project_id FROM {db}.monitors FINAL"
        " WHERE project_id IN {p:Array(UInt64)}) AS m ON m.project_id = a.project_id",
        {"p": project_ids},
    )
    out = {}
    for project_id, first, environments, platforms, sessions, reports, transactions, monitors in rows:
        first = None if first is None else first if first.tzinfo else first.replace(tzinfo=timezone.utc)
        out[project_id] = Activity(
            first_event=None if first is None or first >= _NO_EVENT or first.year < 1971 else first,
            environments=tuple(sorted(environments or ())), platforms=tuple(sorted(platforms or ())),
            has_sessions=bool(sessions), has_user_reports=bool(reports), has_transactions=bool(transactions),
            has_monitors=bool(monitors),
        )
    return out
