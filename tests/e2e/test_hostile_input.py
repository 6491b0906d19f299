"""Hostile requests against a real `picket run`: each is answered 4xx (503 when the gateway is
full) with `{"detail": ...}`, the connection it came on stays usable (or is closed properly, when
the answer came before the body was read), and the gateway's memory stays near idle.

What these check, each of which once failed: the DSN key was checked only after up to
200 MiB had been read and inflated (unknown-key gzip bombs took the gateway from 70 to 960 MB);
REST bodies were read whole before their 1 MiB check; invalid UTF-8, nesting ~1,000 deep and
integers of 2^64 were 500s that reset keep-alive connections; an issue search over ~4 KB was a
500 because the store server refused clickhouse-connect's multipart encoding.

Memory is the gateway child's VmRSS (/proc/<pid>/status), sampled every few milliseconds while
the requests run, against its RSS just before.
"""

from __future__ import annotations

import gzip
import http.client
import io
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.waiting import eventually
from tests.support.picket import PicketProcess

ORG = "hostile"
MIB = 1024 * 1024
DEEP = "[" * 1000 + "]" * 1000
UNKNOWN = "0" * 32


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("hostile"), org=ORG).start()
    yield proc
    proc.stop()


def _key(p: PicketProcess) -> str:
    return p.dsn.split("//")[1].split("@")[0]


def _project_id(p: PicketProcess) -> str:
    return p.dsn.rsplit("/", 1)[1]


def _envelope(p: PicketProcess, message: str = "hello", header: dict[str, Any] | None = None) -> bytes:
    event_id = uuid.uuid4().hex
    head = json.dumps({"event_id": event_id, **(header or {})}).encode()
    return head + b'\n{"type":"event"}\n' + json.dumps({"event_id": event_id, "message": message}).encode() + b"\n"


