"""Benchmark of the aggregate endpoints (stats_v2, sessions, Discover, the issue list) on a synthetic data set.

Run: `python -m bench.aggregates [--outcomes N] [--sessions N] [--events N] [--transactions N]
[--issues N] [--orgs K] [--data-dir DIR] [--repeat R] [--no-diagnose]`. A count of 0 skips its
part: `--outcomes 0 --sessions 0` leaves out stats_v2 and sessions, `--events 0` Discover over
error events and the issue list, `--transactions 0` Discover over transactions.

It opens an embedded chdb store (a fresh temporary directory unless `--data-dir` is given),
applies the migrations, generates rows inside ClickHouse (`INSERT ... SELECT ... FROM numbers(N)`:
no Python tuples), then runs each typical query R times through the endpoints' own code
(`parse` → `sql` → `Store.query` → `response`; for the issue list, the reads its route makes and
`render_events.issue`) and prints p50/p99/min/max per query. Targets: p50 ≤ 50 ms for one
organization, ≤ 500 ms across all organizations (stats_v2, sessions); p50 ≤ 100 ms for Discover
over one organization and for the first page of a 100,000-issue project's issue list. With
diagnosis on (the default) it also shows where the time goes: table sizes, the granules each
query reads, the issue list's reads apart, and the queries once their tables are fully merged.

Tables are loaded the way the worker leaves them in steady state: rows in `outcomes_raw` and
`sessions`, every past hour sealed into `outcomes_hourly` and `sessions_hourly` by the same
sealing passes the worker runs, and only the last two days in `outcomes_recent` (its TTL
applied); events with their issues' `groups`, `group_hashes` and `group_status` rows as the
events consumer writes them, the issue counters' rollup sealed; transactions. Queries are timed
once no merge runs. Discover and the issue list are timed twice: as loaded (not judged), then
once `settle` has merged what the tables' forced merges of hour-old parts merge (every day of
errors before today, every week of transactions), the state they live in.

Data shape: organizations have a skewed share of the traffic (the first is the largest, about
K^(-2/3) of all rows), each has 10 projects; outcome and session timestamps spread uniformly
over the 90 days before now, events and transactions over the 30 days before now (so a 14-day
window is a real filter). Outcomes are mostly accepted, categories error/transaction/attachment/
session/monitor/... Session rows are individual updates (1-3 per session id, 2 on average, the
last one carrying the final status) plus 10% pre-aggregated rows.

Error events belong to issues picked by a Zipf rank (density ~1/rank: of 100,000 issues, the top
10 get about 20% of the events, the top 1,000 about 60%); an issue's title, culprit, level, transaction and grouping
hash are functions of its rank (titles are shared by the projects' issues of the same rank).
The issue list's project (the largest organization's first project) gets a fifth of all events
and `--issues` issues, each opened by an event of its own; every other project has 500. Events
have users (85%), environments (80% production), a release a week per project, eight tags and
a body the API decodes. Issues: the first status row is unresolved/new, then 10% are assigned,
15% resolved and 5% ignored (2% for a week, some of which are over). Transactions: 200 names per
project (API endpoints, page loads with web vitals, navigations, tasks) picked by a Zipf rank;
durations log-normal around a median of each project's name (15-600 ms), sigma 0.7; 94% ok.
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
from datetime import datetime, timedelta, timezone
from typing import Any

from picket.discover import table as discover_table
from picket.gateway import render_events
from picket.schemas.entities import Organization, Project
from picket.stats import sessions as sessions_api
from picket.stats import stats_v2
from picket.store import issues_read
from picket.store.client import Store
from picket.store.migrate import migrate
from picket.store.rollup import horizon, seal
from picket.store.rollups import GROUPS, OUTCOMES, SESSIONS

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


# --- events, issues and transactions (Discover and the issue list) ---------------------------------

EVENT_DAYS = 30  # of error events and transactions: a 14-day window is a real filter
ISSUE_PROJECT_SHARE = 0.2  # of the error events, in the project of the issue list
ISSUES_PER_PROJECT = 500  # issues of every other project
TRANSACTION_NAMES = 200  # per project
TARGET_EVENTS_MS = 100.0


def issue_project() -> int:
    """The project of the issue list: the first project of the largest organization."""
    return _org_projects(1)[0]


def _zipf_rank(u: str, n: str) -> str:
    """A rank in [0, n) of density ~1/(rank+1) (Zipf, s = 1) from `u` uniform in [0, 1)."""
    return f"(toUInt64(floor(pow(({n}) + 1, {u}))) - 1)"


def _uniform(salt: int, key: str = "number") -> str:
    return f"((cityHash64({key}, {salt}) % 1000000) / 1000000.0)"


def _hex_id(key: str, salt: int, words: int = 2) -> str:
    """`words` * 16 lowercase hex characters."""
    return "concat(" + ", ".join(f"leftPad(lower(hex(cityHash64({key}, {salt + i}))), 16, '0')"
                                 for i in range(words)) + ")"


def _iso(ms: str) -> str:
    """RFC 3339 text (as msgspec writes it) of a time in epoch milliseconds."""
    return (f"concat(formatDateTime(fromUnixTimestamp64Milli(toInt64({ms}), 'UTC'), '%Y-%m-%dT%H:%i:%S', 'UTC'),"
            f" '.', leftPad(toString(({ms}) % 1000), 3, '0'), 'Z')")


def _pick(values: Sequence[str], key: str, salt: int) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"[{quoted}][1 + cityHash64({key}, {salt}) % {len(values)}]"


_RESOURCES = ("users", "orders", "invoices", "projects", "teams", "items", "reports", "search", "billing",
              "settings", "events", "alerts", "releases", "members", "tokens", "keys", "files", "comments",
              "tags", "stats")
_API_SUFFIXES = ("/", "/{id}/", "/{id}/details/", "/{id}/history/", "/bulk/", "/export/")


def _transaction_name(k: str) -> tuple[str, str]:
    """(op, name) of transaction name number `k` in [0, 200): 20 resources, each with six API
    endpoints (http.server), two pages (pageload), one navigation and one task."""
    resource = f"[{', '.join(repr(r) for r in _RESOURCES)}][1 + intDiv({k}, 10) % {len(_RESOURCES)}]"
    j = f"({k} % 10)"
    op = f"multiIf({j} < 6, 'http.server', {j} < 8, 'pageload', {j} = 8, 'navigation', 'celery.task')"
    suffixes = f"[{', '.join(repr(s) for s in _API_SUFFIXES)}]"
    name = (f"multiIf({j} < 6, concat('/api/0/', {resource}, {suffixes}[1 + {j}]),"
            f" {j} = 6, concat('/', {resource}, '/'), {j} = 7, concat('/', {resource}, '/:id/'),"
            f" {j} = 8, concat('/', {resource}, '/:id/edit/'), concat('tasks.', {resource}, '.sync'))")
    return op, name


def _release(project: str, seconds: str, now_ts: int, span: int) -> str:
    """One release a week per project."""
    return (f"concat('app-', toString({project}), '@2.', toString(intDiv(toInt64({seconds}) - {now_ts - span},"
            f" 7 * 86400)), '.0')")


def _events_insert(n: int, orgs: int, now_ts: int, issues: int, listed: int) -> str:
    """`n` error events: the first `listed` in the issue list's project, whose first `issues`
    events open its `issues` issues one each; every other event picks its issue by a Zipf rank
    (`issues` in that project, ISSUES_PER_PROJECT elsewhere). An issue's attributes (title,
    culprit, level, grouping hash, transaction) are functions of its rank."""
    span = EVENT_DAYS * 86400
    now_ms = now_ts * 1000
    op, tx_name = _transaction_name("cityHash64(rank, 47) % 200")
    del op
    return f"""
