"""The release workflow of the real `sentry-cli` (from PyPI) against a running Picket: each
command's output, and what the API (checked against the reference contract) says afterwards."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import sentry_sdk
from sentry_sdk.envelope import Envelope, Item, PayloadRef

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


def _capture(picket: PicketProcess, release: str, message: str) -> None:
    sentry_sdk.init(dsn=picket.dsn, release=release, default_integrations=False, auto_session_tracking=False)
    try:
        sentry_sdk.capture_message(message)
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()


def _issue(picket: PicketProcess, message: str, check=lambda issue: True) -> dict:
    """The issue titled `message` once `check` holds of it (its detail)."""
    deadline = time.monotonic() + 60
    with picket.client() as client:
        while True:
            found = [i for i in call(client, "GET", f"/api/0/projects/{picket.org}/default/issues/").json()
                     if i["title"] == message]
            if found:
                detail = call(client, "GET", f"/api/0/issues/{found[0]['id']}/").json()
                if check(detail):
                    return detail
            assert time.monotonic() < deadline, f"no issue {message!r} as expected"
            time.sleep(0.5)


def test_an_sdk_event_creates_its_release_and_the_issue_shows_its_releases(picket: PicketProcess) -> None:
    """As Sentry's ingestion: the first event of an unknown release creates it with the event's
    project; the issue's firstRelease and lastRelease are the releases of its first and latest
    events, with what the project's events say of them."""
    old, new = f"auto-{uuid.uuid4().hex[:8]}", f"auto-next-{uuid.uuid4().hex[:8]}"
    message = f"auto release {old}"
    _capture(picket, old, message)
    deadline = time.monotonic() + 60
    with picket.client() as client:
        while (listed := call(client, "GET", f"/api/0/organizations/{picket.org}/releases/",
                              params={"query": old}).json()) == [] and time.monotonic() < deadline:
            time.sleep(0.5)
    assert [r["version"] for r in listed] == [old]
    assert [p["slug"] for p in listed[0]["projects"]] == ["default"]
    assert _release(picket, old)["status"] == "open"

    _capture(picket, new, message)
    detail = _issue(picket, message, lambda d: (d["lastRelease"] or {}).get("version") == new
                    and d["firstRelease"]["newGroups"] == 1)
    assert detail["firstRelease"]["version"] == old and detail["firstRelease"]["projects"][0]["slug"] == "default"
    assert detail["firstRelease"]["firstEvent"] is not None and detail["lastRelease"]["newGroups"] == 0
    assert old in _cli(picket, "releases", "info", old).stdout


def test_resolved_in_next_release_is_listed_by_the_release_after(picket: PicketProcess) -> None:
    """`resolvedInNextRelease` counts from the project's latest release at that moment: the
    release made after it lists the issue as resolved; neither that one nor others do."""
    current, following = f"nxt-a-{uuid.uuid4().hex[:8]}", f"nxt-b-{uuid.uuid4().hex[:8]}"
    message = f"next release event {current}"
    org, project = f"/api/0/organizations/{picket.org}", f"/api/0/projects/{picket.org}/default"
    with picket.client() as client:
        assert call(client, "POST", f"{org}/releases/", json={"version": current, "projects": ["default"]}).status_code == 201
        _capture(picket, current, message)
        issue = _issue(picket, message)
        resolved = call(client, "PUT", f"/api/0/issues/{issue['id']}/", json={"status": "resolvedInNextRelease"})
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["statusDetails"]["inNextRelease"] is True
        assert call(client, "GET", f"{project}/releases/{current}/resolved/").json() == []
        assert call(client, "POST", f"{org}/releases/", json={"version": following, "projects": ["default"]}).status_code == 201
        listed = call(client, "GET", f"{project}/releases/{following}/resolved/").json()
        assert [i["id"] for i in listed] == [issue["id"]]
        assert call(client, "GET", f"{project}/releases/{current}/resolved/").json() == []


