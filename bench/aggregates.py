"""Benchmark of the aggregate endpoints (stats_v2 and sessions) on a synthetic data set.

Run: `python -m bench.aggregates [--outcomes N] [--sessions N] [--orgs K] [--data-dir DIR]
[--repeat R] [--no-diagnose]`.

It opens an embedded chdb store (a fresh temporary directory unless `--data-dir` is given),
applies the migrations, generates rows inside ClickHouse (`INSERT ... SELECT ... FROM numbers(N)`:
no Python tuples), then runs each typical query R times through the endpoints' own builders
(`parse` → `sql` → `Store.query` → `response`) and prints p50/p99/min/max per query. Targets:
p50 ≤ 50 ms for one organization, ≤ 500 ms across all organizations. With diagnosis on (the
default) it also shows where the time goes: table sizes, the granules each query reads, and the
sessions queries once their table is fully merged.

Tables are loaded the way the worker leaves them in steady state: rows in `outcomes_raw` and
`sessions`, every past hour sealed into `outcomes_hourly` and `sessions_hourly` by the same
sealing passes the worker runs, and only the last two days in `outcomes_recent` (its TTL
applied).

Data shape: organizations have a skewed share of the traffic (the first is the largest, about
K^(-2/3) of all rows), each has 10 projects; timestamps spread uniformly over the 90 days before
now. Outcomes are mostly accepted, categories error/transaction/attachment/session/monitor/...
Session rows are individual updates (1-3 per session id, 2 on average, the last one carrying the
final status) plus 10% pre-aggregated rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from picket.stats import sessions as sessions_api
from picket.stats import stats_v2
from picket.store.client import Store
from picket.store.migrate import migrate
from picket.store.rollup import horizon, seal
from picket.store.rollups import OUTCOMES, SESSIONS

PROJECTS_PER_ORG = 10
DAYS = 90
DATABASE = "bench"
TARGET_ONE_ORG_MS = 50.0
TARGET_ALL_ORGS_MS = 500.0
ORG_CONDITION = "org_id = {org_id:UInt64}"

# --- synthetic data -------------------------------------------------------------------------------

# Shared pieces of the generators. `h(i)` is an independent 64-bit hash of the row number per salt.
# Organization index: floor(K * u^1.5) with u uniform in [0, 1) -> org 1 is the biggest.


def _org_expr(u: str, orgs: int) -> str:
    return f"toUInt64(1 + least({orgs - 1}, toUInt64(floor({orgs} * pow({u}, 1.5)))))"


def _outcomes_insert(n: int, orgs: int, now_ts: int) -> str:
    span = DAYS * 86400
    u_org = "(cityHash64(number, 1) % 1000000) / 1000000.0"
    return f"""
INSERT INTO {{db}}.outcomes_raw
    (org_id, project_id, key_id, timestamp, outcome, category, reason, quantity, dedupe_id)
SELECT
    org_id,
    project_id,
    project_id * 10 + cityHash64(number, 3) % 2 AS key_id,
    toDateTime({now_ts} - 1 - cityHash64(number, 4) % {span}, 'UTC') AS timestamp,
    outcome,
    category,
    multiIf(
        outcome = 0, '',
        outcome = 1, ['release-version', 'browser-extensions', 'error-message'][1 + cityHash64(number, 7) % 3],
        outcome = 2, ['smart_rate_limit', 'key_quota', 'org_quota'][1 + cityHash64(number, 7) % 3],
        outcome = 3, ['too_large', 'invalid_json', 'duplicate'][1 + cityHash64(number, 7) % 3],
        ['queue_overflow', 'sample_rate', 'network_error'][1 + cityHash64(number, 7) % 3]
    ) AS reason,
    multiIf(category = 4, 1000 + cityHash64(number, 8) % 999000,
            category IN (5, 10), 1 + cityHash64(number, 8) % 50,
            1) AS quantity,
    if(category IN (0, 1, 2, 3, 14),
       concat('event:', lower(hex(cityHash64(number, 9))), lower(hex(number))),
       concat('outcomes:', toString(number % 16), ':', toString(number))) AS dedupe_id