class Connection:
    """One HTTP/1.1 keep-alive connection (http.client), so a test can tell whether a second
    request went over the same socket as the first."""

    def __init__(self, p: PicketProcess) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=60)
        self._token = p.token

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                token: bool = False) -> tuple[int, dict[str, str], bytes]:
        all_headers = {**({"Authorization": f"Bearer {self._token}"} if token else {}), **(headers or {})}
        try:
            self._conn.request(method, path, body=body, headers=all_headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before the whole body was sent: read the answer, as urllib3 does
        response = self._conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    @property
    def socket(self) -> Any:
        return self._conn.sock

    def close(self) -> None:
        self._conn.close()


def _detail(body: bytes) -> str:
    detail = json.loads(body)["detail"]
    assert isinstance(detail, str) and detail
    return detail


# --------------------------------------------------------------------------------------------
# Ingestion: invalid UTF-8 and deep nesting are 400s, and the connection goes on


@pytest.mark.parametrize(
    ("endpoint", "body", "fragment"),
    [
        ("envelope", b'{"event_id":null,"sdk":"\xff"}\n{"type":"event"}\n{}\n', "invalid envelope header: not valid UTF-8"),
        ("envelope", b'{}\n{"type":"event","x":"\xc3\x28"}\n{}\n', "invalid header of item 0: not valid UTF-8"),
        ("store", b'{"message":"\xff\xfe"}', "invalid store payload: not valid UTF-8"),
        ("envelope", b'{"sdk":' + DEEP.encode() + b"}\n{}\n", "invalid envelope header: nested more than"),
        ("envelope", b'{}\n{"type":"event","x":' + DEEP.encode() + b"}\n{}\n", "nested more than"),
        ("store", b'{"extra":' + DEEP.encode() + b"}", "invalid store payload: nested more than"),
        ("envelope", b'{}\n{"type":"event","x":18446744073709551616}\n{}\n', "an integer outside the 64-bit range"),
    ],
    ids=["envelope-header-utf8", "item-header-utf8", "store-utf8", "envelope-header-deep", "item-header-deep",
         "store-deep", "item-header-2-64"],
)
def test_hostile_ingest_bodies_are_400s_and_the_connection_stays_usable(p: PicketProcess, endpoint: str, body: bytes,
                                                                     fragment: str) -> None:
    conn = Connection(p)
    try:
        path = f"/api/{_project_id(p)}/{endpoint}/?sentry_key={_key(p)}"
        status, headers, answer = conn.request("POST", path, body)
        assert status == 400 and fragment in _detail(answer)
        assert headers.get("connection") != "close"
        first = conn.socket
        status, _, answer = conn.request("POST", f"/api/{_project_id(p)}/envelope/?sentry_key={_key(p)}", _envelope(p))
        assert status == 200 and json.loads(answer)["id"]
        assert conn.socket is first  # the same keep-alive connection
    finally:
        conn.close()


def test_an_envelope_header_dsn_with_invalid_utf8_is_a_400(p: PicketProcess) -> None:
    body = b'{"dsn":"http://\xff@127.0.0.1/1"}\n{"type":"event"}\n{}\n'
    response = httpx.post(f"{p.url}/api/{_project_id(p)}/envelope/", content=body)
    assert response.status_code == 400 and "not valid UTF-8" in response.json()["detail"]


def test_client_reports_with_huge_integers_do_not_break_the_envelope_or_the_pipeline(p: PicketProcess) -> None:
    event_id = uuid.uuid4().hex
    report = {"timestamp": 1e20, "discarded_events": [{"reason": "x", "category": "error", "quantity": 2**64}]}
    report2 = {"discarded_events": [{"reason": "y", "category": "error", "quantity": 2**70},
                                    {"reason": "kept", "category": "error", "quantity": 3}]}
    body = b"\n".join([
        json.dumps({"event_id": event_id}).encode(),
        b'{"type":"event"}', json.dumps({"event_id": event_id, "message": "survives huge reports"}).encode(),
        b'{"type":"client_report"}', json.dumps(report).encode(),
        b'{"type":"client_report"}', json.dumps(report2).encode(),
        b'{"type":"client_report"}', b'{"discarded_events":' + DEEP.encode() + b"}",
    ]) + b"\n"
    response = httpx.post(f"{p.url}/api/{_project_id(p)}/envelope/?sentry_key={_key(p)}", content=body)
    assert response.status_code == 200 and response.json() == {"id": event_id}
    with p.client() as http:
        eventually(lambda: http.get(f"/api/0/projects/{ORG}/default/issues/").json(),
                   lambda v: any(i["title"] == "survives huge reports" for i in v))


# --------------------------------------------------------------------------------------------
# REST: invalid UTF-8, deep nesting and integers past their field are 400s


def _rest_cases(p: PicketProcess) -> list[tuple[str, str, bytes]]:
    with p.client() as http:
        key_id = http.get(f"/api/0/projects/{ORG}/default/keys/").json()[0]["id"]
    keys = f"/api/0/projects/{ORG}/default/keys/{key_id}/"
    return [
        ("PUT", keys, b'{"rateLimit": {"window": 60, "count": 18446744073709551616}}'),
        ("PUT", keys, b'{"rateLimit": {"window": 60, "count": 1180591620717411303424}}'),
        ("POST", f"/api/0/projects/{ORG}/default/keys/", b'{"name": "k", "rateLimit": {"window": 18446744073709551616, "count": 1}}'),
        ("PUT", f"/api/0/projects/{ORG}/default/", b'{"resolveAge": 18446744073709551616}'),
        ("PUT", f"/api/0/projects/{ORG}/default/", b'{"resolveAge": 1180591620717411303424}'),
        ("PUT", f"/api/0/organizations/{ORG}/", b'{"name": "\xff"}'),
        ("POST", f"/api/0/organizations/{ORG}/teams/", b'{"slug": "t", "name": ' + DEEP.encode() + b"}"),
        ("POST", f"/api/0/organizations/{ORG}/monitors/",
         b'{"project": "default", "name": "m", "config": {"schedule": ' + DEEP.encode() + b"}}"),
        ("POST", f"/api/0/organizations/{ORG}/monitors/",
         b'{"project": "default", "name": "m", "config": {"schedule": "0 * * * *", "x": ' + DEEP.encode() + b"}}"),
        ("POST", f"/api/0/projects/{ORG}/default/user-feedback/",
         b'{"event_id": "' + uuid.uuid4().hex.encode() + b'", "name": "\xc3\x28", "email": "a@b.c", "comments": "c"}'),
        ("POST", f"/api/0/projects/{ORG}/default/user-feedback/", b'{"event_id": ' + DEEP.encode() + b"}"),
        ("POST", f"/api/0/organization/{ORG}/monitors/nightly/checkins/",
         b'{"status": "ok", "monitor_config": ' + DEEP.encode() + b"}"),
    ]


def test_hostile_rest_bodies_are_400s_and_the_connection_stays_usable(p: PicketProcess) -> None:
    conn = Connection(p)
    try:
        for method, path, body in _rest_cases(p):
            status, headers, answer = conn.request(method, path, body, {"Content-Type": "application/json"}, token=True)
            assert status == 400, (method, path, status, answer)
            assert _detail(answer).startswith("Invalid request body: "), answer
            assert headers.get("connection") != "close"
            first = conn.socket
            status, _, _ = conn.request("GET", f"/api/0/organizations/{ORG}/", token=True)
            assert status == 200 and conn.socket is first
    finally:
        conn.close()
    with p.client() as http:  # nothing was changed by what was refused
        assert http.get(f"/api/0/projects/{ORG}/default/").json()["resolveAge"] == 0


def test_an_issue_search_over_4_kb_is_answered(p: PicketProcess) -> None:
    with p.client() as http:
        for query in ["x" * 5000, "is:unresolved " + "needle " * 800, "é" * 3000]:
            response = http.get(f"/api/0/projects/{ORG}/default/issues/", params={"query": query})
            assert response.status_code in (200, 400), response.text
            if response.status_code == 200:
                assert response.json() == []


# --------------------------------------------------------------------------------------------
# Answers before the body is read, and memory


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _peak_growth(p: PicketProcess, action: Callable[[], None]) -> int:
    """How far the gateway's RSS rose above its RSS before `action`, sampled while it ran."""
    pid = p.child_pid("gateway")
    httpx.get(f"{p.url}/_health/")
    idle = _rss(pid)
    peak = [idle]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss(pid))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        action()
        time.sleep(0.1)
    finally:
        done.set()
        sampler.join()
    return peak[0] - idle