def test_release_seen_in_events(picket: PicketProcess) -> None:
    """firstEvent, lastEvent and newGroups come from the event stream; the project shows its
    latest release; a release issues were first seen in cannot be deleted."""
    version = f"seen-{uuid.uuid4().hex[:8]}"
    _cli(picket, "releases", "new", version)
    _capture(picket, version, f"release event {version}")
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
        # a sort made outside the store pages the same way: its order across pages, whole releases
        semver_pages = [call(client, "GET", f"{org}/releases/",
                             params={"query": tag, "sort": "semver", "per_page": 3, "cursor": f"3:{n}:0"})
                        for n in (0, 1)]
        assert [[r["version"].split("@")[1] for r in page.json()] for page in semver_pages] == \
            [["2.0.0", "1.10.0", "1.2.3"], ["1.2.3-rc1"]]
        assert 'rel="next"; results="true"' in semver_pages[0].headers["Link"]
        assert 'rel="next"; results="false"' in semver_pages[1].headers["Link"]
        assert semver_pages[1].json()[0]["projects"][0]["slug"] == "default"
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
        _capture(picket, first, message)
        issues = [_issue(picket, message)]
        assert call(client, "GET", f"{project}/releases/{fixed}/resolved/").json() == []
        resolved = call(client, "PUT", f"/api/0/issues/{issues[0]['id']}/",
                        json={"status": "resolved", "statusDetails": {"inRelease": fixed}})
        assert resolved.status_code == 200, resolved.text
        listed = call(client, "GET", f"{project}/releases/{fixed}/resolved/").json()
        assert [i["id"] for i in listed] == [issues[0]["id"]]
        assert call(client, "GET", f"{project}/releases/{first}/resolved/").json() == []
        assert call(client, "GET", f"/api/0/projects/{picket.org}/default/releases/no-such/resolved/").status_code == 404


def test_release_lists_sort_by_release_health(picket: PicketProcess) -> None:
    """sort=sessions|users|crash_free_sessions|crash_free_users: the releases with sessions in
    the summary period, by that figure; only with flatten=1, as Sentry; hasHealthData marks the
    projects that received sessions of the release."""
    tag = uuid.uuid4().hex[:8]
    many, few, none = f"hl-many-{tag}", f"hl-few-{tag}", f"hl-none-{tag}"
    org = f"/api/0/organizations/{picket.org}"
    project_id = picket.dsn.rsplit("/", 1)[1]
    key = picket.dsn.split("//")[1].split("@")[0]
    minute = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime())
    with picket.client() as client:
        for version in (many, few, none):
            assert call(client, "POST", f"{org}/releases/", json={"version": version, "projects": ["default"]}).status_code == 201
        # many: 10 sessions, 5 crashed (crash free 0.5); few: 2 sessions, none crashed (1.0)
        for version, exited, crashed in ((many, 5, 5), (few, 2, 0)):
            env = Envelope(headers={"sent_at": f"{minute[:-1]}.{tag[:3]}Z"})
            env.add_item(Item(type="sessions", payload=PayloadRef(json={
                "attrs": {"release": version, "environment": "prod"},
                "aggregates": [{"started": minute, "exited": exited, "crashed": crashed}]})))
            sent = httpx.post(f"{picket.url}/api/{project_id}/envelope/?sentry_key={key}", content=env.serialize())
            assert sent.status_code == 200

        def listed(sort: str) -> list[str]:
            answer = call(client, "GET", f"{org}/releases/", params={"query": "hl-", "sort": sort, "flatten": "1",
                                                                      "summaryStatsPeriod": "24h"})
            assert answer.status_code == 200, answer.text
            return [r["version"] for r in answer.json() if tag in r["version"]]

        deadline = time.monotonic() + 60
        while listed("sessions") != [many, few] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert listed("sessions") == [many, few]  # the release without sessions is left out
        assert listed("crash_free_sessions") == [few, many]
        assert sorted(listed("users")) == sorted([many, few])  # 0 users each (aggregates carry none), still listed
        by_date = call(client, "GET", f"{org}/releases/", params={"query": f"-{tag}"}).json()
        health = {r["version"]: r["projects"][0]["hasHealthData"] for r in by_date}
        assert health == {many: True, few: True, none: False}
        for params in ({"sort": "sessions"}, {"sort": "sessions", "flatten": "1", "summaryStatsPeriod": "5d"},
                       {"sort": "bogus"}):
            refused = call(client, "GET", f"{org}/releases/", params=params)
            assert refused.status_code == 400 and refused.json()["detail"], params