FROM (
    SELECT
        number,
        {_org_expr(u_org, orgs)} AS org_id,
        org_id * 1000 + 1 + cityHash64(number, 2) % {PROJECTS_PER_ORG} AS project_id,
        cityHash64(number, 5) % 100 AS o_roll,
        toUInt8(multiIf(o_roll < 90, 0, o_roll < 93, 1, o_roll < 97, 2, o_roll < 99, 3, 5)) AS outcome,
        cityHash64(number, 6) % 100 AS c_roll,
        toUInt8(multiIf(c_roll < 45, 1, c_roll < 80, 2, c_roll < 88, 4, c_roll < 95, 5,
                        c_roll < 98, 10, c_roll < 99, 0, 3)) AS category
    FROM numbers({n})
)"""


# A session's attributes are functions of its index `sid`, so every update of it agrees.
def _session_attrs(orgs: int, now_ts: int) -> str:
    span = DAYS * 86400
    u_org = "(cityHash64(sid, 11) % 1000000) / 1000000.0"
    return f"""
        {_org_expr(u_org, orgs)} AS org_id,
        org_id * 1000 + 1 + cityHash64(sid, 12) % {PROJECTS_PER_ORG} AS project_id,
        {now_ts} - 3600 - cityHash64(sid, 13) % {span - 3600} AS started_s,
        -- one release a week per project, some stragglers still on the previous one
        concat('app-', toString(project_id), '@1.', toString(
            greatest(0, intDiv(started_s - {now_ts - span}, 7 * 86400) - (cityHash64(sid, 14) % 10 = 0))
        ), '.0') AS release,
        ['production', 'production', 'production', 'production', 'production', 'production',
         'production', 'production', 'staging', 'development'][1 + cityHash64(sid, 15) % 10] AS environment,
        if(cityHash64(sid, 16) % 10 = 0, '', concat('user-', toString(cityHash64(sid, 17) % 20000))) AS distinct_id,
        cityHash64(sid, 18) % 100 AS f_roll,
        multiIf(f_roll < 85, 'exited', f_roll < 87, 'crashed', f_roll < 88, 'abnormal',
                f_roll < 93, 'errored', 'ok') AS final_status"""


def _sessions_insert(updates: int, aggregates: int, orgs: int, now_ts: int) -> tuple[str, str]:
    """Two statements: `updates` session-update rows, `aggregates` pre-aggregated rows."""
    # Blocks of 6 rows: session 3b has 1 update, 3b+1 has 2, 3b+2 has 3.
    individual = f"""
INSERT INTO {{db}}.sessions
    (org_id, project_id, session_id, seq, distinct_id, init, status, errors, started, timestamp,
     duration, release, environment, quantity, exited, errored, abnormal, crashed, aggregate, received)
SELECT
    org_id, project_id,
    lower(hex(cityHash64(sid, 10))) || lower(hex(sid)) AS session_id,
    seq, distinct_id, toUInt8(seq = 0) AS init,
    if(seq = updates - 1, final_status, 'ok') AS status,
    toUInt32(if(final_status = 'errored' OR (f_roll >= 95 AND f_roll < 97), seq, 0)) AS errors,
    fromUnixTimestamp64Milli(toInt64(started_s) * 1000, 'UTC') AS started,
    fromUnixTimestamp64Milli(toInt64(started_s + seq * 60) * 1000, 'UTC') AS timestamp,
    if(seq = updates - 1 AND final_status = 'exited', toFloat64(1 + cityHash64(sid, 19) % 3600), NULL) AS duration,
    release, environment,
    toUInt32(1) AS quantity, toUInt32(0) AS exited, toUInt32(0) AS errored, toUInt32(0) AS abnormal,
    toUInt32(0) AS crashed, toUInt8(0) AS aggregate, timestamp AS received
FROM (
    SELECT
        number,
        number % 6 AS p,
        intDiv(number, 6) * 3 + multiIf(p = 0, 0, p < 3, 1, 2) AS sid,
        multiIf(p = 0, 0, p < 3, p - 1, p - 3) AS seq,
        multiIf(p = 0, 1, p < 3, 2, 3) AS updates,
        {_session_attrs(orgs, now_ts)}
    FROM numbers({updates})
)"""
    aggregate = f"""
INSERT INTO {{db}}.sessions
    (org_id, project_id, session_id, seq, distinct_id, init, status, errors, started, timestamp,
     duration, release, environment, quantity, exited, errored, abnormal, crashed, aggregate, received)