INSERT INTO {{db}}.error_events
    (project_id, event_id, group_id, timestamp, received, type, platform, level, title, message, culprit,
     release, environment, transaction, user_tag, user_email, tags_key, tags_value, hash, size, body)
SELECT
    project_id, event_id, group_id, fromUnixTimestamp64Milli(toInt64(ts_ms), 'UTC') AS timestamp,
    fromUnixTimestamp64Milli(toInt64(received_ms), 'UTC') AS received, type, platform, level, title, message,
    culprit, release, environment, transaction, user_tag, user_email, tags_key, tags_value, hash, size,
    concat('{{"event_id":"', event_id, '","project_id":', toString(project_id),
           ',"timestamp":"', {_iso('ts_ms')}, '","received":"', {_iso('received_ms')},
           '","type":"', type, '","platform":"', platform, '","level":"', level, '","logger":"","message":"',
           message, '","title":"', title, '","culprit":"', culprit, '","release":"', release,
           '","environment":"', environment, '","server_name":"', server_name, '","transaction":"', transaction,
           '","user":', user_json, ',"tags":', toJSONString(arrayZip(tags_key, tags_value)),
           ',"exceptions":', if(type = 'error', concat('[{{"type":"', etype, '","value":"', value,
               '","mechanism":{{"type":"generic","handled":', if(level = 'fatal', 'false', 'true'),
               '}},"frames":[{{"function":"main","module":"app.main","filename":"app/main.py","lineno":12,',
               '"in_app":true}},{{"function":"', fn, '","module":"', module, '","filename":"',
               replaceAll(module, '.', '/'), '.py","lineno":', toString(10 + rank % 400), ',"in_app":true}}]}}]'),
               '[]'),
           ',"sdk":{{"name":"sentry.python","version":"2.19.0"}},"contexts":{{"trace":{{"trace_id":"', trace_id,
           '","span_id":"', span_id, '"}}}},"size":', toString(size), '}}') AS body
