"""Source maps end to end: the real `sentry-cli` uploads the committed fixture (a minified file
and its source map, `tests/fixtures/sourcemaps`), by release and URL or injected with debug ids;
then an event with the minified stack trace, sent through the envelope endpoint, is stored with
the original file, line, function and context (the frames as sent kept as the raw stack trace),
and `source-map-debug` explains the frames that did not resolve."""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from pathlib import Path

import httpx
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from tests.e2e.test_sentry_cli_releases import _cli
from tests.support.api import call
from tests.support.picket import PicketProcess

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps"
MINIFIED_URL = "http://shop.example.com/static/app.min.js"
# (column in the minified line 1) → (original line in src/app.js, function); see the fixture's README
THROW, CALLER = (86, 8, "lineTotal"), (198, 16, "orderTotal")


def _dist(tmp_path: Path) -> Path:
    out = tmp_path / "dist"
    shutil.copytree(FIXTURE / "dist", out)
    return out


def _send(picket: PicketProcess, release: str | None, debug_id: str | None = None, line: int = 1,
          shift: int = 0) -> str:
    """A JavaScript error whose stack is the minified file's (t at 1:86 called by r at 1:198;
    once `sourcemaps inject` moved the code, on `line` and `shift` columns to the left)."""
    event_id = uuid.uuid4().hex
    frames = [{"abs_path": MINIFIED_URL, "filename": "/static/app.min.js", "function": name, "lineno": line,
               "colno": col - shift, "in_app": True} for col, _, name in ((CALLER[0], 0, "r"), (THROW[0], 0, "t"))]
    event = {"event_id": event_id, "platform": "javascript", "message": "",
             "exception": {"values": [{"type": "TypeError", "value": f"Invalid price for ink {event_id[:6]}",
                                       "stacktrace": {"frames": frames}}]}}
    if release:
        event["release"] = release
    if debug_id:
        event["debug_meta"] = {"images": [{"type": "sourcemap", "code_file": MINIFIED_URL, "debug_id": debug_id}]}
    envelope = Envelope(headers={"event_id": event_id})
    envelope.add_item(Item(type="event", payload=PayloadRef(json=event)))
    project_id = picket.dsn.rsplit("/", 1)[1]
    key = picket.dsn.split("//")[1].split("@")[0]
    sent = httpx.post(f"{picket.url}/api/{project_id}/envelope/?sentry_key={key}", content=envelope.serialize())
    assert sent.status_code == 200, sent.text
    return event_id


def _stored(picket: PicketProcess, event_id: str) -> dict:
    path = f"/api/0/projects/{picket.org}/default/events/{event_id}/"
    deadline = time.monotonic() + 60
    with picket.client() as client:
        while client.get(path).status_code == 404:
            assert time.monotonic() < deadline, f"event {event_id} never stored"
            time.sleep(0.3)
        return call(client, "GET", path).json()


def _exception(event: dict) -> dict:
    entry = next(e for e in event["entries"] if e["type"] == "exception")
    return entry["data"]["values"][0]


def _assert_mapped(event: dict, resolved_with: str, line: int = 1, shift: int = 0) -> None:
    value = _exception(event)
    caller, thrower = value["stacktrace"]["frames"]
    assert (thrower["lineNo"], thrower["function"]) == (THROW[1], THROW[2])
    assert (caller["lineNo"], caller["function"]) == (CALLER[1], CALLER[2])
    assert thrower["absPath"] == "http://shop.example.com/src/app.js"
    assert "throw new TypeError" in dict(thrower["context"])[THROW[1]]
    assert thrower["data"]["resolved_with"] == resolved_with
    raw = value["rawStacktrace"]["frames"]
    assert [(f["lineNo"], f["colNo"], f["function"]) for f in raw] == [(line, CALLER[0] - shift, "r"),
                                                                          (line, THROW[0] - shift, "t")]


def _debug(picket: PicketProcess, event_id: str, frame_idx: int = 1, **params: str) -> httpx.Response:
    with picket.client() as client:
        return call(client, "GET", f"/api/0/projects/{picket.org}/default/events/{event_id}/source-map-debug/",
                    params={"frame_idx": str(frame_idx), "exception_idx": "0", **params})


def test_sourcemaps_upload_by_release_maps_the_events_of_the_release(picket: PicketProcess, tmp_path: Path) -> None:
    release = f"shop@{uuid.uuid4().hex[:8]}"
    out = _cli(picket, "sourcemaps", "upload", "--release", release, "--url-prefix", "~/static", "--wait",
               str(_dist(tmp_path)))
    assert "app.min.js" in out.stdout + out.stderr
    event = _stored(picket, _send(picket, release))
    _assert_mapped(event, "release")
    assert _debug(picket, event["eventID"]).json() == {"errors": []}

    # the same stack in another release finds nothing to map with, and says why
    other = _stored(picket, _send(picket, f"shop@other-{uuid.uuid4().hex[:6]}"))
    assert _exception(other)["rawStacktrace"] is None
    assert _exception(other)["stacktrace"]["frames"][1]["lineNo"] == 1
    errors = _debug(picket, other["eventID"]).json()["errors"]
    assert [e["type"] for e in errors] == ["no_url_match"]
    bare = _stored(picket, _send(picket, None))
    assert [e["type"] for e in _debug(picket, bare["eventID"]).json()["errors"]] == ["missing_release"]


def test_sourcemaps_inject_and_upload_map_events_by_debug_id(picket: PicketProcess, tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    _cli(picket, "sourcemaps", "inject", str(dist))
    found = re.search(r"//# debugId=([0-9a-fA-F-]{36})", (dist / "app.min.js").read_text())
    assert found, "sentry-cli injected no debug id"
    debug_id = found.group(1).lower()
    assert json.loads((dist / "app.min.js.map").read_text())["debugId"].lower() == debug_id
    # the injection moved the code below its snippet (the map says so too): find where it is
    code = "const n=.2;function t(n)"
    before = (FIXTURE / "dist" / "app.min.js").read_text().splitlines()[0].index(code)
    lines = (dist / "app.min.js").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if code in text)
    shift = before - lines[line - 1].index(code)
    assert line > 1
    _cli(picket, "sourcemaps", "upload", "--wait", str(dist))
    event = _stored(picket, _send(picket, None, debug_id=debug_id, line=line, shift=shift))
    _assert_mapped(event, "debug-id", line, shift)


def test_source_map_debug_refuses_bad_indexes(picket: PicketProcess) -> None:
    event = _stored(picket, _send(picket, None))
    assert _debug(picket, event["eventID"], frame_idx=9).status_code == 400
    with picket.client() as client:
        path = f"/api/0/projects/{picket.org}/default/events/{event['eventID']}/source-map-debug/"
        assert call(client, "GET", path, params={"frame_idx": "0"}).status_code == 400
        assert call(client, "GET", path, params={"frame_idx": "x", "exception_idx": "0"}).status_code == 400
        missing = f"/api/0/projects/{picket.org}/default/events/{uuid.uuid4().hex}/source-map-debug/"
        assert call(client, "GET", missing, params={"frame_idx": "0", "exception_idx": "0"}).status_code == 404
