"""`picket run` on embedded defaults: Tansu broker from the wheel, chdb, one process.

The embedded broker keeps messages in memory only; what the API acknowledged must still be
served after a restart, because state and projections are rebuilt from ClickHouse.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.api import call
from tests.support.picket import PicketProcess


def test_embedded_run_prints_credentials_serves_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    p = PicketProcess(None, tmp_path / "embedded", org="embedded").start()
    try:
        assert p.dsn.startswith("http://") and p.dsn.endswith(tuple("0123456789"))
        with p.client() as http:
            assert [o["slug"] for o in call(http, "GET", "/api/0/organizations/").json()] == ["embedded"]
            call(http, "POST", "/api/0/organizations/embedded/teams/", json={"slug": "survivors"})
            call(http, "POST", "/api/0/teams/embedded/survivors/projects/", json={"name": "Kept"})
        dsn_before = p.dsn
        p.stop()
        p.start()
        assert p.dsn == dsn_before, "the default project and its key are the same after a restart"
        with p.client() as http:
            assert call(http, "GET", "/api/0/teams/embedded/survivors/").status_code == 200
            assert call(http, "GET", "/api/0/projects/embedded/kept/").json()["name"] == "Kept"
            again = http.post("/api/0/organizations/embedded/teams/", json={"slug": "survivors"})
            assert again.status_code == 409, "the agent rebuilt its state: the slug is still taken"
            assert call(http, "POST", "/api/0/organizations/embedded/teams/", json={"slug": "later"}).status_code == 201
    finally:
        p.stop(kill=True)
