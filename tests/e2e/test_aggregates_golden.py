"""Golden tests of the aggregate endpoints: one known dataset through the real ingestion path,
then exact numbers from `stats_v2`, the legacy `stats/` endpoints and `sessions`.

The dataset (the constants below and `_send_dataset`) is sent once per module as SDKs send it: envelopes to
`/api/{project_id}/envelope/` with error events, a message-only event, transactions,
attachments, a feedback, a check-in, client reports, `session` updates and a pre-aggregated
`sessions` item, over three projects in two teams. Times are chosen relative to H0, the start of
the UTC hour the dataset is sent in:

- items processed now are stamped with their receipt time, which is in H0's hour;
- client-report outcomes carry the report's own `timestamp`, so they are placed at exact
  past seconds (the gateway keeps it as the outcome's time, `services/ingest/client_reports.py`);
- sessions are bucketed by their `started` time, placed in past hours and days;
- event E5 carries a past `timestamp`, which is what the legacy `generated` stat counts by.

Every expected number is written out by hand from that dataset (comments say where each comes
from). Ranges relative to "now" are computed from the wall clock around each request, with
Sentry's rule (start floored, end ceiled to the interval) restated in `_window`.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from tests.support.api import call
from tests.support.picket import PicketProcess

ORG = "golden"
MINUTE, HOUR, DAY = 60, 3600, 86400
Q, TS = "sum(quantity)", "sum(times_seen)"

# --- where things are, in seconds from H0 ---------------------------------------------------------
NOW = 0  # items processed now: their outcomes are stamped with the receipt time, inside H0's hour
TA = -30 * HOUR + 15 * MINUTE  # client report of project `default` (P1)
TB = -5 * HOUR + 20 * MINUTE  # client report of project `backend` (P2)
TC = -72 * HOUR + 30 * MINUTE  # client report of project `mobile` (P3), three days ago
EDGE = -10 * HOUR  # four `edge` outcomes (P2) at EDGE-1s, EDGE, EDGE+2h-1s and EDGE+2h
E5_AT = -5 * HOUR + 40 * MINUTE  # the event timestamp of E5 (P2, staging)
SA = -30 * HOUR + 5 * MINUTE  # sessions A: P1, release 1.0.0, production
SD = SA + MINUTE  # session D: P3, release 1.0.0, production
SB = -2 * HOUR + 7 * MINUTE  # sessions B and the aggregates: P2, release 1.1.0, staging
SC = -72 * HOUR + 10 * MINUTE  # sessions C: P1, release 1.2.0, production

# The `edge` outcomes (all P2, filtered, category error, reason "edge"): quantities that tell
# them apart in any sum.
EDGES = [(EDGE - 1, 1), (EDGE, 10), (EDGE + 2 * HOUR - 1, 100), (EDGE + 2 * HOUR, 1000)]

# Error-category outcomes by outcome: (offset from H0, quantity, outcome messages).
ERROR_PLACEMENTS: dict[str, list[tuple[int, int, int]]] = {
    # E1, E2 (error), E3 (default) of P1, E4 and E5 of P2, E6 of P3: six accepted events
    "accepted": [(NOW, 6, 6)],
    # P1's before_send discards (4) at TA; P2's security (2) and default (1) discards at TB
    "client_discard": [(TA, 4, 1), (TB, 3, 2)],
    # P1's rate-limited errors (3) at TA; P3's spike-protection ones (5) at TC
    "rate_limited": [(TA, 3, 1), (TC, 5, 1)],
    # P2's browser-extensions filter (6) at TB and the four edge outcomes
    "filtered": [(TB, 6, 1), *((offset, quantity, 1) for offset, quantity in EDGES)],
}

# The whole dataset by (outcome, category): (sum(quantity), sum(times_seen)). times_seen counts
# outcome messages: one per event (a resent event once), per attachment, per session update (a
# resent update once), per client-report entry.
OUTCOME_CATEGORY: dict[tuple[str, str], tuple[int, int]] = {
    ("accepted", "error"): (6, 6),  # E1..E6; E1 was sent twice and counts once
    ("accepted", "attachment"): (350, 2),  # two attachments of E1: 100 + 250 bytes
    ("accepted", "transaction"): (2, 2),
    ("accepted", "feedback"): (1, 1),
    ("accepted", "monitor"): (1, 1),  # the check-in
    # one per session update (P1 16, P2 5, P3 2: P1's replayed update is the same (sid, seq) and
    # counts once, as a retry must) plus the aggregates item of P2 (one message of 3 + 1 + 1 + 2 =
    # 7 sessions)
    ("accepted", "session"): (16 + 5 + 2 + 7, 16 + 5 + 2 + 1),
    ("client_discard", "error"): (4 + 2 + 1, 3),  # error + security + default entries
    ("client_discard", "transaction"): (7, 1),
    ("client_discard", "attachment"): (1000, 1),  # 1000 bytes in one report entry
    ("rate_limited", "error"): (3 + 5, 2),
    ("filtered", "error"): (6 + 1 + 10 + 100 + 1000, 5),
}


# --- the world the fixture builds -----------------------------------------------------------------


@dataclass(frozen=True)
class World:
    proc: PicketProcess
    h0: int  # epoch seconds: start of the UTC hour the dataset was sent in
    projects: dict[str, int]  # "P1"/"P2"/"P3" → project id

    def at(self, offset: int) -> int:
        return self.h0 + offset

    def name(self, project_id: int) -> str:
        return {v: k for k, v in self.projects.items()}[int(project_id)]

    def get(self, path: str, params: Any = None) -> httpx.Response:
        """GET checked against the reference schema (status, body shape, error detail)."""
        with self.proc.client() as http:
            return call(http, "GET", path, params=params)

    def get_outside_reference(self, path: str, params: Any = None) -> httpx.Response:
        """GET of an answer whose form the reference does not describe, checked here instead:
        - stats_v2 grouped by project has no `intervals` and no `series` (Sentry runs only its
          totals query then), which the reference declares required;
        - the organization's legacy stats with `group=project` answer `{project_id: series}`,
          where the reference (which lists no `group` parameter) declares only an array."""
        with self.proc.client() as http:
            response = http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _floor(ts: float, step: int) -> int:
    return math.floor(ts / step) * step


def _ceil(ts: float, step: int) -> int:
    return math.ceil(ts / step) * step


def _window(start: float, end: float, step: int) -> tuple[int, int]:
    """Sentry's range: start floored and end ceiled to whole intervals (UTC, since the epoch)."""
    return _floor(start, step), _ceil(end, step)


def _grid(window: tuple[int, int], step: int) -> list[str]:
    return [iso(t) for t in range(window[0], window[1], step)]