FROM (
    SELECT
        *,
        greatest(1, bitShiftRight(cityHash64(project_id, hash), 12)) AS group_id,
        multiIf(project_id % 8 = 0, 'python', project_id % 8 = 1, 'javascript', project_id % 8 = 2, 'node',
                project_id % 8 = 3, 'java', project_id % 8 = 4, 'go', project_id % 8 = 5, 'ruby',
                project_id % 8 = 6, 'php', 'csharp') AS platform,
        -- an issue's attributes: functions of its rank
        lower(hex(MD5(concat('bench-issue:', toString(rank))))) AS hash,
        cityHash64(rank, 41) % 100 AS kind_roll,
        if(kind_roll >= 92, 'default', 'error') AS type,
        {_pick(('TypeError', 'ValueError', 'KeyError', 'AttributeError', 'ConnectionError', 'TimeoutError',
                'ZeroDivisionError', 'IndexError', 'RuntimeError', 'OperationalError'), 'rank', 42)} AS etype,
        concat({_pick(('user', 'order', 'invoice', 'session', 'cart', 'payment', 'item', 'account', 'report',
                       'token'), 'rank', 44)}, '_', toString(rank)) AS ident,
        concat({_pick(('Cannot read properties of undefined (reading', 'invalid literal for int() with base 10:',
                       'missing key', 'object has no attribute', 'Connection refused by',
                       'Operation timed out after 30s for', 'division by zero in',
                       'list index out of range in', 'maximum recursion depth exceeded in',
                       'could not serialize access due to concurrent update on'), 'rank', 42)}, ' ', ident) AS value,
        if(type = 'default', concat('Failed to process ', ident), concat(etype, ': ', value)) AS title,
        if(type = 'default', title, '') AS message,
        if(type = 'default', if(kind_roll >= 97, 'info', 'warning'), if(kind_roll < 5, 'fatal', 'error')) AS level,
        {_pick(('api.views', 'billing.tasks', 'auth.middleware', 'search.index', 'orders.service',
                'reports.export', 'users.models', 'payments.gateway'), 'rank', 45)} AS module,
        {_pick(('handle', 'process', 'get', 'save', 'dispatch', 'render', 'validate', 'sync'), 'rank', 46)} AS fn,
        concat(module, ' in ', fn) AS culprit,
        {tx_name} AS transaction,
        -- the event's own
        {_hex_id('number', 51)} AS event_id,
        {now_ms} - 2000 - cityHash64(number, 38) % {span * 1000} AS ts_ms,
        ts_ms + 200 + cityHash64(number, 39) % 1500 AS received_ms,
        {_release('project_id', 'intDiv(ts_ms, 1000)', now_ts, span)} AS release,
        cityHash64(number, 34) % 100 AS e_roll,
        multiIf(e_roll < 80, 'production', e_roll < 95, 'staging', 'development') AS environment,
        cityHash64(number, 35) % 100 AS u_roll,
        cityHash64(number, 36) % 20000 AS uid,
        multiIf(u_roll < 60, concat('id:', toString(uid)),
                u_roll < 85, concat('ip:10.', toString(uid % 250), '.', toString(intDiv(uid, 250)), '.1'),
                '') AS user_tag,
        if(u_roll < 40, concat('user', toString(uid), '@example.com'), '') AS user_email,
        multiIf(u_roll < 40, concat('{{"id":"', toString(uid), '","email":"', user_email, '"}}'),
                u_roll < 60, concat('{{"id":"', toString(uid), '"}}'),
                u_roll < 85, concat('{{"ip_address":"', substring(user_tag, 4), '"}}'), 'null') AS user_json,
        concat('web-', toString(cityHash64(number, 37) % 8)) AS server_name,
        arrayConcat(['environment', 'level', 'release', 'transaction', 'server_name', 'os.name', 'browser.name'],
                    if(user_tag != '', ['user'], [])) AS tags_key,
        arrayConcat([environment, level, release, transaction, server_name,
                     {_pick(('Linux', 'Windows', 'macOS', 'iOS', 'Android'), 'number', 54)},
                     {_pick(('Chrome', 'Firefox', 'Safari', 'Edge'), 'number', 55)}],
                    if(user_tag != '', [user_tag], [])) AS tags_value,
        toUInt32(800 + cityHash64(number, 53) % 6000) AS size,
        {_hex_id('number', 56)} AS trace_id,
        {_hex_id('number', 58, 1)} AS span_id
    FROM (
        SELECT
            number,
            number < {listed} AS in_list,
            if(in_list, {issue_project()},
               {_org_expr(_uniform(31), orgs)} * 1000 + 1 + cityHash64(number, 32) % {PROJECTS_PER_ORG}) AS project_id,
            if(in_list AND number < {issues}, number,
               {_zipf_rank(_uniform(33), f'if(in_list, {issues}, {ISSUES_PER_PROJECT})')}) AS rank
        FROM numbers({n})
    )
)"""


def _groups_insert() -> str:
    """Each issue's `groups` row as its first event made it (`picket.ingest.issues.add_event`):
    short numbers in the order the issues were first seen."""
    return """
INSERT INTO {db}.groups
    (project_id, group_id, short_number, hash, type, title, culprit, level, logger, platform, metadata,
     first_seen, first_release)
SELECT
    project_id, group_id,
    row_number() OVER (PARTITION BY project_id ORDER BY first_seen, group_id) AS short_number,
    g_hash, g_type, g_title, g_culprit, g_level, '' AS logger, g_platform,
    if(g_type = 'error',
       concat('{"value":"', substring(g_title, position(g_title, ': ') + 2), '","type":"',
              substring(g_title, 1, position(g_title, ': ') - 1), '","filename":"',
              replaceAll(splitByString(' in ', g_culprit)[1], '.', '/'), '.py","function":"',
              splitByString(' in ', g_culprit)[2], '","display_title_with_tree_label":false,',
              '"in_app_frame_mix":"in-app-only"}'),
       concat('{"title":"', g_title, '"}')) AS metadata,
    first_seen, first_release
FROM (
    SELECT project_id, group_id, any(hash) AS g_hash, argMin(type, timestamp) AS g_type,
           argMin(title, timestamp) AS g_title, argMin(culprit, timestamp) AS g_culprit,
           argMin(level, timestamp) AS g_level, argMin(platform, timestamp) AS g_platform,
           min(timestamp) AS first_seen, argMin(release, timestamp) AS first_release
    FROM {db}.error_events
    GROUP BY project_id, group_id
)"""


_HASHES_INSERT = "INSERT INTO {db}.group_hashes (project_id, hash, group_id) SELECT project_id, hash, group_id FROM {db}.groups"

# Every issue's first status row (unresolved, new: `status_row` of a new GroupState, versioned
# by its first event), then a later row for a fifth of them: assigned while unresolved (10%),
# resolved (15%), ignored forever (3%) or for a week (2%; those ignored long enough ago read
# unresolved again).
_STATUS_COLUMNS = ("(project_id, group_id, status, substatus, version, status_details, ignore_until, assignee,"
                   " share_id, merged_into)")
_FIRST_STATUS_INSERT = f"""
INSERT INTO {{db}}.group_status {_STATUS_COLUMNS}
SELECT project_id, group_id, 'unresolved', 'new', toUInt64(toUnixTimestamp64Milli(first_seen)), '{{}}',
       toDateTime64(0, 3, 'UTC'), '', '', 0
