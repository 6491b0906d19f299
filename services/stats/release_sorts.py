"""A release list ordered by release health, as Sentry's `sort=sessions|users|crash_free_sessions|
crash_free_users`: the releases with sessions in the summary period (`summaryStatsPeriod`,
default 14d) of the chosen projects and environments, by that figure, highest first. Releases
without sessions in the period are left out, as Sentry's. Pure: the sessions query says what to
read, `rank` orders by what it read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from picket.stats import sessions
from picket.stats.periods import InvalidParams

HEALTH_SORTS = {
    "sessions": "sum(session)",
    "users": "count_unique(user)",
    "crash_free_sessions": "crash_free_rate(session)",
    "crash_free_users": "crash_free_rate(user)",
}
# Sentry's choices of `summaryStatsPeriod`.
SUMMARY_PERIODS = ("1h", "24h", "1d", "48h", "2d", "7d", "14d", "30d", "90d")
DEFAULT_PERIOD = "14d"

T = TypeVar("T")


def health_query(sort: str, *, org_id: int, project_ids: Sequence[int], environments: Sequence[str],
                 period: str | None, now: datetime) -> sessions.SessionsQuery:
    """The sessions query whose totals per release order the list (InvalidParams: a 400)."""
    period = period or DEFAULT_PERIOD
    if period not in SUMMARY_PERIODS:
        raise InvalidParams(f"Invalid summaryStatsPeriod: use one of {', '.join(SUMMARY_PERIODS)}.")
    # daily buckets keep 90 days within the interval limit; the hours of a short period are exact
    interval = "1h" if period in ("1h", "24h", "1d", "48h", "2d") else "1d"
    params = {
        "field": [HEALTH_SORTS[sort]], "groupBy": ["release"], "statsPeriod": [period], "interval": [interval],
        "includeSeries": ["0"], "project": [str(p) for p in project_ids], "environment": list(environments),
    }
    return sessions.parse(params, org_id=org_id, accessible_project_ids=project_ids, now=now)


def rank(sort: str, releases: Sequence[T], q: sessions.SessionsQuery, rows: Sequence[Any],
         version_of: Any = lambda x: x.version) -> list[T]:
    """`releases` with a value in the query's rows, highest first (ties keep their order)."""
    field = HEALTH_SORTS[sort]
    values = {key[0]: figures[field] for key, figures in sessions.totals(q, rows).items()}
    known = [x for x in releases if values.get(version_of(x)) is not None]
    return sorted(known, key=lambda x: values[version_of(x)], reverse=True)
