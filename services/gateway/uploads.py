"""Reading `multipart/form-data` uploads as they arrive, as hostile input: the body is streamed
through the parser, file parts are spooled (in memory up to `SPOOL_MEMORY`, then on disk), so a
1 GiB upload holds a bounded amount of memory; the declared length is checked before anything is
read, and the body is refused (413) as soon as it passes `max_body`. Parts are limited in number,
field values in size, and part headers by the parser. Errors are `ApiError`s with a detail.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from picket.gateway.errors import ApiError, bad_request
from picket.gateway.request_body import TOO_LARGE, closes_connection, declared_length

SPOOL_MEMORY = 1024 * 1024  # bytes of one file part kept in memory before it goes to disk
MAX_FIELD = 64 * 1024  # bytes of a plain (non-file) field


@dataclass
class Part:
    """One part: `value` for a plain field, `file` (rewound) for a file part."""

    name: str
    filename: str | None
    content_type: str | None = None
    size: int = 0
    value: bytes = b""
    file: IO[bytes] | None = None


@dataclass
class Form:
    parts: list[Part] = field(default_factory=list)

    def files(self, name: str) -> list[Part]:
        return [p for p in self.parts if p.name == name and p.file is not None]

    def values(self, name: str) -> list[str]:
        out = []
        for p in self.parts:
            if p.name == name and p.file is None:
                try:
                    out.append(p.value.decode())
                except UnicodeDecodeError:
                    raise bad_request(f"The field {name!r} is not UTF-8.") from None
        return out

    def value(self, name: str) -> str | None:
        found = self.values(name)
        return found[-1] if found else None

    def close(self) -> None:
        for p in self.parts:
            if p.file is not None:
                p.file.close()


class _Collector:
    """The parser's callbacks: builds the parts, holding at most one part's spool open."""

    def __init__(self, max_parts: int, spool_dir: Path | None) -> None:
        self.form = Form()
        self._max_parts = max_parts
        self._spool_dir = spool_dir
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._part: Part | None = None
        self.ended = False  # the closing boundary was read

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end,
            "on_header_field": self._field, "on_header_value": self._value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done, "on_end": self._body_end,
        }

    def _body_end(self) -> None:
        self.ended = True

    def _begin(self) -> None:
        if len(self.form.parts) >= self._max_parts:
            raise bad_request(f"Too many parts: at most {self._max_parts}.")
        self._headers = {}

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        try:
            name = options.get(b"name", b"").decode()
            raw_filename = options.get(b"filename")
            filename = raw_filename.decode() if raw_filename is not None else None
        except UnicodeDecodeError:
            raise bad_request("A part's name is not UTF-8.") from None
        try:
            content_type = self._headers.get(b"content-type", b"").decode() or None
        except UnicodeDecodeError:
            content_type = None
        part = Part(name=name, filename=filename, content_type=content_type)
        if filename is not None:
            part.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, dir=self._spool_dir)
        self._part = part
        self.form.parts.append(part)

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        assert part is not None
        chunk = data[start:end]
        part.size += len(chunk)
        if part.file is not None:
            part.file.write(chunk)
        else:
            if part.size > MAX_FIELD:
                raise bad_request(f"The field {part.name[:100]!r} is longer than {MAX_FIELD} bytes.")
            part.value += chunk

    def _end(self) -> None:
        if self._part is not None and self._part.file is not None:
            self._part.file.seek(0)
        self._part = None


async def read_form(request: Request, *, max_body: int, max_parts: int = 100, spool_dir: Path | None = None) -> Form:
    """The request's multipart form, read under the limits (see the module's docstring). The
    caller closes it (`Form.close`) once done with its files."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise bad_request("Expected a multipart/form-data body.")
    declared = declared_length(request)
    if declared is not None and declared > max_body:
        raise ApiError(413, TOO_LARGE, {"Connection": "close"} if closes_connection(request) else None)
    collector = _Collector(max_parts, spool_dir)
    parser = MultipartParser(boundary, collector.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise ApiError(413, TOO_LARGE, {"Connection": "close"} if closes_connection(request, received) else None)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        collector.form.close()
        raise bad_request(f"Malformed multipart body: {exc}") from None
    except ClientDisconnect:
        collector.form.close()
        raise bad_request("The request body was not received completely.") from None
    except BaseException:
        collector.form.close()
        raise
    if not collector.ended:  # the parser does not check that the closing boundary came
        collector.form.close()
        raise bad_request("Malformed multipart body: it ends before its closing boundary.")
    return collector.form