def _zeros(total: int, chunk: int = MIB) -> Iterator[bytes]:
    block = bytes(chunk)
    for _ in range(total // chunk):
        yield block


def _gzip_bomb(first_line: bytes) -> bytes:
    buffer = io.BytesIO()
    compressor = gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9)
    compressor.write(first_line + b"\n")
    block = bytes(MIB)
    for _ in range(200):
        compressor.write(block)
    compressor.close()
    return buffer.getvalue()


@pytest.mark.parametrize("where", ["header", "envelope-dsn"])
def test_unknown_key_gzip_bombs_in_parallel_are_401s_and_memory_stays_near_idle(p: PicketProcess, where: str) -> None:
    dsn = f"http://{UNKNOWN}@127.0.0.1:{p.port}/{_project_id(p)}"
    bomb = _gzip_bomb(json.dumps({"dsn": dsn}).encode() if where == "envelope-dsn" else b"{}")
    assert 100_000 < len(bomb) < 300_000  # ~200 KB that inflate to 200 MiB
    headers = {"Content-Encoding": "gzip", **({"X-Sentry-Auth": f"Sentry sentry_key={UNKNOWN}"} if where == "header" else {})}
    answers: list[httpx.Response] = []

    def send() -> None:
        with ThreadPoolExecutor(4) as pool:
            answers.extend(pool.map(lambda _: httpx.post(f"{p.url}/api/{_project_id(p)}/envelope/", content=bomb,
                                                         headers=headers, timeout=30), range(4)))

    started = time.monotonic()
    growth = _peak_growth(p, send)
    assert [a.status_code for a in answers] == [401] * 4
    assert all(a.json()["detail"] == "Unknown DSN key." for a in answers)
    assert growth < 100 * MIB, f"gateway RSS grew by {growth / MIB:.0f} MiB"
    assert time.monotonic() - started < 10
    assert httpx.post(f"{p.url}/api/{_project_id(p)}/envelope/?sentry_key={_key(p)}", content=_envelope(p)).status_code == 200


