"""The release workflow of the real `sentry-cli` (from PyPI) against a running Picket: each
command's output, and what the API (checked against the reference contract) says afterwards."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import sentry_sdk

from tests.e2e.test_sentry_cli import _sentry_cli
from tests.support.api import call
from tests.support.picket import PicketProcess


def _cli(picket: PicketProcess, *args: str, project: bool = True, cwd: Path | None = None,
         ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(picket.data_dir),
        "SENTRY_URL": picket.url, "SENTRY_AUTH_TOKEN": picket.token, "SENTRY_ORG": picket.org,
        "SENTRY_HTTP_MAX_RETRIES": "0", "SENTRY_LOAD_DOTENV": "0", "SENTRY_DISABLE_UPDATE_CHECK": "1",
        "RUST_BACKTRACE": "0",
    }
    if project:
        env["SENTRY_PROJECT"] = "default"
    out = subprocess.run([_sentry_cli(), *args], env=env, capture_output=True, text=True, timeout=60, cwd=cwd)
    if ok:
        assert out.returncode == 0, f"sentry-cli {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out


def _release(picket: PicketProcess, version: str) -> dict:
    with picket.client() as client:
        found = call(client, "GET", f"/api/0/organizations/{picket.org}/releases/{version.replace('+', '%2B')}/")
    assert found.status_code == 200, found.text
    return found.json()


def test_new_list_info_finalize_archive_restore_delete(picket: PicketProcess) -> None:
    version = f"web@1.2.3+{uuid.uuid4().hex[:8]}"
    assert f"Created release {version}" in _cli(picket, "releases", "new", version).stdout
    again = _cli(picket, "releases", "new", version)  # exists: answered 208, still a success
    assert f"Created release {version}" in again.stdout
    release = _release(picket, version)
    assert release["shortVersion"] == version.split("@", 1)[1]
    assert [p["slug"] for p in release["projects"]] == ["default"]
    assert release["dateReleased"] is None

    assert version in _cli(picket, "releases", "list").stdout  # the project's list
    assert version in _cli(picket, "releases", "list", "-P", project=False).stdout  # the organization's
    assert version in _cli(picket, "releases", "info", version).stdout

    assert f"Finalized release {version}" in _cli(picket, "releases", "finalize", version).stdout
    assert _release(picket, version)["dateReleased"] is not None

    assert f"Archived release {version}" in _cli(picket, "releases", "archive", version).stdout
    assert _release(picket, version)["status"] == "archived"
    assert version not in _cli(picket, "releases", "list", "-R").stdout  # lists show open releases
    assert f"Restored release {version}" in _cli(picket, "releases", "restore", version).stdout
    assert version in _cli(picket, "releases", "list", "-R").stdout

    assert f"Deleted release {version}!" in _cli(picket, "releases", "delete", version).stdout
    with picket.client() as client:
        gone = call(client, "GET", f"/api/0/organizations/{picket.org}/releases/{version.replace('+', '%2B')}/")
    assert gone.status_code == 404
    assert "Did nothing" in _cli(picket, "releases", "delete", version).stdout


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_set_commits_local_range_and_clear(picket: PicketProcess, tmp_path: Path) -> None:
    version = f"commits-{uuid.uuid4().hex[:8]}"
    _cli(picket, "releases", "new", version)
    repo = tmp_path / "app"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "jane@example.com")
    _git(repo, "config", "user.name", "Jane Dev")
    (repo / "a.txt").write_text("a\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    (repo / "b.txt").write_text("b\n")
    (repo / "a.txt").write_text("a2\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "second")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()

    local = _cli(picket, "releases", "set-commits", version, "--local", cwd=repo)
    assert f"Success! Set commits for release {version}" in local.stdout
    release = _release(picket, version)
    assert release["commitCount"] == 2
    assert release["lastCommit"]["id"] == head
    assert release["authors"] == [{"name": "Jane Dev", "email": "jane@example.com"}]
    assert head in _cli(picket, "releases", "info", version, "-C").stdout
    with picket.client() as client:
        files = call(client, "GET", f"/api/0/organizations/{picket.org}/releases/{version}/commitfiles/").json()
        repos = call(client, "GET", f"/api/0/organizations/{picket.org}/repos/").json()
    assert sorted((f["filename"], f["type"]) for f in files) == [("a.txt", "A"), ("a.txt", "M"), ("b.txt", "A")]
    # sentry-cli names the repository after the git remote it read ("origin" without one).
    assert [r["name"] for r in repos] == ["origin"]
    assert "origin" in _cli(picket, "repos", "list").stdout

    ranged = _cli(picket, "releases", "set-commits", version, "--commit", "origin@abc123..def456")
    assert "abc123 -> def456" in ranged.stdout
    assert _release(picket, version)["lastCommit"]["id"] == "def456"  # the range's head stands for it
    with picket.client() as client:
        commits = call(client, "GET", f"/api/0/organizations/{picket.org}/repos/{repos[0]['id']}/commits/").json()
    assert {c["id"] for c in commits} >= {head, "def456"}

    assert "Clearing commits" in _cli(picket, "releases", "set-commits", version, "--clear").stdout
    assert _release(picket, version)["commitCount"] == 0
    assert "-" in _cli(picket, "releases", "info", version, "-C").stdout


def test_deploys_new_list_and_delete_refused(picket: PicketProcess) -> None:
    version = f"deploy-{uuid.uuid4().hex[:8]}"
    _cli(picket, "releases", "new", version)
    made = _cli(picket, "deploys", "new", "-r", version, "-e", "production", "-n", "blue", "--url",
                "https://deploy.example/1", "-t", "10")
    assert "Created new deploy blue for 'production'" in made.stdout
    assert "Created new deploy unnamed for 'staging'" in _cli(picket, "deploys", "new", "-r", version, "-e",
                                                              "staging").stdout
    listed = _cli(picket, "deploys", "list", "-r", version).stdout
    assert "production" in listed and "staging" in listed and "blue" in listed
    release = _release(picket, version)
    assert release["deployCount"] == 2
    assert release["lastDeploy"]["environment"] == "staging"
    refused = _cli(picket, "releases", "delete", version, ok=False)
    assert refused.returncode == 1 and "has deploys and cannot be removed" in refused.stderr


def test_release_seen_in_events(picket: PicketProcess) -> None:
    """firstEvent, lastEvent and newGroups come from the event stream; the project shows its
    latest release; a release issues were first seen in cannot be deleted."""
    version = f"seen-{uuid.uuid4().hex[:8]}"
    _cli(picket, "releases", "new", version)
    sentry_sdk.init(dsn=picket.dsn, release=version, default_integrations=False, auto_session_tracking=False)
    try:
        sentry_sdk.capture_message(f"release event {version}")
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()
    deadline = time.monotonic() + 60
    release = _release(picket, version)
    # the issue and the event are written by separate inserts: wait for both views
    while (release["newGroups"] == 0 or release["lastEvent"] is None) and time.monotonic() < deadline:
        time.sleep(0.5)
        release = _release(picket, version)
    assert release["newGroups"] == 1
    assert release["firstEvent"] is not None and release["lastEvent"] is not None
    assert release["projects"][0]["newGroups"] == 1
    with picket.client() as client:
        project = call(client, "GET", f"/api/0/projects/{picket.org}/default/").json()
    assert project["latestRelease"]["version"] == version
    refused = _cli(picket, "releases", "delete", version, ok=False)
    assert "referenced by active issues" in refused.stderr


def test_bad_release_input_is_a_400_with_a_detail(picket: PicketProcess) -> None:
    """Hostile bodies never reach the releases agent: each is refused with Sentry's
    `{"detail": ...}` (the contract check of `call` asserts the shape), and nothing is created."""
    org = f"/api/0/organizations/{picket.org}"
    bad_bodies = [
        {"version": "a/b", "projects": ["default"]},
        {"version": "latest", "projects": ["default"]},
        {"version": "x" * 201, "projects": ["default"]},
        {"version": "bad\x00nul", "projects": ["default"]},
        {"version": " padded", "projects": ["default"]},
        {"version": "ok-1", "projects": ["no-such-project"]},
        {"version": "ok-2", "projects": "default"},
        {"version": 12, "projects": ["default"]},
        {"version": "ok-3", "projects": ["default"], "commits": [{"message": "no id"}]},
        {"version": "ok-4", "projects": ["default"], "commits": [{"id": "a", "patch_set": [{"path": "p", "type": "X"}]}]},
        {"version": "ok-5", "projects": ["default"], "commits": [{"id": "a", "author_email": "not-an-email"}]},
        {"version": "ok-6", "projects": ["default"], "commits": [{"id": "a", "timestamp": "9999-01-01T00:00:00Z"}]},
        {"version": "ok-7", "projects": ["default"], "commits": [{"id": "a" * 65}]},
        {"version": "ok-8", "projects": ["default"], "refs": [{"repository": "r"}]},
        {"version": "ok-9", "projects": ["default"], "dateReleased": "yesterday"},
        {"version": "ok-10", "projects": ["default"], "status": "deleted"},
        {"version": "ok-11", "projects": [2**70]},
    ]
    with picket.client() as client:
        for body in bad_bodies:
            answer = call(client, "POST", f"{org}/releases/", json=body)
            assert answer.status_code == 400, (body, answer.text)
        deep = b'{"version": "deep", "projects": ["default"], "commits": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
        assert call(client, "POST", f"{org}/releases/", content=deep,
                    headers={"Content-Type": "application/json"}).status_code == 400
        assert call(client, "POST", f"{org}/releases/", content=b'{"version": "\\ud800", "projects": []}',
                    headers={"Content-Type": "application/json"}).status_code == 400
        listed = call(client, "GET", f"{org}/releases/", params={"query": "ok-", "status": "any"}).json()
        assert listed == []

        version = f"deploys-{uuid.uuid4().hex[:8]}"
        assert call(client, "POST", f"{org}/releases/", json={"version": version, "projects": ["default"]}).status_code == 201
        for deploy in ({}, {"environment": ""}, {"environment": "a/b"}, {"environment": "x" * 65},
                       {"environment": "prod", "dateFinished": "0000-01-01"}, {"environment": "prod", "projects": ["nope"]}):
            answer = call(client, "POST", f"{org}/releases/{version}/deploys/", json=deploy)
            assert answer.status_code == 400, (deploy, answer.text)
        once = {"environment": "prod", "dateFinished": "2026-12-01T10:00:00Z"}
        assert call(client, "POST", f"{org}/releases/{version}/deploys/", json=once).status_code == 201
        # the same deploy again (a client's retry) is answered 208 and not counted twice
        assert call(client, "POST", f"{org}/releases/{version}/deploys/", json=once).status_code == 208
        assert len(call(client, "GET", f"{org}/releases/{version}/deploys/").json()) == 1
        assert call(client, "PUT", f"{org}/releases/no-such-release/", json={"ref": "x"}).status_code == 404
        assert call(client, "POST", f"{org}/releases/no-such-release/deploys/", json=once).status_code == 404
        assert call(client, "GET", f"{org}/releases/", params={"sort": "nonsense"}).status_code == 400
        assert call(client, "GET", f"{org}/releases/", params={"project": "9" * 5000}).status_code == 200
        assert call(client, "GET", f"{org}/releases/%01%7F/").status_code == 404


def test_release_lists_filter_sort_and_page(picket: PicketProcess) -> None:
    tag = uuid.uuid4().hex[:6]
    org = f"/api/0/organizations/{picket.org}"
    versions = [f"app{tag}@1.2.3", f"app{tag}@1.10.0", f"app{tag}@1.2.3-rc1", f"app{tag}@2.0.0"]
    with picket.client() as client:
        for v in versions:
            assert call(client, "POST", f"{org}/releases/", json={"version": v, "projects": ["default"]}).status_code == 201
        by_date = call(client, "GET", f"{org}/releases/", params={"query": f"APP{tag}"}).json()
        assert [r["version"] for r in by_date] == versions[::-1]  # case-insensitive, newest first
        by_semver = call(client, "GET", f"{org}/releases/", params={"query": tag, "sort": "semver"}).json()
        assert [r["version"].split("@")[1] for r in by_semver] == ["2.0.0", "1.10.0", "1.2.3", "1.2.3-rc1"]
        first = call(client, "GET", f"{org}/releases/", params={"query": tag, "per_page": 3})
        assert len(first.json()) == 3 and 'rel="next"; results="true"' in first.headers["Link"]
        cursor = first.headers["Link"].split('rel="next"; results="true"; cursor="')[1].split('"')[0]
        second = call(client, "GET", f"{org}/releases/", params={"query": tag, "per_page": 3, "cursor": cursor}).json()
        assert [r["version"] for r in second] == [versions[0]]
        in_project = call(client, "GET", f"/api/0/projects/{picket.org}/default/releases/", params={"query": tag}).json()
        assert len(in_project) == 4
        # the environment filter keeps releases with events in that environment: none here
        assert call(client, "GET", f"{org}/releases/", params={"query": tag, "environment": "prod"}).json() == []


def test_resolved_lists_issues_resolved_in_the_release(picket: PicketProcess) -> None:
    first, fixed = f"res-{uuid.uuid4().hex[:8]}", f"res-fix-{uuid.uuid4().hex[:8]}"
    message = f"resolved event {first}"
    org, project = f"/api/0/organizations/{picket.org}", f"/api/0/projects/{picket.org}/default"
    with picket.client() as client:
        for version in (first, fixed):
            assert call(client, "POST", f"{org}/releases/", json={"version": version, "projects": ["default"]}).status_code == 201
        sentry_sdk.init(dsn=picket.dsn, release=first, default_integrations=False, auto_session_tracking=False)
        try:
            sentry_sdk.capture_message(message)
            sentry_sdk.flush()
        finally:
            sentry_sdk.get_client().close()
            sentry_sdk.init()
        deadline = time.monotonic() + 60
        issues: list = []
        while not issues and time.monotonic() < deadline:
            time.sleep(0.5)
            issues = [i for i in call(client, "GET", f"{project}/issues/", params={"query": ""}).json()
                      if i["title"] == message]
        assert issues, "the event did not become an issue"
        assert call(client, "GET", f"{project}/releases/{fixed}/resolved/").json() == []
        resolved = call(client, "PUT", f"/api/0/issues/{issues[0]['id']}/",
                        json={"status": "resolved", "statusDetails": {"inRelease": fixed}})
        assert resolved.status_code == 200, resolved.text
        listed = call(client, "GET", f"{project}/releases/{fixed}/resolved/").json()
        assert [i["id"] for i in listed] == [issues[0]["id"]]
        assert call(client, "GET", f"{project}/releases/{first}/resolved/").json() == []
        assert call(client, "GET", f"/api/0/projects/{picket.org}/default/releases/no-such/resolved/").status_code == 404
