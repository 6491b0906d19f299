"""Fixtures for end-to-end tests: a Picket with an organization set up for fuzzing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.picket import PicketProcess


@pytest.fixture(scope="session")
def fuzz_target(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(url, token) of a Picket whose organization `fuzz` has team `fuzz-team` and project
    `fuzz-project`, kept apart from other tests since fuzzing renames and deletes things."""
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("fuzz"), org="fuzz").start()
    with proc.client() as http:
        assert http.post("/api/0/organizations/fuzz/teams/", json={"slug": "fuzz-team"}).status_code == 201
        created = http.post("/api/0/teams/fuzz/fuzz-team/projects/", json={"name": "fuzz-project"})
        assert created.status_code == 201
    yield proc.url, proc.token
    proc.stop()