SELECT
    org_id, project_id,
    concat('sessions:', toString(number % 16), ':', toString(number), '/0') AS session_id,
    0 AS seq, distinct_id, 1 AS init, 'aggregate' AS status, 0 AS errors,
    fromUnixTimestamp64Milli(toInt64(intDiv(started_s, 60) * 60) * 1000, 'UTC') AS started,
    started AS timestamp, NULL AS duration, release, environment,
    toUInt32(ex + er + ab + cr) AS quantity, toUInt32(ex) AS exited, toUInt32(er) AS errored,
    toUInt32(ab) AS abnormal, toUInt32(cr) AS crashed, 1 AS aggregate, started AS received
FROM (
    SELECT
        number,
        number + 1000000000000 AS sid,
        {_session_attrs(orgs, now_ts)},
        1 + cityHash64(number, 20) % 100 AS ex,
        cityHash64(number, 21) % 6 AS er,
        if(cityHash64(number, 22) % 4 = 0, 1, 0) AS ab,
        cityHash64(number, 23) % 3 AS cr
    FROM numbers({aggregates})
)"""
    return individual, aggregate


@dataclass
class LoadReport:
    outcomes: int  # rows asked for
    sessions: int
    outcomes_seconds: float
    sessions_seconds: float
    outcomes_final: int  # rows counted with FINAL after loading
    sessions_final: int
    seal_seconds: float = 0.0  # the first sealing pass over every loaded hour
    sealed_hours: int = 0
    recent_ttl_seconds: float = 0.0  # applying the recent table's TTL to the loaded rows
    session_seal_seconds: float = 0.0  # the first sealing pass of the sessions rollup
    sealed_session_hours: int = 0
    python_insert_rows_per_s: float | None = None

    @property
    def seconds(self) -> float:
        return self.outcomes_seconds + self.sessions_seconds


def load(store: Store, *, outcomes: int, sessions: int, orgs: int, now: datetime) -> LoadReport:
    """Generate `outcomes` outcome rows and `sessions` session rows (10% aggregates) in ClickHouse,
    then bring the tables to their steady state: every past hour sealed into the hourly rollups
    (what the worker's sealer does), and the two-day TTL of `outcomes_recent` applied (what its
    background TTL merges do: the loader wrote 90 days through it at once)."""
    now_ts = int(now.timestamp())
    t = time.perf_counter()
    if outcomes:
        store.command(_outcomes_insert(outcomes, orgs, now_ts))
    t_out = time.perf_counter() - t
    t = time.perf_counter()
    sealed = seal(store, OUTCOMES)
    t_seal = time.perf_counter() - t
    t = time.perf_counter()
    store.command("OPTIMIZE TABLE {db}.outcomes_recent FINAL")
    t_ttl = time.perf_counter() - t
    aggregates = sessions // 10
    individual, aggregate = _sessions_insert(sessions - aggregates, aggregates, orgs, now_ts)
    t = time.perf_counter()
    if sessions - aggregates:
        store.command(individual)
    if aggregates:
        store.command(aggregate)
    t_ses = time.perf_counter() - t
    t = time.perf_counter()
    sealed_sessions = seal(store, SESSIONS)
    t_seal_sessions = time.perf_counter() - t
    return LoadReport(
        outcomes=outcomes, sessions=sessions, outcomes_seconds=t_out, sessions_seconds=t_ses,
        outcomes_final=int(store.query("SELECT count() FROM {db}.outcomes_raw FINAL")[0][0]),
        sessions_final=int(store.query("SELECT count() FROM {db}.sessions FINAL")[0][0]),
        seal_seconds=t_seal, sealed_hours=len(sealed), recent_ttl_seconds=t_ttl,
        session_seal_seconds=t_seal_sessions, sealed_session_hours=len(sealed_sessions),
    )


def python_insert_rate(store: Store, rows: int = 100_000) -> float:
    """Rows/s of the same outcome rows built as Python tuples and sent through `Store.insert`
    (in a scratch table), to show why the loader generates rows in ClickHouse instead."""
    store.command("DROP TABLE IF EXISTS {db}.outcomes_probe")
    store.command("CREATE TABLE {db}.outcomes_probe AS {db}.outcomes_raw")
    base = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    t = time.perf_counter()
    batch = [
        (1 + i % 50, 1001 + i % 10, 10010, base, 0, 1, "", 1, f"event:{i:032x}") for i in range(rows)
    ]
    store.insert("outcomes_probe", batch, stats_v2_columns())
    elapsed = time.perf_counter() - t
    store.command("DROP TABLE {db}.outcomes_probe")
    return rows / elapsed


def stats_v2_columns() -> tuple[str, ...]:
    from picket.ingest.outcome_rows import COLUMNS
    return COLUMNS


# --- the queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    scope: str  # "one org" | "all orgs"
    note: str
    run: Callable[[Store], tuple[int, Any, float]]  # → (rows from ClickHouse, response body, query s)
    sql: str
    params: Mapping[str, Any]


def _org_projects(org: int) -> list[int]:
    return [org * 1000 + 1 + j for j in range(PROJECTS_PER_ORG)]


def _without_org(text: str) -> str:
    """The builder's SQL without its organization condition: the only change needed to query every
    organization (neither builder can express "all organizations")."""
    if ORG_CONDITION not in text:
        raise RuntimeError("the builder's SQL no longer has the expected org condition")
    return text.replace(ORG_CONDITION, "true")  # every occurrence: the outcome source has two


def _params(**kw: str) -> dict[str, list[str]]:
    return {k: [v] for k, v in kw.items()}


STATS_HOURLY = _params(field="sum(quantity)", groupBy="category", statsPeriod="14d", interval="1h")
# stats_v2 demands a category groupBy or filter; this is the usage page's per-project table.
STATS_BY_PROJECT = {"field": ["sum(quantity)"], "groupBy": ["project", "outcome"], "category": ["error"],
                    "statsPeriod": ["90d"], "interval": ["1d"]}
SESSIONS_CRASH_FREE = _params(field="crash_free_rate(session)", groupBy="release", statsPeriod="14d",
                              interval="1d")


def cases(*, org: int, orgs: int, now: datetime, sessions_horizon: datetime | None = None) -> list[Case]:
    """The six timed queries: three for organization `org`, the same three over every organization.
    `sessions_horizon`: the session rollup's horizon as the API reads it (None: the query reads it)."""
    every_project = [p for o in range(1, orgs + 1) for p in _org_projects(o)]
    out: list[Case] = []
    for scope, org_id, projects in (("one org", org, _org_projects(org)), ("all orgs", 0, every_project)):
        for name, params in (("stats_v2 14d 1h by category", STATS_HOURLY),
                             ("stats_v2 90d 1d error by project", STATS_BY_PROJECT)):
            q = stats_v2.parse(params, org_id=org_id, accessible_project_ids=projects, now=now)
            text, p = stats_v2.sql(q)
            note = "builder SQL"
            if scope == "all orgs":
                text, note = _without_org(text), "builder SQL minus org condition"
            out.append(Case(f"{name}", scope, note, _runner(text, p, lambda rows, q=q: stats_v2.response(q, rows)),
                            text, p))
        sq = sessions_api.parse(SESSIONS_CRASH_FREE, org_id=org_id, accessible_project_ids=projects, now=now)
        text, p = sessions_api.sql(sq, horizon=sessions_horizon, now=now)
        note = "builder SQL"
        if scope == "all orgs":
            text, note = _without_org(text), f"builder SQL minus org condition ({len(projects)} projects)"
        out.append(Case("sessions 14d 1d crash_free by release", scope, note,
                        _runner(text, p, lambda rows, q=sq: sessions_api.response(q, rows)), text, p))
    return out


