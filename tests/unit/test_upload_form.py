"""Reading multipart uploads (`picket.gateway.uploads.read_form`) as hostile input: fields and
files are parsed, a large file goes to disk in the spool directory, and every malformed or
oversized body is a 400 or 413 with a detail, never a 500.

The app is a one-route Starlette app with the gateway's error handlers; the route answers what
`read_form` made of the body (and records what it saw before reading it).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from picket.gateway.errors import HANDLERS
from picket.gateway.request_body import TOO_LARGE
from picket.gateway.uploads import MAX_FIELD, SPOOL_MEMORY, read_form

BOUNDARY = "PicketBoundary42"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
MAX_BODY = 8 * 1024 * 1024
MAX_PARTS = 5


def _field(name: str | bytes, value: bytes, headers: bytes = b"") -> bytes:
    name = name.encode() if isinstance(name, str) else name
    return (b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"" + name + b"\"\r\n"
            + headers + b"\r\n" + value + b"\r\n")


def _file(name: str, filename: str, data: bytes, content_type: str | None = "application/octet-stream") -> bytes:
    ct = f"Content-Type: {content_type}\r\n".encode() if content_type else b""
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n".encode()
            + ct + b"\r\n" + data + b"\r\n")


def _body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class World:
    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self.seen: list[dict[str, Any]] = []  # per request: what the route saw before reading
        app = Starlette(routes=[Route("/upload", self._upload, methods=["POST"])], exception_handlers=HANDLERS)
        self.client = TestClient(app, raise_server_exceptions=False)

    async def _upload(self, request: Request) -> Response:
        q = request.query_params
        self.seen.append({"content-length": request.headers.get("content-length")})
        form = await read_form(request, max_body=int(q.get("max_body", MAX_BODY)),
                               max_parts=int(q.get("max_parts", MAX_PARTS)), spool_dir=self.spool)
        try:
            parts = []
            for p in form.parts:
                out: dict[str, Any] = {"name": p.name, "filename": p.filename, "content_type": p.content_type,
                                       "size": p.size}
                if p.file is None:
                    out["value"] = p.value.decode("latin-1")
                else:
                    data = p.file.read()
                    rolled = bool(getattr(p.file, "_rolled", False))
                    out |= {"sha256": hashlib.sha256(data).hexdigest(), "read": len(data), "rolled": rolled}
                    if rolled and os.path.isdir("/proc/self/fd"):
                        out["spooled_at"] = os.readlink(f"/proc/self/fd/{p.file.fileno()}")
                    if len(data) <= 1024:
                        out["data"] = data.decode("latin-1")
                parts.append(out)
            names = list(dict.fromkeys(p["name"] for p in parts if "value" in p))
            fields = {n: form.values(n) for n in names}
            last = {n: form.value(n) for n in names}
            files = {n: [p.filename for p in form.files(n)] for n in dict.fromkeys(p.name for p in form.parts)}
            return JSONResponse({"parts": parts, "fields": fields, "last": last, "files": files})
        finally:
            form.close()

    def post(self, body: Any, content_type: str | None = MULTIPART, headers: dict[str, str] | None = None,
             **params: int):
        hs = dict(headers or {})
        if content_type is not None:
            hs["content-type"] = content_type
        response = self.client.post("/upload", content=body, headers=hs, params=params)
        assert response.status_code != 500, response.text
        return response


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    with w.client:
        yield w


def _refused(response, status: int) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


# --- what is parsed


def test_fields_and_files_are_parsed_with_their_names_types_and_bytes(world: World) -> None:
    body = _body(_field("project", b"web"), _file("file", "app.js.map", b'{"version":3}', "application/json"),
                 _file("other", "x.bin", b"\x00\xffraw", None))
    response = world.post(body)
    assert response.status_code == 200, response.text
    project, first, second = response.json()["parts"]
    assert project == {"name": "project", "filename": None, "content_type": None, "size": 3, "value": "web"}
    assert (first["name"], first["filename"], first["content_type"]) == ("file", "app.js.map", "application/json")
    assert first["size"] == first["read"] == 13 and first["data"] == '{"version":3}'
    assert (second["filename"], second["content_type"], second["size"]) == ("x.bin", None, 5)
    assert second["data"].encode("latin-1") == b"\x00\xffraw"  # bytes as sent, not decoded
    assert first["rolled"] is False  # small files stay in memory


def test_an_empty_file_part_is_a_file_of_size_zero(world: World) -> None:
    (part,) = world.post(_body(_file("file", "empty.txt", b""))).json()["parts"]
    assert (part["filename"], part["size"], part["data"]) == ("empty.txt", 0, "")


def test_several_files_under_one_name_are_all_kept_in_order(world: World) -> None:
    body = _body(_file("file", "a.js", b"a"), _file("file", "b.js", b"bb"), _file("file", "c.js", b"ccc"))
    response = world.post(body)
    assert response.json()["files"] == {"file": ["a.js", "b.js", "c.js"]}
    assert [p["size"] for p in response.json()["parts"]] == [1, 2, 3]


def test_a_field_given_several_times_reads_all_values_and_value_is_the_last(world: World) -> None:
    response = world.post(_body(_field("name", b"first"), _field("name", b"second"), _field("dist", b"\xc3\xa9")))
    assert response.json()["fields"] == {"name": ["first", "second"], "dist": ["é"]}
    assert response.json()["last"] == {"name": "second", "dist": "é"}


def test_a_file_over_the_spool_size_goes_to_the_spool_dir_and_reads_back_exactly(world: World) -> None:
    data = os.urandom(3 * 1024 * 1024)
    assert len(data) > SPOOL_MEMORY
    response = world.post(_body(_field("name", b"big"), _file("file", "big.bin", data)))
    assert response.status_code == 200, response.text
    part = response.json()["parts"][1]
    assert part["rolled"] is True
    assert part["size"] == part["read"] == len(data)
    assert part["sha256"] == hashlib.sha256(data).hexdigest()
    if "spooled_at" in part:  # Linux: where the open spool file lives (unlinked, or an O_TMPFILE)
        assert part["spooled_at"].startswith(str(world.spool) + "/")


def test_a_field_of_exactly_the_maximum_size_is_read(world: World) -> None:
    response = world.post(_body(_field("x", b"v" * MAX_FIELD)))
    assert response.status_code == 200 and response.json()["parts"][0]["size"] == MAX_FIELD


def test_a_body_of_exactly_max_body_is_read(world: World) -> None:
    body = _body(_file("file", "f", b"x" * 100))
    assert world.post(body, max_body=len(body)).status_code == 200


# --- hostile bodies


def test_a_body_that_is_not_multipart_is_400(world: World) -> None:
    detail = _refused(world.post(b'{"a": 1}', content_type="application/json"), 400)
    assert "multipart/form-data" in detail
    _refused(world.post(b"x", content_type=None), 400)
    _refused(world.post(_body(_field("a", b"1")), content_type=f"multipart/mixed; boundary={BOUNDARY}"), 400)


def test_multipart_without_a_boundary_is_400(world: World) -> None:
    _refused(world.post(_body(_field("a", b"1")), content_type="multipart/form-data"), 400)
    _refused(world.post(_body(_field("a", b"1")), content_type="multipart/form-data; boundary="), 400)


def test_a_declared_length_over_max_body_is_413_before_the_body_is_read(world: World) -> None:
    pulled: list[bytes] = []

    def body() -> Iterator[bytes]:
        for chunk in (b"--" + BOUNDARY.encode(), b"\r\n" * 100):
            pulled.append(chunk)
            yield chunk

    response = world.post(body(), headers={"content-length": "2000"}, max_body=1000)
    assert _refused(response, 413) == TOO_LARGE
    assert world.seen[-1]["content-length"] == "2000"
    assert pulled == []  # not one byte of the body was asked for


def test_a_chunked_body_growing_past_max_body_is_413(world: World) -> None:
    whole = _body(_file("file", "f.bin", b"z" * 5000))

    def body() -> Iterator[bytes]:
        for i in range(0, len(whole), 512):
            yield whole[i:i + 512]

    response = world.post(body(), max_body=4000)
    assert _refused(response, 413) == TOO_LARGE
    assert world.seen[-1]["content-length"] is None  # no declared length: refused while reading
    # the same body under a limit it fits is read whole
    assert world.post(body(), max_body=len(whole)).json()["parts"][0]["size"] == 5000


def test_more_parts_than_max_parts_is_400(world: World) -> None:
    body = _body(*(_field(f"f{i}", b"v") for i in range(4)))
    assert world.post(body, max_parts=4).status_code == 200
    detail = _refused(world.post(body, max_parts=3), 400)
    assert "3" in detail


def test_a_plain_field_over_64_kib_is_400(world: World) -> None:
    detail = _refused(world.post(_body(_field("x", b"v" * (MAX_FIELD + 1)))), 400)
    assert "'x'" in detail
    # a file part of the same size is fine
    assert world.post(_body(_file("x", "x.txt", b"v" * (MAX_FIELD + 1)))).status_code == 200


def test_a_body_ending_inside_a_parts_data_is_400(world: World) -> None:
    detail = _refused(world.post(_field("a", b"hello")[:-2]), 400)
    assert "ends before its closing boundary" in detail
    # also for a file part, and when only the closing boundary's dashes are missing
    _refused(world.post(_file("f", "f.bin", b"data")), 400)
    _refused(world.post(_field("a", b"hello") + b"--" + BOUNDARY.encode()), 400)


@pytest.mark.parametrize("truncated", [
    pytest.param(_field("a", b"1") + f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"b\"\r\n".encode(),
                 id="inside-the-headers"),
    pytest.param(_field("a", b"1") + f"--{BOUNDARY}\r\n".encode(), id="after-a-boundary-line"),
    pytest.param(b"", id="empty-body"),
])
def test_a_body_ending_before_its_closing_boundary_is_400(world: World, truncated: bytes) -> None:
    _refused(world.post(truncated), 400)


def test_garbage_where_the_first_boundary_belongs_is_400_with_the_parsers_detail(world: World) -> None:
    detail = _refused(world.post(b"garbage\r\n" + _body(_field("a", b"1"))), 400)
    assert detail.startswith("Malformed multipart body: ") and len(detail) > len("Malformed multipart body: ")


def test_garbage_after_a_boundary_line_is_400_with_a_detail(world: World) -> None:
    # a header line that is not `Name: value`
    body = f"--{BOUNDARY}\r\nnot a header line\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode()
    assert _refused(world.post(body), 400).startswith("Malformed multipart body: ")
    # the boundary followed by junk instead of CRLF: the part never ends
    _refused(world.post(_field("a", b"1") + f"--{BOUNDARY}garbage\r\n".encode()), 400)


def test_a_field_value_that_is_not_utf8_is_400_when_read_as_text(world: World) -> None:
    detail = _refused(world.post(_body(_field("name", b"caf\xe9"))), 400)
    assert "'name'" in detail and "UTF-8" in detail


def test_a_part_name_that_is_not_utf8_is_400(world: World) -> None:
    assert "UTF-8" in _refused(world.post(_body(_field(b"n\xffame", b"v"))), 400)
    body = _body(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"".encode() + b"\xfe.js"
                 + b"\"\r\n\r\ndata\r\n")
    assert "UTF-8" in _refused(world.post(body), 400)


def test_a_part_content_type_that_is_not_utf8_reads_as_none(world: World) -> None:
    body = _body(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.bin\"\r\n".encode()
                 + b"Content-Type: \xff\xfe\r\n\r\nd\r\n")
    response = world.post(body)
    assert response.status_code == 200 and response.json()["parts"][0]["content_type"] is None


def test_an_oversized_part_header_is_400(world: World) -> None:
    huge = b"X-Junk: " + b"h" * (64 * 1024) + b"\r\n"
    _refused(world.post(_body(_field("a", b"1", headers=huge))), 400)


def test_after_refusals_the_app_still_reads_a_good_body(world: World) -> None:
    world.post(b"x" * 10, max_body=5)
    world.post(_field("a", b"1")[:-2])
    assert world.post(_body(_field("a", b"1"))).json()["last"] == {"a": "1"}