def _series(window: tuple[int, int], step: int, placed: list[tuple[int, int]]) -> list[int]:
    """Values at absolute times, summed into the intervals of `window`; outside it they drop."""
    out = [0] * ((window[1] - window[0]) // step)
    for ts, value in placed:
        if window[0] <= ts < window[1]:
            out[(ts - window[0]) // step] += value
    return out


def _relative(w: World, path: str, params: dict[str, Any], back: int, step: int,
              ahead: int = 0) -> tuple[dict[str, Any], tuple[int, int]]:
    """GET a range relative to now; also the window it must cover: [now - back, now - ahead]
    rounded to `step`. Retried when the window moved on during the request."""
    for _ in range(3):
        before = time.time()
        body = w.get(path, params).json()
        after = time.time()
        window = _window(before - back, before - ahead, step)
        if window == _window(after - back, after - ahead, step):
            return body, window
    raise AssertionError("the clock crossed an interval boundary on every try")


def _by(body: dict[str, Any], group_by: list[str], w: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Groups keyed by their `by` values in `group_by` order (project ids as P1/P2/P3)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for group in body["groups"]:
        assert sorted(group["by"]) == sorted(group_by), group["by"]
        key = tuple(w.name(group["by"][g]) if g == "project" else group["by"][g] for g in group_by)
        assert key not in out, f"group {key} twice"
        out[key] = group
    return out


def _same(actual: Any, expected: Any) -> bool:
    """Exact for ints and None; floats to 1e-9 relative (rates and durations are computed)."""
    if expected is None or actual is None:
        return actual is expected
    if isinstance(expected, float) or isinstance(actual, float):
        return actual == pytest.approx(expected, rel=1e-9, abs=1e-9)
    return actual == expected


def _assert_values(actual: dict[str, Any], expected: dict[str, Any], what: str = "") -> None:
    assert set(actual) == set(expected), f"{what}: fields {sorted(actual)} != {sorted(expected)}"
    wrong = {k: (actual[k], expected[k]) for k in expected if not _same(actual[k], expected[k])}
    assert not wrong, f"{what}: (got, expected) {wrong}"


def _assert_series(actual: list[Any], expected: list[Any], what: str = "") -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} intervals, expected {len(expected)}"
    wrong = [(i, a, e) for i, (a, e) in enumerate(zip(actual, expected)) if not _same(a, e)]
    assert not wrong, f"{what}: (index, got, expected) {wrong}"


# --- sending the dataset --------------------------------------------------------------------------


def _envelope(url: str, *items: Item, event_id: str | None = None) -> None:
    env = Envelope(headers={"event_id": event_id} if event_id else {})
    for item in items:
        env.add_item(item)
    response = httpx.post(url, content=env.serialize(), timeout=30)
    assert response.status_code == 200, response.text


def _event(event_id: str, *, exception: str | None = None, message: str | None = None,
           **extra: Any) -> Item:
    body: dict[str, Any] = {"event_id": event_id, "platform": "python", **extra}
    if exception:
        body["exception"] = {"values": [{"type": "GoldenError", "value": exception}]}
    if message:
        body["message"] = message
    return Item(type="event", payload=PayloadRef(json=body))


def _report(at: int, **lists: list[dict[str, Any]]) -> Item:
    return Item(type="client_report", payload=PayloadRef(json={"timestamp": at, **lists}))


def _entry(category: str, reason: str, quantity: int) -> dict[str, Any]:
    return {"category": category, "reason": reason, "quantity": quantity}


# Sessions: (project, release, environment, started offset, distinct id or None, updates), each
# update (status, errors, duration seconds or None); seq is the position, the first is `init`.
SESSIONS: list[tuple[str, str, str, int, str | None, list[tuple[str, int, float | None]]]] = [
    ("P1", "1.0.0", "production", SA, "u1", [("ok", 0, None), ("exited", 0, 10.0)]),  # a1 healthy
    ("P1", "1.0.0", "production", SA, "u2", [("ok", 0, None), ("exited", 0, 20.0)]),  # a2 healthy (+ replay)
    ("P1", "1.0.0", "production", SA, "u3", [("ok", 0, None), ("crashed", 0, None)]),  # a3 crashed
    ("P1", "1.0.0", "production", SA, "u1", [("ok", 0, None), ("ok", 2, None), ("exited", 2, 30.0)]),  # a4 errored
    ("P1", "1.0.0", "production", SA, None, [("ok", 0, None)]),  # a5 healthy, still running, no user
    ("P1", "1.0.0", "production", SA, "u4", [("ok", 0, None), ("abnormal", 0, None)]),  # a6 abnormal
    ("P2", "1.1.0", "staging", SB, "u5", [("ok", 0, None), ("exited", 0, 40.0)]),  # b1 healthy
    ("P2", "1.1.0", "staging", SB, "u6", [("ok", 0, None), ("crashed", 0, None)]),  # b2 crashed
    ("P2", "1.1.0", "staging", SB, "u5", [("errored", 1, None)]),  # b3 errored
    ("P1", "1.2.0", "production", SC, "u1", [("ok", 0, None), ("exited", 0, 50.0)]),  # c1 healthy
    ("P1", "1.2.0", "production", SC, "u8", [("ok", 0, None), ("crashed", 0, None)]),  # c2 crashed (sent last first)
    ("P3", "1.0.0", "production", SD, "u1", [("ok", 0, None), ("exited", 0, 60.0)]),  # d1 healthy
]
# P2's pre-aggregated sessions at SB: u7 had 3 exited, 1 errored and 1 crashed session; an
# anonymous user 2 exited ones.
AGGREGATES = [{"did": "u7", "exited": 3, "errored": 1, "crashed": 1}, {"exited": 2}]


def _session_items(w: World, started_offset: int, did: str | None, release: str, environment: str,
                   updates: list[tuple[str, int, float | None]]) -> list[dict[str, Any]]:
    sid = uuid.uuid4().hex
    started = w.at(started_offset)
    out = []
    for seq, (status, errors, duration) in enumerate(updates):
        body: dict[str, Any] = {
            "sid": sid, "seq": seq, "init": seq == 0, "started": iso(started), "timestamp": iso(started + 60 * seq),
            "status": status, "errors": errors, "attrs": {"release": release, "environment": environment},
        }
        if did is not None:
            body["did"] = did
        if duration is not None:
            body["duration"] = duration
        out.append(body)
    return out


def _send_dataset(w: World, urls: dict[str, str]) -> None:
    p1, p2, p3 = urls["P1"], urls["P2"], urls["P3"]
    e1 = uuid.uuid4().hex
    attachments = [Item(type="attachment", payload=PayloadRef(bytes=b"a" * 100), filename="a.txt"),
                   Item(type="attachment", payload=PayloadRef(bytes=b"b" * 250), filename="b.txt")]
    _envelope(p1, _event(e1, exception="golden 1"), *attachments, event_id=e1)
    _envelope(p1, _event(e1, exception="golden 1"), event_id=e1)  # an SDK retry: the same event again
    for event_id, kwargs in ((uuid.uuid4().hex, {"exception": "golden 2"}),
                             (uuid.uuid4().hex, {"message": "a message, no exception: a default event"})):
        _envelope(p1, _event(event_id, **kwargs), event_id=event_id)
    now = time.time()
    for _ in range(2):
        tid = uuid.uuid4().hex
        _envelope(p1, Item(type="transaction", payload=PayloadRef(json={
            "event_id": tid, "type": "transaction", "transaction": "/checkout", "start_timestamp": now - 1,
            "timestamp": now, "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]}},
        })), event_id=tid)
    fid = uuid.uuid4().hex
    _envelope(p1, Item(type="feedback", payload=PayloadRef(json={
        "event_id": fid, "timestamp": now, "contexts": {"feedback": {"message": "golden", "contact_email": "a@b.c"}},
    })), event_id=fid)
    _envelope(p1, Item(type="check_in", payload=PayloadRef(json={
        "check_in_id": uuid.uuid4().hex, "monitor_slug": "golden-nightly", "status": "ok",
        "monitor_config": {"schedule": {"type": "crontab", "value": "0 * * * *"}},
    })))
    e4, e5, e6 = (uuid.uuid4().hex for _ in range(3))
    _envelope(p2, _event(e4, exception="golden 4", environment="production"), event_id=e4)
    _envelope(p2, _event(e5, exception="golden 5", environment="staging", timestamp=w.at(E5_AT)), event_id=e5)
    _envelope(p3, _event(e6, exception="golden 6"), event_id=e6)

    _envelope(p1, _report(w.at(TA), discarded_events=[_entry("error", "before_send", 4),
                                                      _entry("transaction", "sample_rate", 7)],
                          rate_limited_events=[_entry("error", "key_quota", 3)]))
    _envelope(p2, _report(w.at(TB), discarded_events=[_entry("security", "queue_overflow", 2),
                                                      _entry("default", "queue_overflow", 1),
                                                      _entry("attachment", "send_error", 1000)],
                          filtered_events=[_entry("error", "browser-extensions", 6)]))
    _envelope(p3, _report(w.at(TC), rate_limited_events=[_entry("error", "smart_rate_limit", 5)]))
    for offset, quantity in EDGES:
        _envelope(p2, _report(w.at(offset), filtered_events=[_entry("error", "edge", quantity)]))

    session_items = 0
    for project, release, environment, started, did, updates in SESSIONS:
        bodies = _session_items(w, started, did, release, environment, updates)
        if did == "u8":  # c2's updates arrive out of order: the crash (seq 1) before the start
            for body in reversed(bodies):
                _envelope(urls[project], Item(type="session", payload=PayloadRef(json=body)))
        else:
            _envelope(urls[project], *(Item(type="session", payload=PayloadRef(json=b)) for b in bodies))
        session_items += len(bodies)
        if did == "u2":  # a2's last update delivered twice (a retry): still one session
            _envelope(urls[project], Item(type="session", payload=PayloadRef(json=bodies[-1])))
            session_items += 1
    assert session_items == 17 + 5 + 2  # session items sent: one is a resent update
    _envelope(p2, Item(type="sessions", payload=PayloadRef(json={
        "attrs": {"release": "1.1.0", "environment": "staging"},
        "aggregates": [{"started": iso(w.at(SB)), **agg} for agg in AGGREGATES],
    })))


def _landed(w: World) -> str | None:
    """None once every part of the dataset is visible, else what is still missing."""
    stats = w.get(f"/api/0/organizations/{ORG}/stats_v2/", {
        "field": [Q, TS], "groupBy": ["outcome", "category"],
        "start": iso(w.at(-4 * DAY)), "end": iso(w.at(HOUR)), "interval": "1d",
    }).json()
    got = {tuple(g["by"][k] for k in ("outcome", "category")): (g["totals"][Q], g["totals"][TS])
           for g in stats["groups"]}
    if got != OUTCOME_CATEGORY:
        return f"outcomes {got}"
    sessions = w.get(f"/api/0/organizations/{ORG}/sessions/", {
        "field": ["sum(session)", "count_unique(user)"], "groupBy": "session.status", "statsPeriod": "4d",
        "interval": "1d",
    }).json()
    got_sessions = {g["by"]["session.status"]: (g["totals"]["sum(session)"], g["totals"]["count_unique(user)"])
                    for g in sessions["groups"]}
    if got_sessions != SESSIONS_BY_STATUS:
        return f"sessions {got_sessions}"
    per_project = {
        name: sum(n for _, n in w.get(f"/api/0/projects/{ORG}/{slug}/stats/", {"stat": "generated"}).json())
        for name, slug in (("P1", "default"), ("P2", "backend"), ("P3", "mobile"))
    }
    if per_project != {"P1": 3, "P2": 2, "P3": 1}:
        return f"stored events {per_project}"
    return None


@pytest.fixture(scope="module")
def w(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("golden"), org=ORG,
                         env={"PICKET_SEAL_INTERVAL": "1"}).start()
    try:
        with proc.client() as http:
            assert http.post(f"/api/0/organizations/{ORG}/teams/", json={"slug": "other"}).status_code == 201
            assert http.post(f"/api/0/teams/{ORG}/{ORG}/projects/", json={"name": "backend"}).status_code == 201
            assert http.post(f"/api/0/teams/{ORG}/other/projects/", json={"name": "mobile"}).status_code == 201
            urls, projects = {}, {}
            for name, slug in (("P1", "default"), ("P2", "backend"), ("P3", "mobile")):
                key = http.get(f"/api/0/projects/{ORG}/{slug}/keys/").json()[0]
                projects[name] = int(key["projectId"])
                urls[name] = f"{proc.url}/api/{key['projectId']}/envelope/?sentry_key={key['public']}"
        # Everything received now must fall in one hour: start over the boundary when it is near.
        if time.time() % HOUR > HOUR - 45:
            time.sleep(HOUR - time.time() % HOUR + 1)
        world = World(proc=proc, h0=_floor(time.time(), HOUR), projects=projects)
        _send_dataset(world, urls)
        assert _floor(time.time(), HOUR) == world.h0, "sending the dataset crossed an hour boundary"
        deadline = time.monotonic() + 60
        while (missing := _landed(world)) is not None:
            assert time.monotonic() < deadline, f"the dataset did not land in 60 s: {missing}"
            time.sleep(0.5)
        yield world
    finally:
        proc.stop()


# === stats_v2 ======================================================================================

STATS = f"/api/0/organizations/{ORG}/stats_v2/"
FIELDS = {"quantity": [Q], "times_seen": [TS], "both": [Q, TS]}


def _everything(w: World) -> dict[str, str]:
    """A range holding the whole dataset: four days back from H0 to the end of H0's hour."""
    return {"start": iso(w.at(-4 * DAY)), "end": iso(w.at(HOUR)), "interval": "1d"}


# (extra params, groupBy, {by values: (sum(quantity), sum(times_seen))}) over `_everything`.
TOTALS_CASES = [
    pytest.param({}, ["outcome", "category"], OUTCOME_CATEGORY, id="by-outcome-category"),
    pytest.param({}, ["category"], {
        ("error",): (6 + 7 + 8 + 1117, 6 + 3 + 2 + 5),  # default and security count as error
        ("attachment",): (350 + 1000, 3),  # bytes; one message per attachment / report entry
        ("transaction",): (2 + 7, 3),
        ("feedback",): (1, 1),
        ("monitor",): (1, 1),
        ("session",): (30, 24),  # a resent session update counts once
    }, id="by-category"),
    pytest.param({"category": "error"}, ["outcome"], {
        ("accepted",): (6, 6), ("client_discard",): (7, 3), ("rate_limited",): (8, 2), ("filtered",): (1117, 5),
    }, id="error-by-outcome"),
    pytest.param({"category": "error"}, ["reason"], {
        ("none",): (6, 6),  # accepted outcomes have no reason
        ("before_send",): (4, 1),
        ("queue_overflow",): (3, 2),  # P2's security (2) and default (1) discards
        ("key_quota",): (3, 1),
        ("spike_protection",): (5, 1),  # stored as smart_rate_limit, named spike_protection
        ("browser-extensions",): (6, 1),
        ("edge",): (1111, 4),
    }, id="error-by-reason"),
    pytest.param({"category": "error", "outcome": "client_discard"}, ["outcome", "reason"], {
        ("client_discard", "before_send"): (4, 1), ("client_discard", "queue_overflow"): (3, 2),
    }, id="client-discards-by-reason"),
    pytest.param({"category": "security"}, ["category"], {("error",): (2, 1)},
                 id="security-alone-is-rendered-error"),
    pytest.param({"category": "attachment"}, ["outcome"], {
        ("accepted",): (350, 2), ("client_discard",): (1000, 1),
    }, id="attachment-bytes-vs-count"),
    pytest.param({"category": ["error", "transaction"]}, ["category"], {
        ("error",): (1138, 16), ("transaction",): (9, 3),
    }, id="two-categories"),
    pytest.param({"category": "error"}, ["project"], {
        ("P1",): (3 + 4 + 3, 5),  # E1-E3, before_send 4, key_quota 3
        ("P2",): (2 + 3 + 6 + 1111, 9),  # E4, E5, queue_overflow 2 + 1, browser-extensions 6, edges
        ("P3",): (1 + 5, 2),  # E6, spike protection 5
    }, id="error-by-project"),
    pytest.param({"category": "error"}, ["project", "outcome"], {
        ("P1", "accepted"): (3, 3), ("P1", "client_discard"): (4, 1), ("P1", "rate_limited"): (3, 1),
        ("P2", "accepted"): (2, 2), ("P2", "client_discard"): (3, 2), ("P2", "filtered"): (1117, 5),
        ("P3", "accepted"): (1, 1), ("P3", "rate_limited"): (5, 1),
    }, id="error-by-project-outcome"),
    pytest.param({"category": "error", "project": "{P2}"}, ["outcome"], {
        ("accepted",): (2, 2), ("client_discard",): (3, 2), ("filtered",): (1117, 5),
    }, id="project-filter"),
    pytest.param({"project": ["{P1}", "{P3}"]}, ["category"], {
        ("error",): (10 + 6, 5 + 2), ("attachment",): (350, 2), ("transaction",): (9, 3),
        ("feedback",): (1, 1), ("monitor",): (1, 1), ("session",): (16 + 2, 16 + 2),  # a resent update once
    }, id="two-project-filter"),
    pytest.param({"project": ["{P1}", "{P2}"], "category": "error"}, ["project"], {
        ("P1",): (10, 5), ("P2",): (1122, 9),
    }, id="two-projects-by-project"),
    pytest.param({"project": "-1", "category": "error"}, ["outcome"], {
        ("accepted",): (6, 6), ("client_discard",): (7, 3), ("rate_limited",): (8, 2), ("filtered",): (1117, 5),
    }, id="all-projects-minus-one"),
    pytest.param({"project": "-1", "category": "error"}, ["project"], {
        ("P1",): (10, 5), ("P2",): (1122, 9), ("P3",): (6, 2),
    }, id="all-projects-minus-one-by-project"),
    pytest.param({"outcome": ["accepted", "filtered"]}, ["outcome", "category"], {
        k: v for k, v in OUTCOME_CATEGORY.items() if k[0] in ("accepted", "filtered")
    }, id="two-outcomes"),
    pytest.param({"category": "error", "outcome": "RATE_LIMITED"}, ["reason"], {
        ("key_quota",): (3, 1), ("spike_protection",): (5, 1),
    }, id="outcome-name-any-case"),
    pytest.param({"category": "error", "reason": "spike_protection"}, ["project", "reason"], {
        ("P3", "spike_protection"): (5, 1),
    }, id="reason-spike-protection"),
    pytest.param({"category": "error", "reason": ["queue_overflow", "before_send"]}, ["reason"], {
        ("queue_overflow",): (3, 2), ("before_send",): (4, 1),
    }, id="two-reasons"),
    pytest.param({"category": "error", "reason": "none"}, ["outcome"], {("accepted",): (6, 6)},
                 id="reason-none-is-no-reason"),
    pytest.param({"category": "transaction", "outcome": "client_discard"}, ["reason"], {
        ("sample_rate",): (7, 1),
    }, id="transaction-discards"),
]


def _expand(value: Any, w: World) -> Any:
    """`{P1}` placeholders → project ids."""
    if isinstance(value, list):
        return [_expand(v, w) for v in value]
    if isinstance(value, str) and value.startswith("{P"):
        return str(w.projects[value[1:-1]])
    return value


@pytest.mark.parametrize("fields", list(FIELDS), ids=list(FIELDS))
@pytest.mark.parametrize(("extra", "group_by", "expected"), TOTALS_CASES)
def test_stats_v2_totals(w: World, extra: dict[str, Any], group_by: list[str],
                         expected: dict[tuple[str, ...], tuple[int, int]], fields: str) -> None:
    """Each field, groupBy and filter over the whole dataset: exactly the groups of the data
    that match, with the dataset's totals; series sum to the totals, one value per interval;
    grouped by project, no `intervals` and no `series` (Sentry runs only its totals query)."""
    params = {**_everything(w), **{k: _expand(v, w) for k, v in extra.items()}, "field": FIELDS[fields],
              "groupBy": group_by}
    get = w.get_outside_reference if "project" in group_by else w.get
    body = get(STATS, params).json()
    groups = _by(body, group_by, w)
    assert set(groups) == set(expected)
    for key, (quantity, times_seen) in expected.items():
        want = {Q: quantity, TS: times_seen}
        assert groups[key]["totals"] == {f: want[f] for f in FIELDS[fields]}, key
    assert body["start"] == iso(_floor(w.at(-4 * DAY), DAY)) and body["end"] == iso(_ceil(w.at(HOUR), DAY))
    if "project" in group_by:
        assert "intervals" not in body
        assert all("series" not in g for g in body["groups"])
    else:
        assert body["intervals"] == _grid(_window(w.at(-4 * DAY), w.at(HOUR), DAY), DAY)
        for key, group in groups.items():
            for f in FIELDS[fields]:
                assert len(group["series"][f]) == len(body["intervals"])
                assert sum(group["series"][f]) == group["totals"][f], key


def test_stats_v2_category_default_holds_no_accepted_events(w: World) -> None:
    """`category=default` alone: only the default-category discard of the client report at TB."""
    body = w.get(STATS, {**_everything(w), "field": Q, "category": "default", "groupBy": "outcome"}).json()
    assert {g["by"]["outcome"]: g["totals"][Q] for g in body["groups"]} == {"client_discard": 1}


# Relative ranges and interval lengths: (params, seconds back from now, interval seconds).
SERIES_CASES = [
    pytest.param({"statsPeriod": "4d", "interval": "1d"}, 4 * DAY, DAY, id="4d-by-1d"),
    pytest.param({"statsPeriod": "4d", "interval": "6h"}, 4 * DAY, 6 * HOUR, id="4d-by-6h"),
    pytest.param({"statsPeriod": "2d", "interval": "3h"}, 2 * DAY, 3 * HOUR, id="2d-by-3h"),
    pytest.param({"statsPeriod": "2d", "interval": "12h"}, 2 * DAY, 12 * HOUR, id="2d-by-12h"),
    pytest.param({"statsPeriod": "1d"}, DAY, HOUR, id="1d-default-interval-1h"),
    pytest.param({"statsPeriod": "36h", "interval": "1h"}, 36 * HOUR, HOUR, id="36h-by-1h"),
    pytest.param({"statsPeriod": "3h", "interval": "1h"}, 3 * HOUR, HOUR, id="3h-by-1h"),
]


@pytest.mark.parametrize(("range_params", "back", "step"), SERIES_CASES)
def test_stats_v2_series_over_relative_ranges(w: World, range_params: dict[str, str], back: int,
                                              step: int) -> None:
    """Error outcomes per interval for `statsPeriod` ranges of several interval lengths: the
    range is [now - period, now] widened to whole intervals, every interval present (zero where
    nothing happened), each outcome in the interval of its time, those before the range absent."""
    params = {**range_params, "field": [Q, TS], "category": "error", "groupBy": "outcome"}
    body, window = _relative(w, STATS, params, back, step)
    assert (body["start"], body["end"]) == (iso(window[0]), iso(window[1]))
    assert body["intervals"] == _grid(window, step)
    quantities = {o: _series(window, step, [(w.at(t), q) for t, q, _ in placed])
                  for o, placed in ERROR_PLACEMENTS.items()}
    messages = {o: _series(window, step, [(w.at(t), m) for t, _, m in placed])
                for o, placed in ERROR_PLACEMENTS.items()}
    present = {o for o, series in quantities.items() if any(series)}  # no group for what the range misses
    groups = _by(body, ["outcome"], w)
    assert set(groups) == {(o,) for o in present}
    for outcome in present:
        group = groups[(outcome,)]
        _assert_series(group["series"][Q], quantities[outcome], outcome)
        _assert_series(group["series"][TS], messages[outcome], outcome)
        assert group["totals"] == {Q: sum(quantities[outcome]), TS: sum(messages[outcome])}


def test_stats_v2_one_day_back_misses_the_thirty_hour_old_report(w: World) -> None:
    """A fixed point of the relative ranges, stated without the helpers: over the last day, the
    error outcomes are the six accepted events, P2's three discards, its browser-extensions filter
    and the four edge outcomes; P1's report of 30 h ago and P3's of 3 days ago are outside."""
    body = w.get(STATS, {"statsPeriod": "1d", "field": Q, "category": "error", "groupBy": "outcome"}).json()
    assert {g["by"]["outcome"]: g["totals"][Q] for g in body["groups"]} == {
        "accepted": 6, "client_discard": 3, "filtered": 6 + 1111,
    }
    assert len(body["intervals"]) in (24, 25)  # 25 unless now is exactly on the hour


# The edge outcomes (P2, filtered, reason edge) at EDGE-1s: 1, EDGE: 10, EDGE+2h-1s: 100,
# EDGE+2h: 1000. (start, end) as offsets from EDGE, the interval, the expected window (offsets
# from EDGE) and the expected quantities per interval.
EDGE_CASES = [
    pytest.param("iso", 0, 2 * HOUR, "1h", (0, 2 * HOUR), [10, 100], id="exact-hours"),
    pytest.param("epoch", 0, 2 * HOUR, "1h", (0, 2 * HOUR), [10, 100], id="exact-hours-epoch"),
    pytest.param("iso", -1, 2 * HOUR, "1h", (-HOUR, 2 * HOUR), [1, 10, 100], id="start-one-second-earlier"),
    pytest.param("iso", 0, 2 * HOUR + 1, "1h", (0, 3 * HOUR), [10, 100, 1000], id="end-one-second-later"),
    pytest.param("epoch", 30 * MINUTE, 90 * MINUTE, "1h", (0, 2 * HOUR), [10, 100], id="inside-widened-epoch"),
    pytest.param("iso", 1, 2 * HOUR - 1, "1h", (0, 2 * HOUR), [10, 100], id="inside-by-a-second"),
    pytest.param("iso", -HOUR, 2 * HOUR + 30 * MINUTE, "30m", (-HOUR, 2 * HOUR + 30 * MINUTE),
                 [0, 1, 10, 0, 0, 100, 1000], id="half-hours-zero-filled"),
    pytest.param("iso", 1, 2 * HOUR - 1, "1m", (0, 2 * HOUR),
                 [10] + [0] * 118 + [100], id="minutes"),
]


@pytest.mark.parametrize(("form", "start", "end", "interval", "window", "quantities"), EDGE_CASES)
def test_stats_v2_range_edges(w: World, form: str, start: int, end: int, interval: str,
                              window: tuple[int, int], quantities: list[int]) -> None:
    """`start`/`end` (ISO 8601 or epoch seconds) are widened to whole intervals, then the range
    is [start, end): an outcome at the start counts, one a second before it does not (unless
    the widening takes it in), one at the end does not, one a second before it does."""
    def fmt(offset: int) -> str:
        return iso(w.at(EDGE + offset)) if form == "iso" else str(w.at(EDGE + offset))

    params = {"start": fmt(start), "end": fmt(end), "interval": interval, "field": [Q, TS],
              "category": "error", "reason": "edge", "groupBy": "outcome"}
    body = w.get(STATS, params).json()
    step = {"1h": HOUR, "30m": 30 * MINUTE, "1m": MINUTE}[interval]
    assert (body["start"], body["end"]) == (iso(w.at(EDGE + window[0])), iso(w.at(EDGE + window[1])))
    assert body["intervals"] == [iso(w.at(EDGE) + t) for t in range(window[0], window[1], step)]
    [group] = body["groups"]
    assert group["by"] == {"outcome": "filtered"}
    assert group["series"][Q] == quantities
    assert group["series"][TS] == [1 if q else 0 for q in quantities]
    assert group["totals"] == {Q: sum(quantities), TS: sum(1 for q in quantities if q)}


def test_stats_v2_day_interval_widens_to_whole_days(w: World) -> None:
    """With `interval=1d` the same two-hour range covers whole UTC days, so the outcome a second
    before the start and the one at the end are in too — unless the start (or the end) is itself
    a midnight, which the widening leaves as it is."""
    start, end = w.at(EDGE), w.at(EDGE + 2 * HOUR)
    body = w.get(STATS, {"start": iso(start), "end": iso(end), "interval": "1d", "field": Q,
                         "category": "error", "reason": "edge", "groupBy": "outcome"}).json()
    window = _window(start, end, DAY)
    assert body["intervals"] == _grid(window, DAY)
    assert body["groups"][0]["series"][Q] == _series(window, DAY, [(w.at(o), q) for o, q in EDGES])
    expected = 10 + 100 + (0 if start % DAY == 0 else 1) + (0 if end % DAY == 0 else 1000)
    assert body["groups"][0]["totals"][Q] == expected


def test_stats_v2_no_matching_data_has_no_groups_but_all_intervals(w: World) -> None:
    """Nothing of category profile exists: no groups, and the intervals are still listed."""
    body, window = _relative(w, STATS, {"statsPeriod": "1d", "interval": "1h", "field": Q, "category": "profile"},
                             DAY, HOUR)
    assert body["groups"] == []
    assert body["intervals"] == _grid(window, HOUR)


def test_stats_v2_a_quiet_range_between_data(w: World) -> None:
    """The three hours before EDGE-1s hold no outcome at all: the error groups exist elsewhere
    but none here."""
    body = w.get(STATS, {"start": iso(w.at(EDGE - 4 * HOUR)), "end": iso(w.at(EDGE - HOUR)), "interval": "1h",
                         "field": Q, "category": "error", "groupBy": ["outcome", "reason"]}).json()
    assert body["groups"] == []
    assert len(body["intervals"]) == 3


# === legacy stats ==================================================================================

ORG_STATS = f"/api/0/organizations/{ORG}/stats/"

# Received errors (categories default/error/security; accepted, filtered or rate limited) by
# time: the six accepted events, P2's filtered report, P1's and P3's rate-limited errors and the
# edge outcomes. Client discards are not received.
RECEIVED = [(NOW, 6), (TB, 6), (TA, 3), (TC, 5), *EDGES]
RECEIVED_BY_PROJECT = {
    "P1": [(NOW, 3), (TA, 3)],
    "P2": [(NOW, 2), (TB, 6), *EDGES],
    "P3": [(NOW, 1), (TC, 5)],
}
REJECTED = [(TA, 3), (TC, 5)]  # rate limited
BLACKLISTED = [(TB, 6), *EDGES]  # filtered


def _legacy_buckets(since: float, until: float, step: int) -> list[int]:
    """Sentry's TSDB series: from `until` back by `step` while at or after `since`, floored."""
    out = []
    t = until
    while t >= since:
        out.append(_floor(int(t), step))
        t -= step
    return out[::-1]


def _legacy_expected(w: World, buckets: list[int], step: int, placed: list[tuple[int, int]]) -> list[list[int]]:
    values = dict.fromkeys(buckets, 0)
    for offset, quantity in placed:
        bucket = _floor(w.at(offset), step)
        if bucket in values:
            values[bucket] += quantity
    return [[b, values[b]] for b in buckets]


def _legacy_relative(w: World, path: str, params: dict[str, Any], since_back: int,
                     step: int) -> tuple[Any, list[int]]:
    """GET with `until` = now (absent) and `since` = now - since_back; also the expected buckets."""
    for _ in range(3):
        before = time.time()
        body = w.get(path, params).json()
        after = time.time()
        buckets = _legacy_buckets(before - since_back, before, step)
        if buckets == _legacy_buckets(after - since_back, after, step):
            return body, buckets
    raise AssertionError("the clock crossed a bucket boundary on every try")


@pytest.mark.parametrize(("stat", "placed"), [
    ("received", RECEIVED), ("rejected", REJECTED), ("blacklisted", BLACKLISTED),
], ids=["received", "rejected", "blacklisted"])
def test_legacy_organization_last_day_hourly(w: World, stat: str, placed: list[tuple[int, int]]) -> None:
    """No `since`/`until`/`resolution`: the last day in 24 hourly buckets (until less a day plus a
    second), zero-filled; error outcomes of the whole organization per stat."""
    body, buckets = _legacy_relative(w, ORG_STATS, {"stat": stat}, DAY - 1, HOUR)
    assert len(buckets) == 24
    assert body == _legacy_expected(w, buckets, HOUR, placed)


def test_legacy_organization_received_of_the_last_day_by_hand(w: World) -> None:
    """The same as a plain sum: 6 accepted + 6 filtered + the edge outcomes (1111); P1's report of
    30 h ago, P3's of 3 days ago and every client discard are not in it."""
    body = w.get(ORG_STATS, {"stat": "received"}).json()
    assert sum(n for _, n in body) == 6 + 6 + 1111


@pytest.mark.parametrize(("stat", "placed"), [
    ("received", RECEIVED), ("rejected", REJECTED), ("blacklisted", BLACKLISTED),
], ids=["received", "rejected", "blacklisted"])
def test_legacy_organization_daily(w: World, stat: str, placed: list[tuple[int, int]]) -> None:
    """`resolution=1d` with explicit `since`/`until` (epoch seconds) over four days: one bucket
    per UTC day from `until` back, each outcome in the day it happened."""
    since, until = w.at(-4 * DAY), w.at(HOUR - 1)
    body = w.get(ORG_STATS, {"stat": stat, "since": str(since), "until": str(until), "resolution": "1d"}).json()
    buckets = _legacy_buckets(since, until, DAY)
    assert len(buckets) == 5
    assert body == _legacy_expected(w, buckets, DAY, placed)
    assert sum(n for _, n in body) == {"received": 6 + 6 + 3 + 5 + 1111, "rejected": 8, "blacklisted": 1117}[stat]


# (since, until) as offsets from EDGE, resolution, expected [[bucket offset from EDGE, count]].
LEGACY_EDGE_CASES = [
    pytest.param(0, 2 * HOUR, "1h", [[0, 10], [HOUR, 100], [2 * HOUR, 1000]], id="until-bucket-is-whole"),
    pytest.param(1, 2 * HOUR, "1h", [[HOUR, 100], [2 * HOUR, 1000]], id="since-bucket-absent"),
    pytest.param(0, 2 * HOUR, "60m", [[0, 10], [HOUR, 100], [2 * HOUR, 1000]], id="sixty-minutes-is-an-hour"),
    pytest.param(0, 2 * HOUR - 1, "1h", [[0, 10], [HOUR, 100]], id="until-a-second-before"),
    pytest.param(-1, 2 * HOUR - 1, "1h", [[-HOUR, 1], [0, 10], [HOUR, 100]], id="since-a-second-before"),
    pytest.param(-15, 5, "10s", [[-20, 0], [-10, 1], [0, 10]], id="ten-seconds"),
    pytest.param(-15, 5, "", [[-20, 0], [-10, 1], [0, 10]], id="ten-seconds-chosen-for-a-short-range"),
    # four hours: more than the 10 s rollup keeps (an hour), so hourly
    pytest.param(-HOUR, 3 * HOUR, "", [[-HOUR, 1], [0, 10], [HOUR, 100], [2 * HOUR, 1000], [3 * HOUR, 0]],
                 id="one-hour-rollup-chosen"),
]


@pytest.mark.parametrize(("since", "until", "resolution", "expected"), LEGACY_EDGE_CASES)
def test_legacy_project_edges(w: World, since: int, until: int, resolution: str,
                              expected: list[list[int]]) -> None:
    """P2's received errors around the edge outcomes: buckets start at `until`'s and step back
    while at or after `since`, so `until`'s bucket counts whole and `since`'s only when a step
    lands on or after it. Without `resolution`, the finest rollup covering the range (10 s up to
    an hour, then an hour)."""
    params = {"stat": "received", "since": str(w.at(EDGE + since)), "until": str(w.at(EDGE + until))}
    if resolution:
        params["resolution"] = resolution
    body = w.get(f"/api/0/projects/{ORG}/backend/stats/", params).json()
    assert body == [[w.at(EDGE) + t, n] for t, n in expected]


def test_legacy_until_alone_and_since_equal_to_until(w: World) -> None:
    """`until` alone: `since` is a day less a second before it, so 24 hourly buckets ending with
    `until`'s; `since` equal to `until`: the one bucket of that instant."""
    until = w.at(EDGE + 2 * HOUR - 1)  # the 100 outcome's second
    path = f"/api/0/projects/{ORG}/backend/stats/"
    day = w.get(path, {"until": str(until), "resolution": "1h"}).json()
    buckets = [w.at(EDGE + HOUR) - k * HOUR for k in range(23, -1, -1)]
    counts = {w.at(EDGE - HOUR): 1, w.at(EDGE): 10, w.at(EDGE + HOUR): 100}  # EDGE-1s, EDGE, EDGE+2h-1s
    assert day == [[b, counts.get(b, 0)] for b in buckets]
    one = w.get(path, {"since": str(until), "until": str(until), "resolution": "1h"}).json()
    assert one == [[w.at(EDGE + HOUR), 100]]


@pytest.mark.parametrize("path", [f"/api/0/projects/{ORG}/backend/stats/", f"/api/0/teams/{ORG}/{ORG}/stats/"],
                         ids=["project", "team"])
def test_legacy_unknown_environment_is_404(w: World, path: str) -> None:
    """An environment no event was ever sent in: 404, as Sentry's `ResourceDoesNotExist`."""
    with w.proc.client() as http:
        response = call(http, "GET", path, params={"stat": "generated", "environment": "no-such-environment"})
    assert response.status_code == 404


@pytest.mark.parametrize(("slug", "stat", "placed"), [
    ("default", "received", RECEIVED_BY_PROJECT["P1"]),
    ("backend", "received", RECEIVED_BY_PROJECT["P2"]),
    ("mobile", "received", RECEIVED_BY_PROJECT["P3"]),
    ("backend", "rejected", []),
    ("mobile", "rejected", [(TC, 5)]),
    ("default", "rejected", [(TA, 3)]),
    ("backend", "blacklisted", BLACKLISTED),
    ("backend", "browser-extensions", [(TB, 6)]),  # received with that filter as reason
    ("backend", "ip-address", []),
    # stored events by event time: E1 (sent twice, stored once), E2, E3 now; E4 now and E5 at its
    # own past timestamp; E6 now
    ("default", "generated", [(NOW, 3)]),
    ("backend", "generated", [(NOW, 1), (E5_AT, 1)]),
    ("mobile", "generated", [(NOW, 1)]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_legacy_project_stats(w: World, slug: str, stat: str, placed: list[tuple[int, int]]) -> None:
    """Each stat of the project endpoint over four days, daily, and over the last day, hourly."""
    since, until = w.at(-4 * DAY), w.at(HOUR - 1)
    path = f"/api/0/projects/{ORG}/{slug}/stats/"
    daily = w.get(path, {"stat": stat, "since": str(since), "until": str(until), "resolution": "1d"}).json()
    assert daily == _legacy_expected(w, _legacy_buckets(since, until, DAY), DAY, placed)
    hourly, buckets = _legacy_relative(w, path, {"stat": stat, "resolution": "1h"}, DAY - 1, HOUR)
    assert hourly == _legacy_expected(w, buckets, HOUR, placed)


def test_legacy_project_generated_in_one_environment(w: World) -> None:
    """`generated` with `environment`: only E5, stored in staging, at its own timestamp."""
    since, until = w.at(-DAY), w.at(HOUR - 1)
    params = {"stat": "generated", "environment": "staging", "since": str(since), "until": str(until)}
    body = w.get(f"/api/0/projects/{ORG}/backend/stats/", params).json()
    buckets = _legacy_buckets(since, until, HOUR)
    assert body == _legacy_expected(w, buckets, HOUR, [(E5_AT, 1)])
    assert sum(n for _, n in body) == 1


@pytest.mark.parametrize(("team", "stat", "placed"), [
    (ORG, None, [(NOW, 3 + 1), (E5_AT, 1)]),  # P1 and P2: E1-E3, E4 now, E5 earlier
    (ORG, "received", [(NOW, 3 + 1), (E5_AT, 1)]),  # Sentry's team endpoint ignores `stat`
    ("other", None, [(NOW, 1)]),  # P3: E6
], ids=["golden-team", "golden-team-stat-ignored", "other-team"])
def test_legacy_team_stats(w: World, team: str, stat: str | None, placed: list[tuple[int, int]]) -> None:
    """The team endpoint counts the stored events of the team's projects (and no other's)."""
    since, until = w.at(-DAY), w.at(HOUR - 1)
    params = {"since": str(since), "until": str(until), "resolution": "1h"}
    if stat:
        params["stat"] = stat
    body = w.get(f"/api/0/teams/{ORG}/{team}/stats/", params).json()
    assert body == _legacy_expected(w, _legacy_buckets(since, until, HOUR), HOUR, placed)


def test_legacy_organization_by_project(w: World) -> None:
    """`group=project`: one series per project id; `projectID` narrows to some, `id` keeps only
    the keys listed. (Not checked against the reference, which knows only `group=organization`.)"""
    since, until = w.at(-4 * DAY), w.at(HOUR - 1)
    base = {"since": str(since), "until": str(until), "resolution": "1d", "group": "project"}
    buckets = _legacy_buckets(since, until, DAY)
    body = w.get_outside_reference(ORG_STATS, {**base, "stat": "received"}).json()
    assert body == {str(w.projects[p]): _legacy_expected(w, buckets, DAY, placed)
                    for p, placed in RECEIVED_BY_PROJECT.items()}
    p1, p2, p3 = (str(w.projects[p]) for p in ("P1", "P2", "P3"))
    only = w.get_outside_reference(ORG_STATS, {**base, "stat": "generated", "projectID": p2}).json()
    assert only == {str(w.projects["P2"]): _legacy_expected(w, buckets, DAY, [(NOW, 1), (E5_AT, 1)])}
    kept = w.get_outside_reference(ORG_STATS, {**base, "stat": "rejected", "id": [p1, p3]}).json()
    assert kept == {str(w.projects["P1"]): _legacy_expected(w, buckets, DAY, [(TA, 3)]),
                    str(w.projects["P3"]): _legacy_expected(w, buckets, DAY, [(TC, 5)])}


def test_legacy_long_ranges_choose_coarser_rollups(w: World) -> None:
    """Without `resolution`: two days is hourly (49 buckets), eight days daily (9 buckets)."""
    until = w.at(HOUR - 1)
    two_days = w.get(ORG_STATS, {"stat": "rejected", "since": str(until - 2 * DAY), "until": str(until)}).json()
    assert two_days == _legacy_expected(w, _legacy_buckets(until - 2 * DAY, until, HOUR), HOUR, REJECTED)
    assert len(two_days) == 49 and sum(n for _, n in two_days) == 3  # TA only; TC is 3 days old
    eight_days = w.get(ORG_STATS, {"stat": "rejected", "since": str(until - 8 * DAY), "until": str(until)}).json()
    assert eight_days == _legacy_expected(w, _legacy_buckets(until - 8 * DAY, until, DAY), DAY, REJECTED)
    assert len(eight_days) == 9 and sum(n for _, n in eight_days) == 8


# === sessions ======================================================================================

SESSIONS_PATH = f"/api/0/organizations/{ORG}/sessions/"
ALL_FIELDS = [
    "sum(session)", "count_unique(user)", "crash_rate(session)", "crash_rate(user)", "crash_free_rate(session)",
    "crash_free_rate(user)", "avg(session.duration)", "p50(session.duration)", "p75(session.duration)",
    "p90(session.duration)", "p95(session.duration)", "p99(session.duration)", "max(session.duration)",
]

# Per session status over the whole dataset: (sessions, users).
# sessions: crashed a3 b2 c2 + u7's aggregate one = 4; abnormal a6 = 1; errored a4 b3 + the
# aggregate's errored one = 3; healthy a1 a2 a5 b1 c1 d1 + 3 + 2 aggregate exited = 11 (19 in all).
# users (u1..u8): crashed u3 u6 u7 u8 = 4; abnormal u4 = 1; errored = users with a non-healthy
# session (u1 u3 u4 u5 u6 u7 u8 = 7) less the crashed or abnormal ones (5) = 2; healthy = all users
# (8) less those with a non-healthy session (7) = 1 (u2).
SESSIONS_BY_STATUS = {"crashed": (4, 4), "abnormal": (1, 1), "errored": (3, 2), "healthy": (11, 1)}


def _durations(avg: float, p50: float, p75: float, p90: float, p95: float, p99: float,
               top: float) -> dict[str, float]:
    """Duration fields from values in seconds; the answer is in milliseconds."""
    return {
        "avg(session.duration)": avg * 1000, "p50(session.duration)": p50 * 1000,
        "p75(session.duration)": p75 * 1000, "p90(session.duration)": p90 * 1000,
        "p95(session.duration)": p95 * 1000, "p99(session.duration)": p99 * 1000,
        "max(session.duration)": top * 1000,
    }


def _health(sessions: int, users: int, crashed: int, crashed_users: int,
            durations: dict[str, float]) -> dict[str, Any]:
    return {
        "sum(session)": sessions, "count_unique(user)": users,
        "crash_rate(session)": crashed / sessions, "crash_rate(user)": crashed_users / users,
        "crash_free_rate(session)": 1 - crashed / sessions, "crash_free_rate(user)": 1 - crashed_users / users,
        **durations,
    }


# Durations come from exited sessions with a duration: a1 10 s, a2 20 s, a4 30 s (exited with
# errors), b1 40 s, c1 50 s, d1 60 s. Percentiles interpolate linearly between the two closest
# ranks, rank = q * (n - 1), as ClickHouse's quantiles do over few values. For n values:
ALL_DURATIONS = _durations(35, 35, 47.5, 55, 57.5, 59.5, 60)  # all six: ranks 2.5 3.75 4.5 4.75 4.95
D_10_20_30_60 = _durations(30, 25, 37.5, 51, 55.5, 59.1, 60)  # ranks 1.5 2.25 2.7 2.85 2.97
D_10_20_30_50 = _durations(27.5, 25, 35, 44, 47, 49.4, 50)
D_10_20_30_50_60 = _durations(34, 30, 50, 56, 58, 59.6, 60)  # ranks 2 3 3.6 3.8 3.96
D_10_20_30 = _durations(20, 20, 25, 28, 29, 29.8, 30)  # ranks 1 1.5 1.8 1.9 1.98
D_40, D_50, D_60 = (_durations(*[s] * 7) for s in (40, 50, 60))  # one value: all the same

# (groupBy, {by values: totals}) over the last four days (the whole dataset).
SESSION_GROUP_CASES = [
    # 19 sessions (6 A + 10 B incl. 7 aggregated + 2 C + 1 D), users u1..u8, crashed 4 sessions
    # (a3 b2 c2 + one aggregated) and 4 users (u3 u6 u7 u8)
    pytest.param([], {(): _health(19, 8, 4, 4, ALL_DURATIONS)}, id="no-groupBy"),
    pytest.param(["release"], {
        ("1.0.0",): _health(7, 4, 1, 1, D_10_20_30_60),  # A + d1; u1-u4; a3 crashed
        ("1.1.0",): _health(10, 3, 2, 2, D_40),  # B + aggregates; u5 u6 u7; b2 + aggregate
        ("1.2.0",): _health(2, 2, 1, 1, D_50),  # C; u1 u8; c2
    }, id="release"),
    pytest.param(["project"], {
        ("P1",): _health(8, 5, 2, 2, D_10_20_30_50),  # A + C; u1 u2 u3 u4 u8; a3 c2
        ("P2",): _health(10, 3, 2, 2, D_40),
        ("P3",): _health(1, 1, 0, 0, D_60),  # d1 (u1 again)
    }, id="project"),
    pytest.param(["environment"], {
        ("production",): _health(9, 5, 2, 2, D_10_20_30_50_60),  # A, C, D
        ("staging",): _health(10, 3, 2, 2, D_40),  # B and the aggregates
    }, id="environment"),
    pytest.param(["project", "release"], {
        ("P1", "1.0.0"): _health(6, 4, 1, 1, D_10_20_30),
        ("P1", "1.2.0"): _health(2, 2, 1, 1, D_50),
        ("P2", "1.1.0"): _health(10, 3, 2, 2, D_40),
        ("P3", "1.0.0"): _health(1, 1, 0, 0, D_60),
    }, id="project-release"),
]


def _session_params(**params: Any) -> dict[str, Any]:
    return {"statsPeriod": "4d", "interval": "1d", **params}


@pytest.mark.parametrize(("group_by", "expected"), SESSION_GROUP_CASES)
def test_sessions_every_field_by_group(w: World, group_by: list[str], expected: dict[tuple[str, ...], dict]) -> None:
    """Every field per group over the whole dataset. A session counts once with its final status
    (a replayed update changes nothing), aggregates count with their own numbers, users are
    distinct ids across sessions and projects, durations come from exited sessions only."""
    body = w.get(SESSIONS_PATH, _session_params(field=ALL_FIELDS, groupBy=group_by)).json()
    groups = _by(body, group_by, w)
    assert set(groups) == set(expected)
    for key, totals in expected.items():
        _assert_values(groups[key]["totals"], totals, str(key))
    assert body["query"] == ""


def test_sessions_by_status(w: World) -> None:
    """groupBy session.status: the four classes, counted as SESSIONS_BY_STATUS explains;
    durations only in `healthy` (exited sessions), null in the others."""
    fields = ["sum(session)", "count_unique(user)", "avg(session.duration)", "max(session.duration)"]
    body = w.get(SESSIONS_PATH, _session_params(field=fields, groupBy="session.status")).json()
    groups = _by(body, ["session.status"], w)
    assert set(groups) == {(s,) for s in ("abnormal", "crashed", "errored", "healthy")}
    for status, (sessions, users) in SESSIONS_BY_STATUS.items():
        healthy = status == "healthy"
        _assert_values(groups[(status,)]["totals"], {
            "sum(session)": sessions, "count_unique(user)": users,
            "avg(session.duration)": 35000.0 if healthy else None,
            "max(session.duration)": 60000.0 if healthy else None,
        }, status)


def test_sessions_by_release_and_status(w: World) -> None:
    """groupBy release and session.status: every release has all four status groups.
    1.0.0: a3 crashed, a6 abnormal, a4 errored, a1 a2 a5 d1 healthy; 1.1.0: b2 and one aggregated
    crashed, b3 and one aggregated errored, b1 + 3 + 2 aggregated healthy; 1.2.0: c2, c1."""
    body = w.get(SESSIONS_PATH, _session_params(field="sum(session)", groupBy=["release", "session.status"])).json()
    got = {k: g["totals"]["sum(session)"] for k, g in _by(body, ["release", "session.status"], w).items()}
    assert got == {
        ("1.0.0", "crashed"): 1, ("1.0.0", "abnormal"): 1, ("1.0.0", "errored"): 1, ("1.0.0", "healthy"): 4,
        ("1.1.0", "crashed"): 2, ("1.1.0", "abnormal"): 0, ("1.1.0", "errored"): 2, ("1.1.0", "healthy"): 6,
        ("1.2.0", "crashed"): 1, ("1.2.0", "abnormal"): 0, ("1.2.0", "errored"): 0, ("1.2.0", "healthy"): 1,
    }


# (extra params, groupBy, {by: sum(session)}, {by: count_unique(user)}) over the last four days.
SESSION_FILTER_CASES = [
    pytest.param({"query": 'release:"1.1.0" OR release:"1.2.0"'}, [], {(): 12}, {(): 5}, id="release-or"),
    pytest.param({"query": 'release:["1.0.0", 1.2.0]'}, ["release"], {("1.0.0",): 7, ("1.2.0",): 2},
                 {("1.0.0",): 4, ("1.2.0",): 2}, id="release-list"),
    pytest.param({"query": "!release:1.1.0"}, [], {(): 9}, {(): 5}, id="release-negated"),
    pytest.param({"environment": "staging"}, [], {(): 10}, {(): 3}, id="environment-param"),
    pytest.param({"environment": ["staging", "production"]}, ["environment"],
                 {("production",): 9, ("staging",): 10}, {("production",): 5, ("staging",): 3},
                 id="two-environments"),
    pytest.param({"environment": "production", "query": "release:1.0.0"}, ["project"],
                 {("P1",): 6, ("P3",): 1}, {("P1",): 4, ("P3",): 1}, id="environment-and-release"),
    pytest.param({"project": "{P3}"}, [], {(): 1}, {(): 1}, id="project-param"),
    pytest.param({"project": "-1"}, ["project"], {("P1",): 8, ("P2",): 10, ("P3",): 1},
                 {("P1",): 5, ("P2",): 3, ("P3",): 1}, id="project-minus-one"),
    pytest.param({"query": "project:backend"}, [], {(): 10}, {(): 3}, id="project-slug-in-query"),
    # crashed: a3 (u3), c2 (u8) and b2 (u6) plus u7's aggregated one
    pytest.param({"query": "session.status:crashed"}, ["release"],
                 {("1.0.0",): 1, ("1.1.0",): 2, ("1.2.0",): 1}, {("1.0.0",): 1, ("1.1.0",): 2, ("1.2.0",): 1},
                 id="status-filter"),
    pytest.param({"query": "release:1.0.0 AND environment:staging"}, [], {(): 0}, {(): 0}, id="nothing-matches"),
]


@pytest.mark.parametrize(("extra", "group_by", "sessions", "users"), SESSION_FILTER_CASES)
def test_sessions_filters(w: World, extra: dict[str, Any], group_by: list[str],
                          sessions: dict[tuple[str, ...], int], users: dict[tuple[str, ...], int]) -> None:
    """`query` (release, environment, project, session.status; OR, lists, negation), the
    `environment` and `project` parameters: the sessions and users of exactly what matches."""
    params = _session_params(field=["sum(session)", "count_unique(user)"], groupBy=group_by,
                             **{k: _expand(v, w) for k, v in extra.items()})
    body = w.get(SESSIONS_PATH, params).json()
    groups = _by(body, group_by, w)
    assert {k: g["totals"]["sum(session)"] for k, g in groups.items()} == sessions
    assert {k: g["totals"]["count_unique(user)"] for k, g in groups.items()} == users
    assert body["query"] == extra.get("query", "")


# Relative ranges: (params, seconds back from now for the start, seconds back for the end,
# interval seconds, sessions per started offset inside).
SESSION_RANGE_CASES = [
    pytest.param({"statsPeriod": "1d", "interval": "1h"}, DAY, 0, HOUR, id="1d-by-1h"),
    pytest.param({"statsPeriod": "2d", "interval": "1h"}, 2 * DAY, 0, HOUR, id="2d-by-1h"),
    pytest.param({"statsPeriod": "4d", "interval": "1d"}, 4 * DAY, 0, DAY, id="4d-by-1d"),
    pytest.param({"statsPeriod": "4d", "interval": "6h"}, 4 * DAY, 0, 6 * HOUR, id="4d-by-6h"),
    pytest.param({"statsPeriod": "2d"}, 2 * DAY, 0, HOUR, id="default-interval-1h"),
    pytest.param({"statsPeriodStart": "2d", "statsPeriodEnd": "1d", "interval": "1h"}, 2 * DAY, DAY, HOUR,
                 id="statsPeriodStart-End"),
    pytest.param({"statsPeriodStart": "4d", "statsPeriodEnd": "2d", "interval": "3h"}, 4 * DAY, 2 * DAY, 3 * HOUR,
                 id="statsPeriodStart-End-by-3h"),
]
# Sessions per started time: A (6) and D (1) 30 h ago, B (10) 2 h ago, C (2) 3 days ago.
SESSIONS_AT = [(SA, 6), (SD, 1), (SB, 10), (SC, 2)]
CRASHED_AT = [(SA, 1), (SB, 2), (SC, 1)]


@pytest.mark.parametrize(("range_params", "back", "ahead", "step"), SESSION_RANGE_CASES)
def test_sessions_series_over_relative_ranges(w: World, range_params: dict[str, str], back: int, ahead: int,
                                              step: int) -> None:
    """Sessions bucketed by their start: `statsPeriod` or `statsPeriodStart`/`statsPeriodEnd` back
    from now, widened to whole intervals; zero where nothing started, and crash-free rates null
    there (no sessions to divide by)."""
    params = {**range_params, "field": ["sum(session)", "crash_free_rate(session)"]}
    body, window = _relative(w, SESSIONS_PATH, params, back, step, ahead)
    assert (body["start"], body["end"]) == (iso(window[0]), iso(window[1]))
    assert body["intervals"] == _grid(window, step)
    sessions = _series(window, step, [(w.at(o), n) for o, n in SESSIONS_AT])
    crashed = _series(window, step, [(w.at(o), n) for o, n in CRASHED_AT])
    [group] = body["groups"]
    assert group["by"] == {}
    assert group["series"]["sum(session)"] == sessions
    _assert_series(group["series"]["crash_free_rate(session)"],
                   [None if n == 0 else 1 - c / n for n, c in zip(sessions, crashed)], "crash_free_rate")
    total = sum(sessions)
    assert group["totals"]["sum(session)"] == total
    assert _same(group["totals"]["crash_free_rate(session)"], None if total == 0 else 1 - sum(crashed) / total)


def test_sessions_fixed_points_of_relative_ranges(w: World) -> None:
    """The same, stated by hand: the last day holds only B (10 sessions), two days A, D and B
    (17), four days everything (19); from two days ago to one day ago, A and D (7)."""
    def total(**params: str) -> int:
        return w.get(SESSIONS_PATH, {"field": "sum(session)", **params}).json()["groups"][0]["totals"]["sum(session)"]

    assert total(statsPeriod="1d") == 10
    assert total(statsPeriod="2d") == 17
    assert total(statsPeriod="4d", interval="1d") == 19
    assert total(statsPeriodStart="2d", statsPeriodEnd="1d") == 7


@pytest.mark.parametrize("path", [SESSIONS_PATH, STATS], ids=["sessions", "stats_v2"])
def test_an_interval_that_is_not_a_period_means_one_hour(w: World, path: str) -> None:
    """As Sentry, `interval=abc` is not refused: it falls back to the default hour."""
    params = {"statsPeriod": "1d", "interval": "abc", "field": "sum(session)" if path == SESSIONS_PATH else Q,
              "category": "error"}
    body, window = _relative(w, path, params, DAY, HOUR)
    assert body["intervals"] == _grid(window, HOUR)


def test_sessions_hourly_series_of_every_kind(w: World) -> None:
    """Hourly over two days: A + D in their hour (7 sessions, users u1-u4, 1 crashed, durations
    10/20/30/60 s), B + aggregates in theirs (10, u5-u7, 2 crashed, 40 s); elsewhere 0 / null."""
    fields = ["sum(session)", "count_unique(user)", "crash_rate(session)", "avg(session.duration)"]
    body, window = _relative(w, SESSIONS_PATH, {"statsPeriod": "2d", "interval": "1h", "field": fields},
                             2 * DAY, HOUR)
    i_a = body["intervals"].index(iso(_floor(w.at(SA), HOUR)))
    i_b = body["intervals"].index(iso(_floor(w.at(SB), HOUR)))
    n = len(body["intervals"])
    expected: dict[str, list[Any]] = {
        "sum(session)": [0] * n, "count_unique(user)": [0] * n, "crash_rate(session)": [None] * n,
        "avg(session.duration)": [None] * n,
    }
    for i, (sessions, users, rate, avg) in ((i_a, (7, 4, 1 / 7, 30000.0)), (i_b, (10, 3, 0.2, 40000.0))):
        expected["sum(session)"][i] = sessions
        expected["count_unique(user)"][i] = users
        expected["crash_rate(session)"][i] = rate
        expected["avg(session.duration)"][i] = avg
    [group] = body["groups"]
    for field, series in expected.items():
        _assert_series(group["series"][field], series, field)
    _assert_values(group["totals"], {"sum(session)": 17, "count_unique(user)": 7, "crash_rate(session)": 3 / 17,
                                     "avg(session.duration)": 32000.0}, "totals")  # (10+20+30+40+60)/5


# Absolute ranges around A's start SA (6 sessions) and D's SA + 1 min (1 session):
# (form, start, end as offsets from SA, interval, expected window offsets, sessions per interval).
SESSION_EDGE_CASES = [
    pytest.param("iso", 0, MINUTE, "1m", (0, MINUTE), [6], id="start-in-end-out"),
    pytest.param("epoch", 0, MINUTE, "1m", (0, MINUTE), [6], id="start-in-end-out-epoch"),
    pytest.param("iso", 1, MINUTE, "1m", (0, MINUTE), [6], id="start-floored"),
    pytest.param("iso", 0, MINUTE + 1, "1m", (0, 2 * MINUTE), [6, 1], id="end-ceiled"),
    pytest.param("iso", 10, 50, "10s", (10, 50), [0, 0, 0, 0], id="ten-seconds-misses-both"),
    pytest.param("iso", -1, 0 + 1, "10s", (-10, 10), [0, 6], id="ten-seconds-around-start"),
    # 25 min after the hour of SA (SA is 5 min after it): with 1h the start is floored to the
    # hour and A and D are in; with 10m it is floored to 20 min past, after both.
    pytest.param("iso", 20 * MINUTE, HOUR + 20 * MINUTE, "1h", (-5 * MINUTE, 2 * HOUR - 5 * MINUTE), [7, 0],
                 id="hour-rounding-takes-them-in"),
    pytest.param("iso", 20 * MINUTE, HOUR + 20 * MINUTE, "10m", (15 * MINUTE, HOUR + 25 * MINUTE), [0] * 7,
                 id="ten-minute-rounding-leaves-them-out"),
]


@pytest.mark.parametrize(("form", "start", "end", "interval", "window", "expected"), SESSION_EDGE_CASES)
def test_sessions_range_edges(w: World, form: str, start: int, end: int, interval: str,
                              window: tuple[int, int], expected: list[int]) -> None:
    """`start`/`end` (ISO 8601 or epoch seconds) widened to whole intervals, then [start, end) by
    the sessions' start: a session started at the start counts, one started at the end does not."""
    def fmt(offset: int) -> str:
        return iso(w.at(SA + offset)) if form == "iso" else str(w.at(SA + offset))

    body = w.get(SESSIONS_PATH, {"start": fmt(start), "end": fmt(end), "interval": interval,
                                 "field": "sum(session)"}).json()
    step = {"1m": MINUTE, "10s": 10, "1h": HOUR, "10m": 10 * MINUTE}[interval]
    assert (body["start"], body["end"]) == (iso(w.at(SA + window[0])), iso(w.at(SA + window[1])))
    assert body["intervals"] == [iso(w.at(SA) + t) for t in range(window[0], window[1], step)]
    [group] = body["groups"]  # no data still answers one group (Sentry's placeholder)
    assert group["by"] == {}
    assert group["series"]["sum(session)"] == expected
    assert group["totals"]["sum(session)"] == sum(expected)


def _links(response: httpx.Response) -> dict[str, tuple[str, bool, str]]:
    """rel → (cursor, results, url) of the Link header."""
    found = re.findall(r'<([^>]*)>; rel="(\w+)"; results="(true|false)"; cursor="([^"]*)"',
                       response.headers["Link"])
    return {rel: (cursor, results == "true", url) for url, rel, results, cursor in found}


def _follow(w: World, url: str) -> httpx.Response:
    parts = urlsplit(url)
    return w.get(parts.path, parse_qsl(parts.query, keep_blank_values=True))


# (orderBy, pages of releases at per_page=2)
ORDER_CASES = [
    pytest.param("sum(session)", [["1.2.0", "1.0.0"], ["1.1.0"]], id="sessions-ascending"),  # 2, 7, 10
    pytest.param("-sum(session)", [["1.1.0", "1.0.0"], ["1.2.0"]], id="sessions-descending"),
    pytest.param("-count_unique(user)", [["1.0.0", "1.1.0"], ["1.2.0"]], id="users-descending"),  # 4, 3, 2
    pytest.param("crash_rate(session)", [["1.0.0", "1.1.0"], ["1.2.0"]], id="crash-rate-ascending"),  # 1/7, .2, .5
    pytest.param("-crash_free_rate(user)", [["1.0.0", "1.2.0"], ["1.1.0"]], id="crash-free-users-desc"),  # .75 .5 .33
    pytest.param("-avg(session.duration)", [["1.2.0", "1.1.0"], ["1.0.0"]], id="duration-descending"),  # 50 40 30
    pytest.param(None, [["1.1.0", "1.0.0"], ["1.2.0"]], id="default-sum-session-descending"),
]


@pytest.mark.parametrize(("order_by", "pages"), ORDER_CASES)
def test_sessions_order_and_pagination(w: World, order_by: str | None, pages: list[list[str]]) -> None:
    """Groups ordered by `orderBy` (`-` descending; by default sum(session) descending), cut in
    pages of `per_page` groups; the Link header's `next` cursor gives the rest, `previous` leads
    back; `results` says whether that page has groups."""
    fields = ["sum(session)", "count_unique(user)", "crash_rate(session)", "crash_free_rate(user)",
              "avg(session.duration)"]
    params = _session_params(field=fields, groupBy="release", per_page="2")
    if order_by:
        params["orderBy"] = order_by
    first = w.get(SESSIONS_PATH, params)
    assert [g["by"]["release"] for g in first.json()["groups"]] == pages[0]
    links = _links(first)
    assert links["previous"][:2] == ("0:0:1", False)
    assert links["next"][:2] == ("0:2:0", True)
    second = _follow(w, links["next"][2])
    assert [g["by"]["release"] for g in second.json()["groups"]] == pages[1]
    links = _links(second)
    assert links["next"][:2] == ("0:4:0", False)
    assert links["previous"][:2] == ("0:0:1", True)
    back = _follow(w, links["previous"][2])
    assert [g["by"]["release"] for g in back.json()["groups"]] == pages[0]


def test_sessions_one_page_holds_everything(w: World) -> None:
    """per_page larger than the groups: one page, neither link has results."""
    response = w.get(SESSIONS_PATH, _session_params(field="sum(session)", groupBy="project", per_page="3",
                                                    orderBy="-sum(session)"))
    assert [w.name(g["by"]["project"]) for g in response.json()["groups"]] == ["P2", "P1", "P3"]  # 10, 8, 1
    links = _links(response)
    assert links["next"][1] is False and links["previous"][1] is False


# === refused combinations ==========================================================================

# Not already covered by test_aggregates_api.py (attachment mixed, interval 7m, count(),
# end before start and no field for stats_v2; crash_free_rate by session.status; legacy 7m).
INVALID = [
    pytest.param(STATS, {"field": Q, "category": "error", "groupBy": "user", "statsPeriod": "1d"}, id="v2-groupBy"),
    pytest.param(STATS, {"field": Q, "category": "bogus", "statsPeriod": "1d"}, id="v2-category"),
    pytest.param(STATS, {"field": Q, "category": "error", "outcome": "bogus", "statsPeriod": "1d"}, id="v2-outcome"),
    pytest.param(STATS, {"field": Q, "groupBy": "outcome", "statsPeriod": "1d"}, id="v2-no-category"),
    pytest.param(STATS, {"field": Q, "category": "error", "statsPeriod": "1d", "interval": "2d"},
                 id="v2-interval-2d"),
    pytest.param(STATS, {"field": Q, "category": "error", "statsPeriod": "1d", "interval": "7h"},
                 id="v2-interval-not-dividing"),
    pytest.param(STATS, {"field": Q, "category": "error", "statsPeriod": "90d", "interval": "1m"},
                 id="v2-too-many-intervals"),
    pytest.param(STATS, {"field": Q, "category": "error", "statsPeriod": "yesterday"}, id="v2-statsPeriod"),
    pytest.param(STATS, {"field": Q, "category": "error", "start": "not-a-date", "end": "2026-01-01T00:00:00Z"},
                 id="v2-start-not-a-date"),
    pytest.param(STATS, {"field": Q, "category": "error", "start": "2026-01-01T00:00:00Z"}, id="v2-start-alone"),
    pytest.param(STATS, {"field": Q, "category": "error", "project": "abc", "statsPeriod": "1d"}, id="v2-project"),
    pytest.param(SESSIONS_PATH, {"field": "sum(foo)", "statsPeriod": "1d"}, id="sessions-unknown-field"),
    pytest.param(SESSIONS_PATH, {"statsPeriod": "1d"}, id="sessions-no-field"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "groupBy": "user", "statsPeriod": "1d"},
                 id="sessions-unknown-groupBy"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "statsPeriod": "1d", "interval": "7h"},
                 id="sessions-interval-not-dividing"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "statsPeriod": "1d", "interval": "15s"},
                 id="sessions-interval-not-ten-seconds"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "statsPeriod": "4d", "interval": "2d"},
                 id="sessions-interval-over-a-day"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "statsPeriod": "30d", "interval": "10s"},
                 id="sessions-too-many-intervals"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)"}, id="sessions-default-90d-hourly-too-many"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "start": "2026-01-02T00:00:00Z",
                                 "end": "2026-01-01T00:00:00Z"}, id="sessions-end-before-start"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "statsPeriodStart": "1d", "statsPeriodEnd": "2d"},
                 id="sessions-periods-reversed"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "statsPeriodStart": "1d"},
                 id="sessions-period-start-alone"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "orderBy": "count_unique(user)", "statsPeriod": "1d"},
                 id="sessions-orderBy-not-a-field"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "orderBy": ["sum(session)", "-sum(session)"],
                                 "statsPeriod": "1d"}, id="sessions-orderBy-twice"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "groupBy": "session.status", "orderBy": "sum(session)",
                                 "statsPeriod": "1d"}, id="sessions-orderBy-with-status-groups"),
    pytest.param(SESSIONS_PATH, {"field": "crash_rate(session)", "query": "session.status:crashed",
                                 "statsPeriod": "1d"}, id="sessions-rate-filtered-by-status"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "query": "message:boom", "statsPeriod": "1d"},
                 id="sessions-query-unknown-key"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "query": "release:1.*", "statsPeriod": "1d"},
                 id="sessions-query-wildcard"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "query": "(release:1.0.0", "statsPeriod": "1d"},
                 id="sessions-query-unbalanced"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "per_page": "5001", "statsPeriod": "1d"},
                 id="sessions-per-page-over-limit"),
    pytest.param(SESSIONS_PATH, {"field": "sum(session)", "cursor": "bogus", "statsPeriod": "1d"},
                 id="sessions-cursor"),
    pytest.param(ORG_STATS, {"stat": "bogus"}, id="legacy-org-stat"),
    pytest.param(ORG_STATS, {"stat": "generated"}, id="legacy-org-generated-not-by-project"),
    pytest.param(ORG_STATS, {"group": "team"}, id="legacy-org-group"),
    pytest.param(f"/api/0/projects/{ORG}/default/stats/", {"stat": "bogus"}, id="legacy-project-stat"),
    pytest.param(f"/api/0/projects/{ORG}/default/stats/", {"resolution": "2h"}, id="legacy-resolution-not-a-rollup"),
    pytest.param(f"/api/0/projects/{ORG}/default/stats/", {"since": "1700000100", "until": "1700000000"},
                 id="legacy-since-after-until"),
    pytest.param(f"/api/0/teams/{ORG}/{ORG}/stats/", {"until": "tomorrow"}, id="legacy-team-until"),
]


@pytest.mark.parametrize(("path", "params"), INVALID)
def test_invalid_combinations_are_400_with_detail(w: World, path: str, params: dict[str, Any]) -> None:
    """Parameters Sentry refuses: 400 with a `detail` message (checked by `call`)."""
    with w.proc.client() as http:
        response = call(http, "GET", path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]