def _runner(text: str, params: Mapping[str, Any],
            respond: Callable[[list], Any]) -> Callable[[Store], tuple[int, Any, float]]:
    def run(store: Store) -> tuple[int, Any, float]:
        t = time.perf_counter()
        rows = store.query(text, dict(params))
        query_s = time.perf_counter() - t
        return len(rows), respond(rows), query_s
    return run


@dataclass
class Timing:
    name: str
    scope: str
    note: str
    rows: int  # rows ClickHouse returned
    groups: int  # groups in the response
    ms: list[float] = field(default_factory=list)  # query + response
    query_ms: list[float] = field(default_factory=list)  # the ClickHouse query alone

    @property
    def p50(self) -> float:
        return statistics.median(self.ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered) + 0.5) - 1))]

    @property
    def target(self) -> float:
        return TARGET_ONE_ORG_MS if self.scope == "one org" else TARGET_ALL_ORGS_MS

    @property
    def met(self) -> bool:
        return self.p50 <= self.target


def time_case(store: Store, case: Case, repeat: int) -> Timing:
    """One untimed warm-up run, then `repeat` timed runs of query + response building."""
    rows, body, _ = case.run(store)
    timing = Timing(case.name, case.scope, case.note, rows, len(body.get("groups", [])))
    for _ in range(repeat):
        t = time.perf_counter()
        _, _, query_s = case.run(store)
        timing.ms.append((time.perf_counter() - t) * 1000)
        timing.query_ms.append(query_s * 1000)
    return timing