FROM {{db}}.groups"""


def _later_status_insert(now_ts: int) -> str:
    return f"""
INSERT INTO {{db}}.group_status {_STATUS_COLUMNS}
SELECT
    project_id, group_id,
    multiIf(roll < 80, 'unresolved', roll < 95, 'resolved', 'ignored') AS status,
    multiIf(roll < 80, 'ongoing', roll < 95, '', roll < 98, 'archived_forever', 'archived_until_condition_met'),
    toUInt64(at_ms) AS version,
    multiIf(roll < 80, '{{}}',
            roll < 98, concat('{{"actor_user_id":1,"at":"', {_iso('at_ms')}, '"}}'),
            concat('{{"ignore_duration":10080,"ignore_until":"', {_iso('at_ms + 604800000')},
                   '","actor_user_id":1,"at":"', {_iso('at_ms')}, '"}}')),
    if(roll >= 98, fromUnixTimestamp64Milli(toInt64(at_ms + 604800000), 'UTC'), toDateTime64(0, 3, 'UTC')),
    if(roll >= 70 AND roll < 80, concat('user:', toString(1 + cityHash64(group_id, 62) % 20)), ''),
    '', 0
FROM (
    SELECT project_id, group_id, cityHash64(group_id, 61) % 100 AS roll,
           toUnixTimestamp64Milli(first_seen) AS first_ms,
           first_ms + 1 + cityHash64(group_id, 63) % greatest(1, {now_ts * 1000} - first_ms) AS at_ms
    FROM {{db}}.groups
)
WHERE roll >= 70"""


def _transactions_insert(n: int, orgs: int, now_ts: int) -> str:
    """`n` transactions over the organizations' projects like the outcomes; each project's
    TRANSACTION_NAMES names picked by a Zipf rank; durations log-normal around a median of the
    name's (15 ms to 600 ms), sigma 0.7; statuses mostly ok; page loads with web vitals."""
    span = EVENT_DAYS * 86400
    op, name = _transaction_name("k")
    return f"""
INSERT INTO {{db}}.transactions
    (project_id, event_id, trace_id, span_id, parent_span_id, transaction, op, status, start_timestamp, timestamp,
     duration, release, environment, platform, user_id, user_email, user_username, user_ip, user_tag, tags_key,
     tags_value, measurements_key, measurements_value, http_method, http_url, received)
SELECT
    project_id, event_id, trace_id, span_id, parent_span_id, name, op, status,
    fromUnixTimestamp64Micro(end_us - toInt64(duration * 1000), 'UTC') AS start_timestamp,
    fromUnixTimestamp64Micro(end_us, 'UTC') AS timestamp, duration, release, environment, platform,
    user_id, user_email, '' AS user_username, user_ip, user_tag,
    ['environment', 'release', 'transaction', 'transaction.op', 'transaction.status', 'server_name'] AS tags_key,
    [environment, release, name, op, status, concat('web-', toString(cityHash64(number, 79) % 8))] AS tags_value,
    if(op = 'pageload', ['fp', 'fcp', 'lcp', 'ttfb'], []) AS measurements_key,
    if(op = 'pageload', [round(duration * 0.25, 3), round(duration * 0.3, 3), round(duration * 0.6, 3),
                         round(duration * 0.1, 3)], []) AS measurements_value,
    if(op = 'http.server', {_pick(('GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'), 'number', 80)}, '') AS http_method,
    if(op IN ('celery.task'), '',
       concat(if(op = 'http.server', 'https://api.example.com', 'https://app.example.com'),
              replaceAll(replaceAll(name, '{{id}}', toString(cityHash64(number, 81) % 100000)), ':id',
                         toString(cityHash64(number, 81) % 100000)))) AS http_url,
    fromUnixTimestamp64Milli(intDiv(end_us, 1000) + 300, 'UTC') AS received
FROM (
    SELECT
        number,
        {_org_expr(_uniform(71), orgs)} AS org_id,
        org_id * 1000 + 1 + cityHash64(number, 72) % {PROJECTS_PER_ORG} AS project_id,
        {_zipf_rank(_uniform(73), str(TRANSACTION_NAMES))} AS k,
        {op} AS op,
        {name} AS name,
        -- log-normal: a name's median times exp(0.7 z), z standard normal (Box-Muller)
        ln(15 + cityHash64(project_id, k, 74) % 585) AS mu,
        sqrt(-2 * ln((cityHash64(number, 75) % 1000000 + 1) / 1000001.0))
            * cos(2 * pi() * (cityHash64(number, 76) % 1000000) / 1000000.0) AS z,
        round(exp(mu + 0.7 * z), 3) AS duration,
        toInt64({now_ts} * 1000000 - 2000000 - cityHash64(number, 77) % {span * 1000000}) AS end_us,
        {_release('project_id', 'intDiv(end_us, 1000000)', now_ts, span)} AS release,
        cityHash64(number, 78) % 100 AS e_roll,
        multiIf(e_roll < 80, 'production', e_roll < 95, 'staging', 'development') AS environment,
        multiIf(project_id % 8 = 0, 'python', project_id % 8 = 1, 'javascript', project_id % 8 = 2, 'node',
                project_id % 8 = 3, 'java', project_id % 8 = 4, 'go', project_id % 8 = 5, 'ruby',
                project_id % 8 = 6, 'php', 'csharp') AS platform,
        cityHash64(number, 82) % 1000 AS s_roll,
        multiIf(s_roll < 940, 'ok', s_roll < 965, 'internal_error', s_roll < 975, 'deadline_exceeded',
                s_roll < 985, 'not_found', s_roll < 992, 'unauthenticated', s_roll < 997, 'cancelled',
                'unknown') AS status,
        {_hex_id('number', 83)} AS event_id,
        {_hex_id('number', 85)} AS trace_id,
        {_hex_id('number', 87, 1)} AS span_id,
        if(op IN ('pageload', 'navigation'), '', {_hex_id('number', 88, 1)}) AS parent_span_id,
        cityHash64(number, 89) % 100 AS u_roll,
        cityHash64(number, 90) % 20000 AS uid,
        if(u_roll < 60, toString(uid), '') AS user_id,
        if(u_roll < 40, concat('user', toString(uid), '@example.com'), '') AS user_email,
        if(u_roll >= 60 AND u_roll < 85, concat('10.', toString(uid % 250), '.', toString(intDiv(uid, 250)), '.1'),
           '') AS user_ip,
        multiIf(user_id != '', concat('id:', user_id), user_ip != '', concat('ip:', user_ip), '') AS user_tag
    FROM numbers({n})
)"""


