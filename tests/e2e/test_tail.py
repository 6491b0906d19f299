"""`picket tail` on a running Picket: a check-in sent with the real sentry-sdk is printed as one
line of JSON by `python -m picket.cli tail monitors-events`, filtered by organization slug and
event type too; an unknown topic exits 2 with the list of public topics; Ctrl-C exits quietly."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from sentry_sdk.crons import capture_checkin

from picket.schemas.topics import PUBLIC_TOPICS
from tests.support.picket import REPO, PicketProcess

ORG = "tailed"
SLUG = "tailed-job"


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    """A Picket whose monitor `tailed-job` was made, with its first check-in, by the SDK."""
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("tail"), org=ORG).start()
    try:
        sentry_sdk.init(dsn=proc.dsn, default_integrations=False)
        try:
            capture_checkin(monitor_slug=SLUG, status="ok", duration=1.5,
                            monitor_config={"schedule": {"type": "crontab", "value": "0 * * * *"}})
            sentry_sdk.flush()
        finally:
            sentry_sdk.get_client().close()
            sentry_sdk.init()
        yield proc
    finally:
        proc.stop()


def _env(p: PicketProcess) -> dict[str, str]:
    env = {**os.environ, "PICKET_TOPIC_PREFIX": p.prefix, "PICKET_LOG_LEVEL": "WARNING"}
    if p.bootstrap:
        env["KAFKA_BOOTSTRAP"] = p.bootstrap
    else:  # the embedded broker: found through the data directory
        env.pop("KAFKA_BOOTSTRAP", None)
        env["PICKET_DATA_DIR"] = str(p.data_dir)
    return env


class Tail:
    """`picket tail` as a subprocess, its stdout read line by line on a thread."""

    def __init__(self, p: PicketProcess, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "picket.cli", "tail", *args], cwd=REPO, env=_env(p),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def first(self, match: Any, timeout: float = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The first printed value `match` accepts, and every value printed until then."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            assert line.endswith("\n") and line.count("\n") == 1
            value = json.loads(line)  # each line one compact JSON object (stdout is a pipe)
            seen.append(value)
            if match(value):
                return value, seen
        raise TimeoutError(f"nothing matched in {timeout}s; printed {len(seen)} values; stderr: {self.stderr()}")

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read() if self.proc.poll() is not None else "(still running)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _our_check_in(value: dict[str, Any]) -> bool:
    return value.get("type") == "check_in_recorded" and value["meta"]["aggregate"].endswith(f":{SLUG}")


def test_tail_prints_the_sdk_s_check_in_from_the_beginning(p: PicketProcess) -> None:
    follower = Tail(p, "monitors-events", "--from-beginning")
    try:
        found, seen = follower.first(_our_check_in)
    finally:
        follower.stop()
    assert found["check_in"]["status"] == "ok" and found["check_in"]["duration"] == 1500
    assert found["meta"]["event_id"]
    created = [v for v in seen if v["type"] == "monitor_created"]
    assert created and created[0]["monitor"]["slug"] == SLUG  # the SDK's monitor_config made it


def test_tail_filters_by_organization_slug_and_event_type(p: PicketProcess) -> None:
    follower = Tail(p, "monitors-events", "--from-beginning", "--org", ORG, "--type", "check_in_recorded")
    try:
        found, seen = follower.first(_our_check_in)
    finally:
        follower.stop()
    assert [v["type"] for v in seen] == ["check_in_recorded"] * len(seen)
    assert found["check_in"]["status"] == "ok"


def test_tail_follows_what_comes_after_it_started(p: PicketProcess) -> None:
    """Started at the end of the topic: a check-in made after that is printed (one is made every few
    seconds until one is: nothing tells from outside when the tail has found the end)."""
    follower = Tail(p, "monitors-events", "--type", "check_in_recorded")
    made: set[str] = set()
    deadline = time.monotonic() + 60
    try:
        with p.client() as http:
            while True:
                answer = http.post(f"/api/0/organization/{ORG}/monitors/{SLUG}/checkins/", json={"status": "error"})
                assert answer.status_code == 201, answer.text
                made.add(answer.json()["id"].replace("-", ""))
                try:
                    found, seen = follower.first(lambda v: _our_check_in(v) and v["check_in"]["status"] == "error",
                                                 timeout=5)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise
    finally:
        follower.stop()
    assert found["check_in"]["id"] in made
    assert all(v["check_in"]["status"] == "error" for v in seen)  # not the check-in from before it started


def test_issue_events_are_matched_to_the_organization_through_their_project(p: PicketProcess) -> None:
    with p.client() as http:
        key = http.get(f"/api/0/organizations/{ORG}/projects/").json()[0]
        public = http.get(f"/api/0/projects/{ORG}/{key['slug']}/keys/").json()[0]
    stored = httpx.post(f"{p.url}/api/{public['projectId']}/store/?sentry_key={public['public']}",
                        json={"message": "seen by picket tail"})
    assert stored.status_code == 200, stored.text
    follower = Tail(p, "issues-events", "--from-beginning", "--org", ORG, "--type", "issue_created")
    try:
        found, _ = follower.first(lambda v: v["title"] == "seen by picket tail")
    finally:
        follower.stop()
    assert found["meta"]["project_id"] == int(public["projectId"])


def test_an_unknown_topic_exits_2_with_the_list_of_public_topics(p: PicketProcess) -> None:
    done = subprocess.run([sys.executable, "-m", "picket.cli", "tail", "monitor-events"], cwd=REPO, env=_env(p),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert all(topic.name in done.stderr for topic in PUBLIC_TOPICS)


def test_ctrl_c_stops_it_quietly(p: PicketProcess) -> None:
    follower = Tail(p, "monitors-events", "--from-beginning")
    try:
        follower.first(_our_check_in)
        follower.proc.send_signal(signal.SIGINT)
        assert follower.proc.wait(timeout=20) == 130
        assert "Traceback" not in follower.stderr()
    finally:
        follower.stop()
