"""`picket replay --all` beside a running Picket, while the API keeps writing.

Teams, projects and keys (tenancy), a release with a deploy (releases), a monitor with check-ins
(monitors), a release file (artifacts) and a service hook (integrations) are made through the
API; every replayed table is read (FINAL, every column) before the replay. While
`python -m picket.cli replay --all` runs, teams keep being created. Afterwards every table holds
exactly the rows it held before, but for `entities`, where the teams made meanwhile (and what they
changed) are added, each served by the API; no shadow table is left; each projection's line says
what it projected; the progress bars went to the standard error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from picket.store.client import Store
from picket.worker import CONTEXTS
from tests.support.picket import REPO, PicketProcess

ORG = "replayed"


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    # Hooks to loopback (no event is sent: nothing is delivered), as this machine resolves no names.
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("replay"), org=ORG,
                         env={"PICKET_HOOKS_ALLOW_PRIVATE": "1"}).start()
    try:
        yield proc
    finally:
        proc.stop()


def _store(p: PicketProcess) -> Store:
    return Store(json.loads((p.data_dir / "store.json").read_text())["url"], "picket")


def _tables() -> list[str]:
    return sorted(t for ctx in CONTEXTS for t in ctx.replayed_tables)


def _snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted(store.query(f"SELECT * FROM {{db}}.{t} FINAL"), key=repr) for t in _tables()}


def _ok(answer: httpx.Response, status: int = 201) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def _make_one_of_each(p: PicketProcess, http: httpx.Client) -> None:
    for n in range(3):
        _ok(http.post(f"/api/0/teams/{ORG}/{ORG}/projects/", json={"name": f"App {n}", "slug": f"app-{n}"}))
        _ok(http.post(f"/api/0/projects/{ORG}/app-{n}/keys/", json={"name": f"key {n}"}))
    _ok(http.put(f"/api/0/projects/{ORG}/app-0/", json={"name": "App zero"}), 200)
    _ok(http.post(f"/api/0/organizations/{ORG}/releases/", json={"version": "app@1.0", "projects": ["default"]}))
    _ok(http.post(f"/api/0/organizations/{ORG}/releases/app@1.0/deploys/", json={"environment": "production"}))
    _ok(http.post(f"/api/0/organizations/{ORG}/monitors/", json={
        "project": "default", "name": "Yearly", "slug": "yearly", "type": "cron_job",
        "config": {"schedule_type": "crontab", "schedule": "0 0 1 1 *", "checkin_margin": 60, "max_runtime": 60}}))
    checkins = f"/api/0/organization/{ORG}/monitors/yearly/checkins/"  # the check-in path is singular
    for status in ("ok", "error"):
        _ok(http.post(checkins, json={"status": status}))
    _ok(http.post(f"/api/0/organizations/{ORG}/releases/app@1.0/files/", data={"name": "~/app.js"},
                  files={"file": ("app.js", b"console.log('replayed')\n", "text/javascript")}))
    _ok(http.post(f"/api/0/projects/{ORG}/default/hooks/", json={"url": "http://127.0.0.1:9/hook",
                                                                 "events": ["event.created"]}))


def _replay(p: PicketProcess) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PICKET_TOPIC_PREFIX": p.prefix, "PICKET_LOG_LEVEL": "WARNING"}
    env.pop("CLICKHOUSE_URL", None)
    return subprocess.run([sys.executable, "-m", "picket.cli", "replay", "--all", "--data-dir", str(p.data_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_replay_all_beside_a_running_instance_keeps_every_row_and_every_write_made_meanwhile(p: PicketProcess) -> None:
    with p.client() as http:
        _make_one_of_each(p, http)
        p.wait_drained()
        store = _store(p)
        try:
            before = _snapshot(store)
            assert all(before[t] for t in ("entities", "releases", "deploys", "monitors", "monitor_checkins",
                                            "release_files", "service_hooks")), "each context has rows to replay"

            made: list[str] = []
            stop = threading.Event()

            def keep_writing() -> None:
                with p.client() as writer:
                    while not stop.is_set() and len(made) < 40:
                        slug = f"meanwhile-{len(made)}"
                        _ok(writer.post(f"/api/0/organizations/{ORG}/teams/", json={"slug": slug}))
                        made.append(slug)

            writer = threading.Thread(target=keep_writing)
            writer.start()
            try:
                done = _replay(p)
            finally:
                stop.set()
                writer.join()
            assert done.returncode == 0, done.stderr[-3000:]
            lines = done.stdout.splitlines()
            assert [line.split(":")[0] for line in lines] == [ctx.name for ctx in CONTEXTS], done.stdout
            assert all(re.search(r": \d+ events projected into ", line) for line in lines), done.stdout
            assert "ev/s" in done.stderr, "the progress bars tell the rate"
            assert made, "teams were created while the replay ran"

            p.wait_drained()
            after = _snapshot(store)
            for table in _tables():
                if table != "entities":
                    assert after[table] == before[table], table
            # entities: a record is as it was, or changed since (a newer version: the owner joins
            # each team made meanwhile); the records added are those teams.
            was = {(row[0], row[2]): row for row in before["entities"]}
            now = {(row[0], row[2]): row for row in after["entities"]}
            for record, row in was.items():
                assert now[record] == row or now[record][5] > row[5], record
            assert {now[r][0] for r in now.keys() - was.keys()} == {"team"}
            assert {now[r][4] for r in now.keys() - was.keys()} == set(made), "every team made meanwhile is there"
            for slug in made:
                _ok(http.get(f"/api/0/teams/{ORG}/{slug}/"), 200)
            assert store.query("SELECT name FROM system.tables WHERE database = 'picket'"
                               " AND endsWith(name, '__replay')") == []
        finally:
            store.close()