@dataclass
class EventsLoadReport:
    events: int  # rows asked for
    transactions: int
    issues: int  # issues of the issue list's project
    project_id: int  # the issue list's
    project_events: int  # events in that project
    events_seconds: float
    issues_seconds: float  # groups, group_hashes and group_status from the loaded events
    seal_seconds: float  # the first sealing pass of the issue counters (and events_recent's TTL)
    transactions_seconds: float
    merge_seconds: float  # waiting for the background merges the inserts started
    events_final: int  # rows counted with FINAL after loading
    transactions_final: int
    groups: int  # groups rows, every project
    group_hashes: int
    status_groups: int  # distinct issues with a status row
    statuses: dict[str, int]  # the issue list project's issues by their newest status


def load_events(store: Store, *, events: int, transactions: int, issues: int, orgs: int,
                now: datetime) -> EventsLoadReport:
    """Generate `events` error events (a fifth of them, at least one per issue, in the issue
    list's project, which gets `issues` issues, besides its share of the rest as one of the
    largest organization's projects), their issues' rows as the events consumer writes
    them, and `transactions` transactions, all over the EVENT_DAYS days before `now`; then wait
    for the merges the inserts started (at most two minutes)."""
    now_ts = int(now.timestamp())
    listed = max(min(events, issues), round(events * ISSUE_PROJECT_SHARE)) if events else 0
    issues = min(issues, listed)
    t = time.perf_counter()
    if events:
        store.command(_events_insert(events, orgs, now_ts, issues, listed))
    t_events = time.perf_counter() - t
    t = time.perf_counter()
    if events:
        store.command(_groups_insert())
        store.command(_HASHES_INSERT)
        store.command(_FIRST_STATUS_INSERT)
        store.command(_later_status_insert(now_ts))
    t_issues = time.perf_counter() - t
    t = time.perf_counter()
    if events:  # what the worker's sealing passes and the recent table's TTL merges do
        seal(store, GROUPS)
        store.command("OPTIMIZE TABLE {db}.events_recent FINAL")
    t_seal = time.perf_counter() - t
    t = time.perf_counter()
    if transactions:
        store.command(_transactions_insert(transactions, orgs, now_ts))
    t_tx = time.perf_counter() - t
    t = time.perf_counter()
    wait_for_merges(store)
    t_merge = time.perf_counter() - t
    project = issue_project()
    statuses = store.query(
        "SELECT status, count() FROM (SELECT group_id, argMax(status, version) AS status FROM {db}.group_status"
        " WHERE project_id = {p:UInt64} GROUP BY group_id) GROUP BY status", {"p": project})
    return EventsLoadReport(
        events=events, transactions=transactions, issues=issues, project_id=project,
        project_events=int(store.query("SELECT count() FROM {db}.error_events WHERE project_id = {p:UInt64}",
                                       {"p": project})[0][0]),
        events_seconds=t_events, issues_seconds=t_issues, seal_seconds=t_seal, transactions_seconds=t_tx, merge_seconds=t_merge,
        events_final=int(store.query("SELECT count() FROM {db}.error_events FINAL")[0][0]),
        transactions_final=int(store.query("SELECT count() FROM {db}.transactions FINAL")[0][0]),
        groups=int(store.query("SELECT count() FROM {db}.groups FINAL")[0][0]),
        group_hashes=int(store.query("SELECT count() FROM {db}.group_hashes FINAL")[0][0]),
        status_groups=int(store.query("SELECT uniqExact(group_id) FROM {db}.group_status")[0][0]),
        statuses={s: int(c) for s, c in statuses},
    )