def test_unknown_key_raw_bodies_of_190_mb_in_parallel_are_401s_before_reading(p: PicketProcess) -> None:
    answers: list[httpx.Response] = []

    def send() -> None:
        def one(_: int) -> httpx.Response:
            return httpx.post(f"{p.url}/api/{_project_id(p)}/envelope/?sentry_key={UNKNOWN}", content=_zeros(190 * MIB),
                              headers={"Content-Length": str(190 * MIB)}, timeout=30)

        with ThreadPoolExecutor(3) as pool:
            answers.extend(pool.map(one, range(3)))

    growth = _peak_growth(p, send)
    assert [a.status_code for a in answers] == [401] * 3
    assert all(a.headers["connection"] == "close" and a.json()["detail"] == "Unknown DSN key." for a in answers)
    assert growth < 100 * MIB, f"gateway RSS grew by {growth / MIB:.0f} MiB"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_300_mb_rest_body_is_a_413_and_memory_stays_near_idle(p: PicketProcess, declared: bool) -> None:
    answer: list[httpx.Response] = []
    headers = {"Authorization": f"Bearer {p.token}", "Content-Type": "application/json",
               **({"Content-Length": str(300 * MIB)} if declared else {})}

    def send() -> None:
        answer.append(httpx.put(f"{p.url}/api/0/organizations/{ORG}/", content=_zeros(300 * MIB), headers=headers,
                                timeout=30))

    started = time.monotonic()
    growth = _peak_growth(p, send)
    assert answer[0].status_code == 413 and answer[0].json() == {"detail": "Request body too large."}
    assert answer[0].headers["connection"] == "close"
    assert growth < 100 * MIB, f"gateway RSS grew by {growth / MIB:.0f} MiB"
    assert time.monotonic() - started < 10
    with p.client() as http:  # a new connection works
        assert http.get(f"/api/0/organizations/{ORG}/").status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [("/api/{project}/envelope/?sentry_key=" + UNKNOWN, 401, "Unknown DSN key."),
     ("/api/{project}/store/", 401, "Missing DSN key: send X-Sentry-Auth or sentry_key."),
     ("/api/not-a-project/envelope/?sentry_key={key}", 404, "Unknown project."),
     ("/api/1/envelope/?sentry_key={key}", 403, "This DSN key does not belong to the project in the URL.")],
    ids=["unknown-key", "no-key", "bad-project-id", "other-project"],
)
@pytest.mark.parametrize("rest", [4 * MIB, 10_000], ids=["large-rest", "small-rest"])
def test_an_early_answer_is_read_and_the_next_request_works(p: PicketProcess, path: str, status: int, detail: str,
                                                            rest: int) -> None:
    """A large unread rest closes the connection (the next request opens another); a small one is
    dropped by the server and the connection goes on."""
    conn = Connection(p)
    try:
        path = path.format(project=_project_id(p), key=_key(p))
        answer_status, headers, answer = conn.request("POST", path, _envelope(p) + bytes(rest))
        assert (answer_status, _detail(answer)) == (status, detail)
        assert headers.get("connection") == ("close" if rest > MIB else None)
        first = conn.socket
        answer_status, _, answer = conn.request("POST", f"/api/{_project_id(p)}/envelope/?sentry_key={_key(p)}",
                                                _envelope(p))
        assert answer_status == 200 and json.loads(answer)["id"]
        assert (conn.socket is first) is (rest <= MIB)
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# The budget of body bytes in flight


def _hold(p: PicketProcess, declared: int) -> socket.socket:
    """A valid envelope request declaring `declared` bytes, of which only the first line is sent."""
    sock = socket.create_connection(("127.0.0.1", p.port))
    sock.sendall(
        f"POST /api/{_project_id(p)}/envelope/?sentry_key={_key(p)} HTTP/1.1\r\nHost: picket\r\n"
        f"Content-Length: {declared}\r\n\r\n".encode() + b"{}\n"
    )
    return sock


