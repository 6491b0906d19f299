"""The embedded engine served over ClickHouse's HTTP interface, read with the gateway's own client.

A process of its own owns a chdb engine and serves it (as the worker of `picket run` does); this
test reads it through `Store("http://…")`, the client the gateway uses, and checks that values,
bound parameters and errors come back as a ClickHouse server would give them (also parameters
over ~4 KB, which the client sends as multipart form fields), that a wrong password, binary
inserts and external data are refused, and that the gateway answers 503 (not 500) once the
server is gone.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from picket.gateway.errors import HANDLERS
from picket.store.client import Store
from tests.support.picket import REPO, free_port

PASSWORD = "s3cret-for-this-test"


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.store_server", str(data_dir), str(self.port), PASSWORD],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"the store server did not start (exit {self.proc.poll()})"

    def url(self, password: str = PASSWORD) -> str:
        return f"http://picket:{password}@127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("served") / "ch")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def store(server: Server) -> Iterator[Store]:
    s = Store(server.url(), "picket")
    yield s
    s.close()


def test_values_and_bound_parameters_come_back_typed(store: Store) -> None:
    rows = store.query(
        "SELECT id, name, at, uid, tags, attrs, amount FROM {db}.samples "
        "WHERE id IN {ids:Array(UInt64)} AND name != {skip:String} ORDER BY id",
        {"ids": [1, 2, 3], "skip": "it's not"},
    )
    assert rows == [
        (1, "it's \\ here", datetime(2026, 11, 27, 10, 0, 0, 250000), uuid.UUID("6f1c2a8e-2f7e-4d7a-9a51-0c4b1d2e3f40"),
         ["a", "b"], {"k": "v"}, 1.5),
        (2, "plain", datetime(2026, 11, 27, 11, 0, 0), uuid.UUID(int=2), [], {}, None),
    ]
    # A string parameter with a quote and a backslash matches exactly, not as SQL.
    assert store.query("SELECT id FROM {db}.samples WHERE name = {name:String}", {"name": "it's \\ here"}) == [(1,)]


def test_concurrent_queries_on_one_client_all_answer(store: Store) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        counts = list(pool.map(lambda _: store.query("SELECT count() FROM {db}.samples")[0][0], range(64)))
    assert counts == [2] * 64


def test_engine_errors_keep_clickhouse_code_and_message(store: Store) -> None:
    with pytest.raises(DatabaseError) as raised:
        store.query("SELECT * FROM {db}.no_such_table")
    assert "code: 60" in str(raised.value) and "no_such_table" in str(raised.value)


def test_a_wrong_password_is_refused(server: Server) -> None:
    with pytest.raises(DatabaseError) as raised:
        Store(server.url("wrong"), "picket")
    assert "194" in str(raised.value)


def test_binary_inserts_are_refused_and_write_nothing(store: Store) -> None:
    with pytest.raises(DatabaseError) as raised:
        store.insert("samples", [[3, "x", datetime(2026, 1, 1), uuid.uuid4(), [], {}, None]],
                     ["id", "name", "at", "uid", "tags", "attrs", "amount"])
    assert "code: 48" in str(raised.value)
    assert store.query("SELECT count() FROM {db}.samples") == [(2,)]


def test_the_gateway_answers_503_while_the_store_is_gone(tmp_path: Path) -> None:
    server = Server(tmp_path / "ch")
    store = Store(server.url(), "picket")

    async def read(_: Request) -> JSONResponse:
        return JSONResponse({"count": store.query("SELECT count() FROM {db}.samples")[0][0]})

    app = Starlette(routes=[Route("/read", read)], exception_handlers=HANDLERS)  # type: ignore[arg-type]

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
            return await http.get("/read")

    assert asyncio.run(get()).json() == {"count": 2}
    server.stop()
    with pytest.raises(OperationalError):
        store.query("SELECT 1")
    gone = asyncio.run(get())
    store.close()
    assert gone.status_code == 503
    assert gone.json() == {"detail": "The store is unavailable; try again."}
    assert gone.headers["retry-after"] == "1"


# --------------------------------------------------------------------------------------------
# Bound parameters over ~4 KB: clickhouse-connect sends them, and the SQL, as multipart form fields


LONG = "x" * 5000


def test_a_string_parameter_over_4_kb_comes_back_exactly(store: Store) -> None:
    tricky = "it's \\ here\r\n--not-a-boundary\" é 漢 " + LONG
    assert store.query("SELECT {s:String}, length({s:String})", {"s": tricky}) == [(tricky, len(tricky.encode()))]


def test_an_array_parameter_of_a_thousand_ids_filters_as_bound(store: Store) -> None:
    ids = list(range(1000, 2000)) + [2]
    assert store.query("SELECT id FROM {db}.samples WHERE id IN {ids:Array(UInt64)} ORDER BY id", {"ids": ids}) == [(2,)]


def test_long_and_short_parameters_mix_and_match_rows(store: Store) -> None:
    rows = store.query(
        "SELECT id FROM {db}.samples WHERE name = {name:String} AND length({pad:String}) = 5000",
        {"name": "it's \\ here", "pad": LONG},
    )
    assert rows == [(1,)]


def test_engine_errors_on_a_form_encoded_query_keep_their_code(store: Store) -> None:
    with pytest.raises(DatabaseError) as raised:
        store.query("SELECT {s:String} FROM {db}.no_such_table", {"s": LONG})
    assert "code: 60" in str(raised.value)


def test_external_data_in_a_form_is_refused(server: Server) -> None:
    from clickhouse_connect.driver.external import ExternalData

    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=server.url(), autogenerate_session_id=False)
    try:
        table = ExternalData(data=b"1\n2\n", file_name="ext", structure=["n UInt64"])
        with pytest.raises(DatabaseError) as raised:
            client.query("SELECT count() FROM ext WHERE n IN {ids:Array(UInt64)}",
                         parameters={"ids": list(range(2000))}, external_data=table)
        assert "code: 48" in str(raised.value)
    finally:
        client.close()


def test_uncompressed_binary_inserts_are_refused_too(server: Server, store: Store) -> None:
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=server.url(), compress=False, autogenerate_session_id=False)
    try:
        with pytest.raises(DatabaseError) as raised:
            client.insert("picket.samples", [[4, "y", datetime(2026, 1, 1), uuid.uuid4(), [], {}, None]],
                          column_names=["id", "name", "at", "uid", "tags", "attrs", "amount"])
        assert "code: 48" in str(raised.value)
    finally:
        client.close()
    assert store.query("SELECT count() FROM {db}.samples") == [(2,)]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT 1\r\n--x--\r\n"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT 1"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nSELECT 1\r\n--x--\r\n"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n\xff\r\n--x--\r\n"),
    ],
    ids=["no-boundary", "unterminated", "unnamed-part", "not-utf8"],
)
def test_a_malformed_form_is_a_400_with_a_clickhouse_code(server: Server, content_type: str, body: bytes) -> None:
    response = httpx.post(f"http://127.0.0.1:{server.port}/", content=body, auth=("picket", PASSWORD),
                          headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.headers["x-clickhouse-exception-code"] == "27"