def run_queries(store: Store, *, org: int, orgs: int, now: datetime, repeat: int,
                progress: Callable[[Timing], None] | None = None) -> list[Timing]:
    out = []
    for c in cases(org=org, orgs=orgs, now=now, sessions_horizon=horizon(store, SESSIONS)):
        out.append(time_case(store, c, repeat))
        if progress is not None:
            progress(out[-1])
    return out


# --- diagnosis ------------------------------------------------------------------------------------


def _time_sql(store: Store, text: str, params: Mapping[str, Any], repeat: int) -> float:
    store.query(text, dict(params))
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        store.query(text, dict(params))
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms)


def _read_stats(store: Store, text: str, params: Mapping[str, Any]) -> str:
    """Rows and bytes the query read (from the query's own progress, via system.query_log when present)."""
    try:
        plan = store.query("EXPLAIN indexes = 1 " + text, dict(params))
    except Exception as err:  # noqa: BLE001 - EXPLAIN is informative only
        return f"EXPLAIN failed: {err}"
    lines = [r[0] for r in plan]
    keep = [ln.strip() for ln in lines if any(k in ln for k in ("Parts:", "Granules:", "Condition:", "Keys:"))]
    return "; ".join(keep[:8])


def diagnose(store: Store, *, org: int, orgs: int, now: datetime, repeat: int,
             progress: Callable[[tuple[str, str, float]], None] = lambda _: None) -> list[tuple[str, str, float]]:
    """Where the time goes: table sizes and parts, the granules each query reads, and p50 (ms) of
    the sessions queries once their table is fully merged (OPTIMIZE FINAL; mutates the store)."""
    out = _Reported(progress)
    all_cases = cases(org=org, orgs=orgs, now=now, sessions_horizon=horizon(store, SESSIONS))
    sizes = store.query(
        "SELECT table, sum(rows), count() FROM system.parts WHERE database = {d:String} AND active"
        " AND table IN ('outcomes_raw', 'outcomes_recent', 'outcomes_hourly', 'sessions', 'sessions_hourly')"
        " GROUP BY table ORDER BY table", {"d": store.database})
    out.append(("rows (active parts)", ", ".join(f"{t}={n:,} ({k})" for t, n, k in sizes), float("nan")))
    for c in all_cases:
        out.append((f"EXPLAIN {c.scope}: {c.name}", _read_stats(store, c.sql, c.params), float("nan")))
    t = time.perf_counter()
    store.command("OPTIMIZE TABLE {db}.sessions FINAL")
    out.append(("OPTIMIZE FINAL sessions", "seconds", time.perf_counter() - t))
    for c in all_cases:
        if c.name.startswith("sessions"):
            out.append((f"{c.scope}: {c.name}", "after OPTIMIZE FINAL", _time_sql(store, c.sql, c.params, repeat)))
    return out


class _Reported(list):  # type: ignore[type-arg]
    """A list that reports each item as it is appended (diagnosis steps can take minutes)."""

    def __init__(self, report: Callable[[Any], None]) -> None:
        super().__init__()
        self._report = report

    def append(self, item: Any) -> None:
        super().append(item)
        self._report(item)


# --- report ---------------------------------------------------------------------------------------


def machine() -> str:
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown"
    return f"nproc={os.cpu_count()} RAM={ram} {platform.machine()} Python {platform.python_version()}"