def settle(store: Store, now: datetime) -> float:
    """Bring `error_events` and `transactions` to where their forced merges take them within the
    hour after loading (`min_age_to_force_merge_seconds`, migration 13): each day of errors before
    today's merged into one part, each week of transactions too (the loader wrote every part at
    once, so every part of a week is as old as the others). Returns the seconds it took."""
    t = time.perf_counter()
    today = now.date()
    partitions = store.query(
        "SELECT table, partition FROM system.parts WHERE database = {d:String} AND active"
        " AND table IN ('error_events', 'transactions') GROUP BY table, partition HAVING count() > 1",
        {"d": store.database})
    for table, partition in partitions:
        if table == "error_events" and partition >= today.isoformat():
            continue
        # (the partition's name as system.parts gives it: a date)
        store.command(f"OPTIMIZE TABLE {{db}}.{table} PARTITION '{partition}' FINAL")
    return time.perf_counter() - t


def wait_for_merges(store: Store, limit_s: float = 120.0) -> None:
    """Until no merge of the store's tables runs (at most `limit_s`): timings taken during the
    merges that follow a bulk insert would measure the merges."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        running = store.query("SELECT count() FROM system.merges WHERE database = {d:String}", {"d": store.database})
        if not running[0][0]:
            return
        time.sleep(0.5)


# --- the queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    scope: str  # "one org" | "all orgs"
    note: str
    run: Callable[[Store], tuple[int, Any, float]]  # → (rows from ClickHouse, response body, query s)
    sql: str
    params: Mapping[str, Any]
    target_ms: float | None = None  # p50 target; None: by scope


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
    target_ms: float | None = None
    judged: bool = True  # False: shown, not held to its target

    @property
    def p50(self) -> float:
        return statistics.median(self.ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered) + 0.5) - 1))]

    @property
    def target(self) -> float:
        if self.target_ms is not None:
            return self.target_ms
        return TARGET_ONE_ORG_MS if self.scope == "one org" else TARGET_ALL_ORGS_MS

    @property
    def met(self) -> bool:
        return not self.judged or self.p50 <= self.target


def time_case(store: Store, case: Case, repeat: int) -> Timing:
    """One untimed warm-up run, then `repeat` timed runs of query + response building."""
    rows, body, _ = case.run(store)
    timing = Timing(case.name, case.scope, case.note, rows, _items(body), target_ms=case.target_ms)
    for _ in range(repeat):
        t = time.perf_counter()
        _, _, query_s = case.run(store)
        timing.ms.append((time.perf_counter() - t) * 1000)
        timing.query_ms.append(query_s * 1000)
    return timing


def _items(body: Any) -> int:
    """Groups (stats_v2, sessions), rows (Discover) or issues (a list) in a response body."""
    if isinstance(body, list):
        return len(body)
    return len(body.get("groups", body.get("data", [])))


def run_queries(store: Store, *, org: int, orgs: int, now: datetime, repeat: int,
                progress: Callable[[Timing], None] | None = None) -> list[Timing]:
    out = []
    for c in cases(org=org, orgs=orgs, now=now, sessions_horizon=horizon(store, SESSIONS)):
        out.append(time_case(store, c, repeat))
        if progress is not None:
            progress(out[-1])
    return out


def run_event_queries(store: Store, *, org: int, now: datetime, repeat: int, events: bool = True,
                      transactions: bool = True, progress: Callable[[Timing], None] | None = None,
                      settled: bool = True) -> list[Timing]:
    """The Discover and issue list cases; `settled`: the tables are as `settle` leaves them (else
    as loaded: the timings are marked ` *` and not judged)."""
    out = []
    for c in event_cases(org=org, now=now, events=events, transactions=transactions):
        out.append(time_case(store, c, repeat))
        if not settled:
            out[-1].name += " *"
            out[-1].judged = False
        if progress is not None:
            progress(out[-1])
    return out


# --- the queries of Discover and the issue list -----------------------------------------------------

DISCOVER_TITLES = {"field": ["title", "count()"], "sort": ["-count()"], "statsPeriod": ["14d"]}
DISCOVER_TRANSACTIONS = {"field": ["transaction", "p95(transaction.duration)", "count()"],
                         "sort": ["-p95(transaction.duration)"], "statsPeriod": ["14d"], "dataset": ["transactions"]}
DISCOVER_PAGE = 50  # the route's default per_page
ISSUE_PAGE = 25  # the issue stream's page


def _slugs(projects: Sequence[int]) -> dict[int, str]:
    return {p: f"project-{p}" for p in projects}


def event_cases(*, org: int, now: datetime, events: bool = True, transactions: bool = True) -> list[Case]:
    """Discover's two typical tables over organization `org` (count() by title on the errors and
    the default datasets; p95 by transaction), and the issue list of `issue_project()`."""
    accessible = _slugs(_org_projects(org))
    out: list[Case] = []
    discover = []
    if events:
        discover += [("discover errors 14d count() by title", DISCOVER_TITLES | {"dataset": ["errors"]}),
                     ("discover (default) 14d count() by title", DISCOVER_TITLES)]
    if transactions:
        discover.append(("discover tx 14d p95(duration) by transaction", DISCOVER_TRANSACTIONS))
    for name, params in discover:
        q = discover_table.parse(params, accessible=accessible, now=now, offset=0, limit=DISCOVER_PAGE + 1)
        out.append(Case(name, "one org", "table.parse SQL",
                        _runner(q.sql, q.params, lambda rows, q=q: discover_table.response(q, rows[:DISCOVER_PAGE])),
                        q.sql, q.params, TARGET_EVENTS_MS))
    if events:
        out.append(Case("issues is:unresolved, 25 + 24h stats", "one project", "issues_read, render",
                        _issue_list_runner(issue_project()), "", {}, TARGET_EVENTS_MS))
    return out


def _issue_list_page(store: Store, project_id: int) -> list:
    """The first page of the project's issue list as its route reads it (`list_project_issues`,
    default query `is:unresolved`, sorted by last seen, with the 24 hourly buckets of its stats
    read with the counters): [(issue, {hour: events in the last 24 hours})]."""
    now = datetime.now(timezone.utc)
    series_from = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    groups = issues_read.groups(store, [project_id], statuses=["unresolved"], limit=ISSUE_PAGE + 1,
                                series_from=series_from)[:ISSUE_PAGE]
    return [(g, g.hourly) for g in groups]


def _issue_list_runner(project_id: int) -> Callable[[Store], tuple[int, Any, float]]:
    """The issue list from the store's reads to the response body (`render_events.issue`; the
    viewer's flags and the assignees' names, read per page in the route, are left out)."""
    org = Organization(id=1, slug="org-1", name="Org 1", date_created=datetime(2026, 1, 1, tzinfo=timezone.utc))
    project = Project(id=project_id, org_id=1, slug=f"project-{project_id}", name=f"project-{project_id}",
                      date_created=org.date_created)

    def run(store: Store) -> tuple[int, Any, float]:
        t = time.perf_counter()
        page = _issue_list_page(store, project_id)
        reads_s = time.perf_counter() - t
        now = datetime.now(timezone.utc)
        body = [render_events.issue(g, project, org, "http://localhost:9000", stats, now) for g, stats in page]
        return len(page), body, reads_s
    return run


# --- diagnosis ------------------------------------------------------------------------------------


def _time_sql(store: Store, text: str, params: Mapping[str, Any], repeat: int) -> float:
    store.query(text, dict(params))
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        store.query(text, dict(params))
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms)


def _read_stats(store: Store, text: str, params: Mapping[str, Any], lines_kept: int = 8) -> str:
    """Rows and bytes the query read (from the query's own progress, via system.query_log when present)."""
    try:
        plan = store.query("EXPLAIN indexes = 1 " + text, dict(params))
    except Exception as err:  # noqa: BLE001 - EXPLAIN is informative only
        return f"EXPLAIN failed: {err}"
    lines = [r[0] for r in plan]
    keep = [ln.strip() for ln in lines if any(k in ln for k in ("Parts:", "Granules:", "Condition:", "Keys:"))]
    return "; ".join(keep[:lines_kept])


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


def _time_call(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """p50 (ms) of `call` over `repeat` runs after one warm-up, and what the last run returned."""
    result = call()
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = call()
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms), result


def diagnose_events(store: Store, *, org: int, now: datetime, repeat: int, events: bool = True,
                    transactions: bool = True,
                    progress: Callable[[tuple[str, str, float]], None] = lambda _: None) -> list[tuple[str, str, float]]:
    """Where the time of Discover and the issue list goes: table sizes and parts, the granules
    each Discover query reads, the issue list's reads apart, and p50 (ms) of each once the
    tables are fully merged (OPTIMIZE FINAL; mutates the store)."""
    out = _Reported(progress)
    all_cases = event_cases(org=org, now=now, events=events, transactions=transactions)
    sizes = store.query(
        "SELECT table, sum(rows), count(), sum(data_compressed_bytes) FROM system.parts WHERE database = {d:String}"
        " AND active AND table IN ('error_events', 'groups', 'group_hashes', 'group_status', 'transactions')"
        " GROUP BY table ORDER BY table", {"d": store.database})
    out.append(("rows (active parts, compressed MiB)",
                ", ".join(f"{t}={n:,} ({k}, {b / 2**20:.0f})" for t, n, k, b in sizes), float("nan")))
    for c in all_cases:
        if c.sql:
            out.append((f"EXPLAIN {c.name}", _read_stats(store, c.sql, c.params, 16), float("nan")))
    project = issue_project()
    if events:
        ms, groups = _time_call(lambda: issues_read.groups(store, [project], statuses=["unresolved"],
                                                           limit=ISSUE_PAGE + 1), repeat)
        out.append(("issue list: issues_read.groups without stats", f"{len(groups):,} unresolved issues read"
                    " (a page and one)", ms))
        ids = [g.id for g in groups[:ISSUE_PAGE]]
        since = datetime.now(timezone.utc) - timedelta(hours=24)
        ms, _ = _time_call(lambda: issues_read.hourly_counts(store, [project], ids, since), repeat)
        out.append(("issue list: issues_read.hourly_counts", f"{len(ids)} issues (a period under 24h)", ms))
    for table in (("error_events", "groups", "group_status") if events else ()) + (("transactions",) if transactions else ()):
        t = time.perf_counter()
        store.command(f"OPTIMIZE TABLE {{db}}.{table} FINAL")
        out.append((f"OPTIMIZE FINAL {table}", "seconds", time.perf_counter() - t))
    for c in all_cases:
        ms, _ = _time_call(lambda c=c: c.run(store), repeat)
        out.append((c.name, "after OPTIMIZE FINAL", ms))
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
    head = (f"{'scope':11} {'query':44} {'rows':>6} {'groups':>6} {'p50':>9} {'p99':>9} {'min':>9} {'max':>9}"
            f" {'sql p50':>9}  target")
    lines = [head, "-" * len(head)]
    for t in timings:
        verdict = f"{'met' if t.met else 'MISSED'} (≤{t.target:.0f})" if t.judged else "(not judged)"
        lines.append(f"{t.scope:11} {t.name:44} {t.rows:>6} {t.groups:>6} {t.p50:>9.1f} {t.p99:>9.1f}"
                     f" {min(t.ms):>9.1f} {max(t.ms):>9.1f} {statistics.median(t.query_ms):>9.1f}  {verdict}")
    lines.append("(ms; p50..max: query + response building, 'sql p50': the query alone (issue list: its reads,"
                 " issues_read.groups with the stats); 'all orgs': the builder SQL without its org condition;"
                 " 'groups': groups, rows or issues in the response; ' *': as loaded, before the merges the"
                 " tables force within the hour)")
    return "\n".join(lines)


def _print_done(t: Timing) -> None:
    print(f"  done: {t.scope} {t.name}: p50 {t.p50:.1f} ms (sql {statistics.median(t.query_ms):.1f})", flush=True)


def _print_diagnosis(row: tuple[str, str, float]) -> None:
    print(f"  {row[0]:52} {row[1]:36} {row[2]:9.1f}" if row[2] == row[2] else f"  {row[0]}: {row[1]}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.aggregates", description=__doc__.splitlines()[0])
    ap.add_argument("--outcomes", type=int, default=10_000_000)
    ap.add_argument("--sessions", type=int, default=10_000_000)
    ap.add_argument("--events", type=int, default=10_000_000, help="error events (0: no Discover nor issue list)")
    ap.add_argument("--transactions", type=int, default=10_000_000)
    ap.add_argument("--issues", type=int, default=100_000, help="issues of the issue list's project")
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
    aggregates = bool(args.outcomes or args.sessions)
    event_data = bool(args.events or args.transactions)
    try:
        print(f"clickhouse {store.query('SELECT version()')[0][0]}, data in {data_dir}", flush=True)
        migrate(store)
        for table in ("outcomes_raw", "outcomes_recent", "outcomes_hourly", "outcome_seals",
                      "outcome_dirty_hours", "sessions", "sessions_hourly", "session_seals", "session_dirty_hours",
                      "error_events", "groups", "group_hashes", "group_status", "transactions"):
            store.command(f"TRUNCATE TABLE IF EXISTS {{db}}.{table}")
        timings: list[Timing] = []
        if aggregates:
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
            share = store.query("SELECT countIf(org_id = {o:UInt64}), count() FROM {db}.outcomes_raw",
                                {"o": args.org})[0]
            print(f"org {args.org}: {share[0]:,} of {share[1]:,} outcome rows", flush=True)
            wait_for_merges(store)
            timings += run_queries(store, org=args.org, orgs=args.orgs, now=now, repeat=args.repeat, progress=_print_done)
        if event_data:
            ev = load_events(store, events=args.events, transactions=args.transactions, issues=args.issues,
                             orgs=args.orgs, now=now)
            print(f"loaded in ClickHouse: events {ev.events:,} in {ev.events_seconds:.1f} s, their issues' rows "
                  f"(groups, group_hashes, group_status) in {ev.issues_seconds:.1f} s, the first sealing pass of "
                  f"their counters in {ev.seal_seconds:.1f} s, transactions "
                  f"{ev.transactions:,} in {ev.transactions_seconds:.1f} s; merges waited for "
                  f"{ev.merge_seconds:.1f} s; FINAL counts {ev.events_final:,} / {ev.transactions_final:,}", flush=True)
            print(f"issues: {ev.groups:,} groups rows, {ev.group_hashes:,} hashes, {ev.status_groups:,} with a status;"
                  f" project {ev.project_id}: {ev.issues:,} issues, {ev.project_events:,} events, by status "
                  + ", ".join(f"{k} {v:,}" for k, v in sorted(ev.statuses.items())), flush=True)
            share = store.query(
                "SELECT countIf(project_id IN {p:Array(UInt64)} AND timestamp >= {s:DateTime64(3, 'UTC')}),"
                " countIf(project_id IN {p:Array(UInt64)}), count() FROM {db}.error_events",
                {"p": _org_projects(args.org), "s": now - timedelta(days=14)})[0]
            print(f"org {args.org}: {share[1]:,} of {share[2]:,} events, {share[0]:,} in the last 14 days", flush=True)
            kinds = {"events": bool(args.events), "transactions": bool(args.transactions)}
            timings += run_event_queries(store, org=args.org, now=now, repeat=args.repeat, progress=_print_done,
                                         settled=False, **kinds)
            print(f"settled (the forced merges of parts an hour old) in {settle(store, now):.1f} s", flush=True)
            timings += run_event_queries(store, org=args.org, now=now, repeat=args.repeat, progress=_print_done,
                                         **kinds)
        print(format_table(timings), flush=True)
        missed = [t for t in timings if not t.met]
        print(f"targets: {'all met' if not missed else f'{len(missed)} missed'}", flush=True)
        if not args.no_diagnose:
            print("\ndiagnosis (p50 ms of the SQL alone, or as said):", flush=True)
            repeat = max(1, min(args.repeat, 3))
            if aggregates:
                diagnose(store, org=args.org, orgs=args.orgs, now=now, repeat=repeat, progress=_print_diagnosis)
            if event_data:
                diagnose_events(store, org=args.org, now=now, repeat=repeat, events=bool(args.events),
                                transactions=bool(args.transactions), progress=_print_diagnosis)
        return 0
    finally:
        store.close()
        if temp:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
