"""Log lines: one a record, JSON off a terminal and text on one (PICKET_LOG_FORMAT decides when
set), the request id on every line logged while the gateway handles a request (and answered as
`X-Request-Id`), and no secret on any line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from picket import logs
from picket.gateway.errors import HANDLERS
from picket.gateway.fast_path import FastRoute, Gateway
from picket.gateway.request_id import RequestIdMiddleware, request_id
from picket.logs import REQUEST_ID, JsonFormatter, RedactingFilter, TextFormatter, log_format, redact, setup

TOKEN = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # 64 hex digits


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, given back as it was (setup replaces its handlers)."""
    logger = logging.getLogger()
    handlers, level = logger.handlers[:], logger.level
    yield logger
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)


def capture(fmt: str = "json") -> tuple[logging.Logger, io.StringIO]:
    """A logger of its own writing through a handler as `setup` makes one."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("gateway") if fmt == "json" else TextFormatter("gateway"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"picket.test.{fmt}.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


# --- the format ---

def test_the_format_is_json_off_a_terminal_and_text_on_one_unless_told() -> None:
    assert log_format({}, io.StringIO()) == "json"
    assert log_format({}, Terminal()) == "text"
    assert log_format({"PICKET_LOG_FORMAT": "json"}, Terminal()) == "json"
    assert log_format({"PICKET_LOG_FORMAT": "TEXT"}, io.StringIO()) == "text"
    assert log_format({"PICKET_LOG_FORMAT": "yaml"}, io.StringIO()) == "json"  # not a format: the default


def test_a_json_line_has_time_level_logger_message_process_and_the_extra_fields() -> None:
    logger, out = capture()
    logger.warning("consumer %s is behind", "ingest-events", extra={"lag": 42, "topic": "ingest-events"})
    [line] = lines(out)
    record = json.loads(line)
    assert record["msg"] == "consumer ingest-events is behind"
    assert (record["level"], record["logger"], record["process"]) == ("warning", logger.name, "gateway")
    assert record["lag"] == 42 and record["topic"] == "ingest-events" and isinstance(record["pid"], int)
    assert record["ts"].endswith("Z") and record["ts"][10] == "T" and len(record["ts"]) == 24
    assert "request_id" not in record


def test_an_exception_stays_on_its_line() -> None:
    for fmt in ("json", "text"):
        logger, out = capture(fmt)
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            logger.exception("handling failed\nbadly")
        [line] = lines(out)
        if fmt == "json":
            record = json.loads(line)
            assert record["msg"] == "handling failed\nbadly"
            assert "Traceback" in record["exc"] and "ValueError: bad" in record["exc"]
        else:
            assert "handling failed ⏎ badly" in line
            assert "| ValueError: bad ⏎ value (at test_logs.py:" in line and "in test_an_exception_stays_on_its_line" in line


def test_a_text_line_reads_as_a_sentence() -> None:
    logger, out = capture("text")
    token = REQUEST_ID.set("req-1")
    try:
        logger.warning("slow %s", "query", extra={"ms": 1200})
    finally:
        REQUEST_ID.reset(token)
    [line] = lines(out)
    assert " WARNING gateway[" in line
    assert line.endswith(f"{logger.name}: slow query request_id=req-1 ms=1200")


def test_setup_replaces_the_root_handlers_and_takes_the_level_and_format_from_the_environment(root: logging.Logger) -> None:
    out = io.StringIO()
    handler = setup("worker", env={"PICKET_LOG_LEVEL": "info"}, stream=out)
    assert root.handlers == [handler] and root.level == logging.INFO
    logging.getLogger("picket.somewhere").info("hello sentry_key=abc123")
    logging.getLogger("picket.somewhere").debug("not shown")
    [line] = lines(out)
    assert json.loads(line)["msg"] == "hello sentry_key=[redacted]"
    assert json.loads(line)["process"] == "worker"

    terminal = Terminal()
    setup("run", env={"NO_COLOR": "1"}, stream=terminal)
    logging.getLogger("picket.x").warning("on a terminal")
    assert " WARNING run[" in terminal.getvalue() and "\x1b[" not in terminal.getvalue()


# --- secrets ---

@pytest.mark.parametrize(("text", "kept", "hidden"), [
    ("Authorization: Bearer abcdef0123", "Authorization: Bearer [redacted]", "abcdef0123"),
    ("headers={'authorization': 'Basic dXNlcjpwYXNz', 'accept': '*/*'}", "'accept': '*/*'", "dXNlcjpwYXNz"),
    ("[(b'authorization', b'Bearer sekrit'), (b'host', b'x')]", "(b'host', b'x')", "sekrit"),
    ("POST /api/1/store/?sentry_key=pub123&sentry_version=7", "sentry_version=7", "pub123"),
    ("X-Sentry-Auth: Sentry sentry_key=pub123, sentry_secret=sec456, sentry_version=7", "sentry_version=7",
     "sec456"),
    ('{"sentry_key": "pub123", "project": 1}', '"project": 1', "pub123"),
    ("DSN: http://8e4fa84e@127.0.0.1:8000/375694562864418", "@127.0.0.1:8000/375694562864418", "8e4fa84e"),
    ("old DSN http://pub:sec@host/1", "http://pub:[redacted]@host/1", "sec"),
    ("store at http://picket:s3cr3t-pw@127.0.0.1:9000", "http://picket:[redacted]@127.0.0.1:9000", "s3cr3t-pw"),
    (f"token {TOKEN} rejected", "token [redacted] rejected", TOKEN),
    ("KAFKA_SASL_PASSWORD=hunter2 client_secret=xyz", "KAFKA_SASL_PASSWORD=[redacted]", "hunter2"),
    ('{"password": "hunter2", "user": "u"}', '"user": "u"', "hunter2"),
])
def test_secrets_are_masked(text: str, kept: str, hidden: str) -> None:
    masked = redact(text)
    assert kept in masked and hidden not in masked and "[redacted]" in masked


def test_what_is_no_secret_is_left_alone() -> None:
    for text in ("event 0123456789abcdef0123456789abcdef stored",  # 32 hex digits: an event id
                 "no token given", "token: missing", "GET /api/0/projects/acme/api/issues/?query=is:unresolved",
                 "retrying in 1.5s (attempt 3)"):
        assert redact(text) == text


def test_secrets_are_masked_in_arguments_extras_and_tracebacks() -> None:
    logger, out = capture()
    try:
        raise RuntimeError(f"refused Authorization: Bearer {TOKEN}")
    except RuntimeError:
        logger.exception("request %s failed", f"/api/1/envelope/?sentry_key={TOKEN[:32]}",
                         extra={"url": "http://user:pw@host/"})
    record = json.loads(lines(out)[0])
    text = json.dumps(record)
    assert TOKEN not in text and TOKEN[:32] not in text and ":pw@" not in text
    assert record["msg"] == "request /api/1/envelope/?sentry_key=[redacted] failed"
    assert record["url"] == "http://user:[redacted]@host/"
    assert "Bearer [redacted]" in record["exc"]


# --- the request id ---

def test_a_sane_request_id_is_taken_anything_else_replaced() -> None:
    assert request_id([(b"host", b"x"), (b"x-request-id", b"abc.DEF_1-2")]) == "abc.DEF_1-2"
    for bad in (b"", b"a" * 65, b"has space", b"semi;colon", b"\xff"):
        made = request_id([(b"x-request-id", bad)])
        assert made != bad.decode(errors="replace") and len(made) == 16 and int(made, 16) >= 0
    assert request_id([]) != request_id([])


async def _logs_and_answers(request: Request) -> Response:
    logging.getLogger("picket.test.request").warning("handling %s", request.url.path)
    return JSONResponse({"request_id": REQUEST_ID.get()})


def _gateway() -> TestClient:
    app = Gateway(fast=[FastRoute("/fast/{name}/", _logs_and_answers, ("POST",))],
                  routes=[Route("/slow/", _logs_and_answers, methods=["GET"])],
                  exception_handlers=HANDLERS, outer=[RequestIdMiddleware])  # type: ignore[arg-type]
    return TestClient(app)


def test_every_line_logged_while_handling_a_request_carries_its_id_fast_path_or_not() -> None:
    logger = logging.getLogger("picket.test.request")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("gateway"))
    logger.addHandler(handler)
    try:
        http = _gateway()
        fast = http.post("/fast/thing/")
        slow = http.get("/slow/", headers={"X-Request-Id": "from-the-client.1"})
        refused = http.get("/slow/", headers={"X-Request-Id": "no good!"})
    finally:
        logger.removeHandler(handler)
    assert slow.headers["X-Request-Id"] == slow.json()["request_id"] == "from-the-client.1"
    assert fast.headers["X-Request-Id"] == fast.json()["request_id"] and len(fast.headers["X-Request-Id"]) == 16
    assert refused.headers["X-Request-Id"] != "no good!"
    logged = [json.loads(line) for line in lines(out)]
    assert [r["request_id"] for r in logged] == [fast.headers["X-Request-Id"], "from-the-client.1",
                                                 refused.headers["X-Request-Id"]]
    assert REQUEST_ID.get() is None  # not left set after the request


def test_the_gateway_app_answers_a_request_id() -> None:
    from tests.support.gateway_world import make_world

    world = make_world()
    answer = world.http.get("/_health/", headers={"X-Request-Id": "probe-7"})
    assert answer.status_code == 200 and answer.headers["X-Request-Id"] == "probe-7"


def test_the_cli_sets_logging_up_instead_of_basic_config() -> None:
    source = (logs.__file__.rsplit("/", 1)[0] + "/cli.py")
    text = open(source).read()
    assert "logs.setup(" in text and "basicConfig" not in text