def format_table(timings: Sequence[Timing]) -> str:
    head = f"{'scope':9} {'query':40} {'rows':>6} {'groups':>6} {'p50':>9} {'p99':>9} {'min':>9} {'max':>9} {'sql p50':>9}  target"
    lines = [head, "-" * len(head)]
    for t in timings:
        verdict = f"{'met' if t.met else 'MISSED'} (≤{t.target:.0f})"
        lines.append(f"{t.scope:9} {t.name:40} {t.rows:>6} {t.groups:>6} {t.p50:>9.1f} {t.p99:>9.1f}"
                     f" {min(t.ms):>9.1f} {max(t.ms):>9.1f} {statistics.median(t.query_ms):>9.1f}  {verdict}")
    lines.append("(ms; p50..max: query + response building, 'sql p50': the query alone; "
                 "'all orgs': the builder SQL without its org condition)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.aggregates", description=__doc__.splitlines()[0])
    ap.add_argument("--outcomes", type=int, default=10_000_000)
    ap.add_argument("--sessions", type=int, default=10_000_000)
    ap.add_argument("--orgs", type=int, default=50)
    ap.add_argument("--data-dir", default=None, help="default: a fresh temporary directory, removed after")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--org", type=int, default=1, help="the organization of the one-org queries (1 = biggest)")
    ap.add_argument("--no-diagnose", action="store_true")
    args = ap.parse_args(argv)

    temp = args.data_dir is None
    data_dir = tempfile.mkdtemp(prefix="picket-bench-") if temp else args.data_dir
    now = datetime.now(timezone.utc).replace(microsecond=0)
    print(f"machine: {machine()}", flush=True)
    store = Store(f"chdb:///{data_dir}/ch", DATABASE)
    try:
        print(f"clickhouse {store.query('SELECT version()')[0][0]}, data in {data_dir}", flush=True)
        migrate(store)
        for table in ("outcomes_raw", "outcomes_recent", "outcomes_hourly", "outcome_seals",
                      "outcome_dirty_hours", "sessions", "sessions_hourly", "session_seals", "session_dirty_hours"):
            store.command(f"TRUNCATE TABLE IF EXISTS {{db}}.{table}")
        rate = python_insert_rate(store)
        print(f"python tuples through Store.insert: {rate:,.0f} rows/s "
              f"(10M rows ≈ {10_000_000 / rate:.0f} s, before building the tuples from real messages)", flush=True)
        rep = load(store, outcomes=args.outcomes, sessions=args.sessions, orgs=args.orgs, now=now)
        print(f"loaded in ClickHouse: outcomes {rep.outcomes:,} in {rep.outcomes_seconds:.1f} s, "
              f"sessions {rep.sessions:,} in {rep.sessions_seconds:.1f} s; "
              f"FINAL counts {rep.outcomes_final:,} / {rep.sessions_final:,}", flush=True)
        print(f"first sealing pass: outcomes {rep.sealed_hours:,} hours in {rep.seal_seconds:.1f} s "
              f"(recent rows' TTL applied in {rep.recent_ttl_seconds:.1f} s), sessions "
              f"{rep.sealed_session_hours:,} hours in {rep.session_seal_seconds:.1f} s", flush=True)
        share = store.query("SELECT countIf(org_id = {o:UInt64}), count() FROM {db}.outcomes_raw", {"o": args.org})[0]
        print(f"org {args.org}: {share[0]:,} of {share[1]:,} outcome rows", flush=True)
        timings = run_queries(
            store, org=args.org, orgs=args.orgs, now=now, repeat=args.repeat,
            progress=lambda t: print(f"  done: {t.scope} {t.name}: p50 {t.p50:.1f} ms (sql {statistics.median(t.query_ms):.1f})",
                                     flush=True))
        print(format_table(timings), flush=True)
        missed = [t for t in timings if not t.met]
        print(f"targets: {'all met' if not missed else f'{len(missed)} missed'}", flush=True)
        if not args.no_diagnose:
            print("\ndiagnosis (p50 ms of the SQL alone):", flush=True)
            diagnose(store, org=args.org, orgs=args.orgs, now=now, repeat=max(1, min(args.repeat, 3)),
                     progress=lambda r: print(f"  {r[0]:52} {r[1]:36} {r[2]:9.1f}" if r[2] == r[2]
                                              else f"  {r[0]}: {r[1]}", flush=True))
        return 0
    finally:
        store.close()
        if temp:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