def test_a_full_budget_is_a_503_with_retry_after_and_bytes_come_back_when_a_client_goes_away(p: PicketProcess) -> None:
    url = f"{p.url}/api/{_project_id(p)}/envelope/?sentry_key={_key(p)}"
    ten_mib = b"{}\n" + bytes(10 * MIB - 3)  # answered 400 once read: it is not an envelope
    # 250 MiB of the default 256 MiB budget, declared by two requests within the 200 MiB body limit
    held = [_hold(p, 200 * MIB), _hold(p, 50 * MIB)]
    try:
        time.sleep(0.3)  # the gateway has read their headers and counted them
        busy = httpx.post(url, content=ten_mib)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json() == {"detail": "The gateway is busy; try again."}
        assert httpx.post(url, content=_envelope(p)).status_code == 200  # small ones still fit
    finally:
        for sock in held:
            sock.close()
    eventually(lambda: httpx.post(url, content=ten_mib).status_code, lambda status: status == 400, timeout=10)


# --------------------------------------------------------------------------------------------
# Items the gateway passes on unread: the worker must not choke on them either


def test_undecodable_items_become_invalid_outcomes_and_processing_goes_on(p: PicketProcess) -> None:
    url = f"{p.url}/api/{_project_id(p)}/envelope/?sentry_key={_key(p)}"
    deep = "[" * 5000 + "]" * 5000
    hostile = [
        (b"event", ('{"message": "deep", "extra": ' + deep + "}").encode()),
        (b"event", b'{"message": "\xff not utf-8"}'),
        (b"session", b'{"sid": "\xff", "status": "ok", "attrs": {"release": "r@1"}}'),
        (b"session", ('{"sid": "s", "attrs": {"release": "r@1"}, "x": ' + deep + "}").encode()),
        (b"user_report", b'{"event_id": "' + uuid.uuid4().hex.encode() + b'", "name": "\xc3\x28"}'),
        (b"check_in", ('{"monitor_slug": "m", "status": "ok", "monitor_config": ' + deep + "}").encode()),
        (b"session", b'{"sid": "big", "seq": %d, "errors": %d, "status": "ok", "attrs": {"release": "r@1"}}'
         % (2**70, 2**70)),
        (b"session", b'{"sid": "far", "started": "9999-12-31T23:59:59Z", "timestamp": 1e300, "duration": 1e308,'
         b' "attrs": {"release": "r@1"}}'),
        (b"sessions", b'{"aggregates": [{"started": "2026-01-01T00:00:00Z", "exited": %d, "crashed": %d}],'
         b' "attrs": {"release": "r@1"}}' % (2**40, 2**70)),
        (b"event", b'{"message": "far", "timestamp": 1e300, "start_timestamp": -1e300, "level": 7}'),
        (b"check_in", b'{"check_in_id": "%s", "monitor_slug": "m2", "status": "ok", "duration": 1e308,'
         b' "monitor_config": {"schedule": {"type": "interval", "value": %d, "unit": "minute"}}}'
         % (uuid.uuid4().hex.encode(), 2**70)),
    ]
    for item_type, payload in hostile:
        body = b'{}\n{"type":"' + item_type + b'","length":' + str(len(payload)).encode() + b"}\n" + payload + b"\n"
        assert httpx.post(url, content=body).status_code == 200  # the gateway does not refuse items for their payloads
    assert httpx.post(url, content=_envelope(p, "after the hostile items")).status_code == 200
    # No consumer is stuck retrying a bad item: each group that reads these items commits to the end.
    p.wait_drained(groups=("ingest-events", "ingest-sessions", "ingest-feedback-events", "monitors-decider",
                           "ingest-monitors-raw", "outcomes"), timeout=60)
    with p.client() as http:
        eventually(lambda: http.get(f"/api/0/projects/{ORG}/default/issues/").json(),
                   lambda v: any(i["title"] == "after the hostile items" for i in v))
