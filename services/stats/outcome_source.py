"""The deduplicated outcome rows an aggregate query reads, as one subquery. Pure.

Columns: org_id, project_id, key_id, category, outcome, reason, timestamp, quantity, times_seen
(the number of outcome messages a row stands for). Bound parameters `start` and `end`
(`DateTime('UTC')`) give the range [start, end).

- Hour-aligned queries read the hourly rollup for the sealed hours and the recent rows (few,
  read with FINAL) for the hours after the horizon — the hour after the newest seal
  (`picket.store.rollup`). The horizon is a scalar subquery, so ClickHouse folds it to
  a constant before it picks the parts and granules to read.
- Anything finer (10-second or 5-minute buckets, a range not on the hour) reads the exact store.
"""

from __future__ import annotations

from collections.abc import Sequence

from picket.store.rollup import current_versions_sql, horizon_sql
from picket.store.rollups import OUTCOMES

_SEALED = """\
    SELECT org_id, project_id, key_id, category, outcome, reason, hour AS timestamp, quantity, times_seen
    FROM {db}.outcomes_hourly
    WHERE %(where)s
      AND hour >= {start:DateTime('UTC')} AND hour < {end:DateTime('UTC')} AND hour < %(horizon)s
      AND (hour, version) IN (%(versions)s)"""

_RECENT = """\
    SELECT org_id, project_id, key_id, category, outcome, reason, timestamp, quantity, toUInt64(1) AS times_seen
    FROM {db}.outcomes_recent FINAL
    WHERE %(where)s
      AND timestamp >= {start:DateTime('UTC')} AND timestamp < {end:DateTime('UTC')}
      AND timestamp >= %(horizon)s"""

_EXACT = """\
    SELECT org_id, project_id, key_id, category, outcome, reason, timestamp, quantity, toUInt64(1) AS times_seen
    FROM {db}.outcomes_raw FINAL
    WHERE %(where)s
      AND timestamp >= {start:DateTime('UTC')} AND timestamp < {end:DateTime('UTC')}"""


def outcome_rows(where: Sequence[str], *, hourly: bool) -> str:
    """The subquery (without parentheses) of outcome rows matching every condition in `where`
    (over the columns above, `timestamp` excepted) within [start, end). `hourly`: the caller
    buckets by whole hours over an hour-aligned range (see `rollup.hour_aligned`)."""
    conditions = "\n      AND ".join(where) or "1"
    if not hourly:
        return _EXACT % {"where": conditions}
    parts = {"where": conditions, "horizon": horizon_sql(OUTCOMES), "versions": current_versions_sql(OUTCOMES)}
    return _SEALED % parts + "\n    UNION ALL\n" + _RECENT % parts
