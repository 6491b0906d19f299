"""Uploads against a running Picket: release files and dSYMs by raw multipart (checked against
the reference contract), the chunk-upload protocol by raw HTTP, and the real `sentry-cli`
(`debug-files upload`) — what each answers, and what the API then returns."""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
import subprocess
import time
import uuid
import zipfile
from pathlib import Path

import boto3
import httpx
import pytest

from tests.e2e.test_sentry_cli_releases import _cli
from tests.support.api import call
from tests.support.picket import PicketProcess
from tests.support.s3_server import s3_server

C_PROGRAM = "int answer(void) { return 42; }\nint main(void) { return answer() - 42; }\n"


def _release(picket: PicketProcess) -> str:
    version = f"files-{uuid.uuid4().hex[:8]}"
    with picket.client() as client:
        created = call(client, "POST", f"/api/0/organizations/{picket.org}/releases/",
                       json={"version": version, "projects": ["default"]})
    assert created.status_code == 201
    return version


def _elf(tmp_path: Path, name: str = "answer") -> Path:
    source = tmp_path / f"{name}.c"
    source.write_text(C_PROGRAM)
    out = tmp_path / name
    subprocess.run(["cc", "-g", "-O0", "-Wl,--build-id=sha1", "-o", str(out), str(source)], check=True)
    return out


def test_release_files_upload_list_download_rename_delete(picket: PicketProcess) -> None:
    version = _release(picket)
    org_files = f"/api/0/organizations/{picket.org}/releases/{version}/files/"
    project_files = f"/api/0/projects/{picket.org}/default/releases/{version}/files/"
    content = b"function f(){throw new Error('x')}\n//# sourceMappingURL=app.min.js.map\n" * 100
    form = {"name": "~/static/app.min.js", "dist": "web", "header": "Sourcemap: app.min.js.map"}
    with picket.client() as client:
        created = call(client, "POST", org_files, data=form, files={"file": ("app.min.js", content, "text/javascript")})
        assert created.status_code == 201, created.text
        made = created.json()
        assert (made["name"], made["dist"], made["size"]) == ("~/static/app.min.js", "web", len(content))
        assert made["sha1"] == hashlib.sha1(content).hexdigest()
        assert made["headers"] == {"Content-Type": "text/javascript", "Sourcemap": "app.min.js.map"}
        # the same name and dist again: 409; another dist is another file
        again = call(client, "POST", org_files, data=form, files={"file": ("app.min.js", b"other", "text/plain")})
        assert again.status_code == 409 and "already exists" in again.json()["detail"]
        other = call(client, "POST", project_files, data={**form, "dist": "ios"}, files={"file": ("a.js", b"x")})
        assert other.status_code == 201

        assert sorted(f["dist"] for f in call(client, "GET", org_files).json()) == ["ios", "web"]
        assert len(call(client, "GET", project_files).json()) == 2
        detail = call(client, "GET", f"{org_files}{made['id']}/").json()
        assert detail == made
        download = client.get(f"{project_files}{made['id']}/", params={"download": "1"})
        assert download.status_code == 200 and download.content == content
        assert "attachment" in download.headers["content-disposition"]

        renamed = call(client, "PUT", f"{project_files}{made['id']}/", json={"name": "~/static/renamed.js"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "~/static/renamed.js"
        assert renamed.json()["dist"] == "web"
        assert call(client, "GET", f"{org_files}{made['id']}/").json()["name"] == "~/static/renamed.js"
        clash = call(client, "PUT", f"{org_files}{other.json()['id']}/", json={"name": "~/static/renamed.js",
                                                                               "dist": "web"})
        assert clash.status_code == 409

        assert call(client, "DELETE", f"{org_files}{made['id']}/").status_code == 204
        assert call(client, "GET", f"{org_files}{made['id']}/").status_code == 404
        assert call(client, "DELETE", f"{org_files}{made['id']}/").status_code == 404
        assert [f["dist"] for f in call(client, "GET", org_files).json()] == ["ios"]


def test_a_deleted_release_takes_its_files_but_not_those_of_the_release_made_again(picket: PicketProcess) -> None:
    version = _release(picket)
    org_files = f"/api/0/organizations/{picket.org}/releases/{version}/files/"
    with picket.client() as client:
        old = call(client, "POST", org_files, data={"name": "~/old.js"}, files={"file": ("old.js", b"old")})
        assert old.status_code == 201
        assert call(client, "DELETE", f"/api/0/organizations/{picket.org}/releases/{version}/").status_code == 204
        assert call(client, "GET", org_files).status_code == 404
        # The same version again at once, a file uploaded to it, before the cleanup may have run.
        again = call(client, "POST", f"/api/0/organizations/{picket.org}/releases/",
                     json={"version": version, "projects": ["default"]})
        assert again.status_code == 201
        new = call(client, "POST", org_files, data={"name": "~/new.js"}, files={"file": ("new.js", b"new")})
        assert new.status_code == 201
        picket.wait_drained(groups=("release-files-cleanup", "artifacts-projector"), timeout=60)
        assert [f["name"] for f in call(client, "GET", org_files).json()] == ["~/new.js"]
        assert call(client, "GET", f"{org_files}{old.json()['id']}/").status_code == 404
        # The old file's name is free again: it is gone, not hidden.
        reused = call(client, "POST", org_files, data={"name": "~/old.js"}, files={"file": ("old.js", b"old 2")})
        assert reused.status_code == 201, reused.text


@pytest.mark.parametrize(("data", "files", "status", "detail"), [
    ({"name": "x.js"}, None, 400, "Missing uploaded file"),
    ({}, {"file": ("file", b"x")}, 400, "File name must be specified"),
    ({"name": "a\tb.js"}, {"file": ("a.js", b"x")}, 400, "special whitespace"),
    ({"name": "a.js", "header": "no colon"}, {"file": ("a.js", b"x")}, 400, "not formatted correctly"),
])
def test_bad_release_file_uploads_are_4xx_with_a_detail(picket: PicketProcess, data: dict, files: dict | None,
                                                        status: int, detail: str) -> None:
    version = _release(picket)
    path = f"/api/0/organizations/{picket.org}/releases/{version}/files/"
    with picket.client() as client:
        answer = call(client, "POST", path, data=data, files=files or {"other": ("x", b"x")})
        assert answer.status_code == status and detail in answer.json()["detail"]
        assert call(client, "GET", path).json() == []  # nothing partial was kept


def test_release_file_paths_answer_404_401_and_refuse_other_bodies(picket: PicketProcess) -> None:
    version = _release(picket)
    path = f"/api/0/organizations/{picket.org}/releases/{version}/files/"
    with picket.client() as client:
        assert call(client, "GET", f"/api/0/organizations/{picket.org}/releases/nope/files/").status_code == 404
        assert call(client, "GET", f"{path}123/").status_code == 404
        assert call(client, "GET", f"{path}abc/").status_code == 404
        not_form = call(client, "POST", path, json={"name": "x"})
        assert not_form.status_code == 400 and "multipart" in not_form.json()["detail"]
        broken = client.post(path, content=b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nab",
                             headers={"Content-Type": "multipart/form-data; boundary=x"})
        assert broken.status_code == 400 and broken.json()["detail"]
        assert call(client, "GET", path).json() == []
    assert httpx.get(f"{picket.url}{path}").status_code == 401


def _chunk_upload(picket: PicketProcess, client: httpx.Client, chunks: dict[str, bytes], *, gzipped: bool = False) -> httpx.Response:
    field = "file_gzip" if gzipped else "file"
    parts = [(field, (name, gzip.compress(data) if gzipped else data, "application/octet-stream"))
             for name, data in chunks.items()]
    return client.post(f"/api/0/organizations/{picket.org}/chunk-upload/", files=parts)


def _bundle(files: dict[str, bytes], manifest: dict | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        if manifest is not None:
            zf.writestr("manifest.json", __import__("json").dumps(manifest))
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def _assemble(picket: PicketProcess, client: httpx.Client, data: bytes, **extra: object) -> dict:
    checksum = hashlib.sha1(data).hexdigest()
    body = {"checksum": checksum, "chunks": [checksum], "projects": ["default"], **extra}
    answer = client.post(f"/api/0/organizations/{picket.org}/artifactbundle/assemble/", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _until_done(picket: PicketProcess, client: httpx.Client, data: bytes, **extra: object) -> dict:
    deadline = time.monotonic() + 60
    while (state := _assemble(picket, client, data, **extra))["state"] not in ("ok", "error"):
        assert time.monotonic() < deadline, f"assembly never finished: {state}"
        time.sleep(0.3)
    return state


def test_chunk_upload_and_bundle_assembly(picket: PicketProcess) -> None:
    with picket.client() as client:
        options = call(client, "GET", f"/api/0/organizations/{picket.org}/chunk-upload/").json()
        assert options["hashAlgorithm"] == "sha1" and options["chunkSize"] >= 1024 * 1024
        assert options["url"].endswith(f"/organizations/{picket.org}/chunk-upload/")
        manifest = {"files": {"files/_/_/app.min.js": {"type": "minified_source", "url": "~/app.min.js",
                                                         "headers": {"Sourcemap": "app.min.js.map"}}}}
        bundle = _bundle({"files/_/_/app.min.js": b"function a(){}" + uuid.uuid4().bytes.hex().encode()}, manifest)
        checksum = hashlib.sha1(bundle).hexdigest()

        first = _assemble(picket, client, bundle)
        assert first == {"state": "not_found", "missingChunks": [checksum], "detail": None}
        wrong = _chunk_upload(picket, client, {checksum: bundle + b"!"})
        assert wrong.status_code == 400 and "mismatch" in wrong.json()["detail"].lower()
        assert _assemble(picket, client, bundle)["state"] == "not_found"  # the bad chunk was not kept
        assert _chunk_upload(picket, client, {checksum: bundle}, gzipped=True).status_code == 200
        assert _until_done(picket, client, bundle)["state"] == "ok"
        assert _assemble(picket, client, bundle)["state"] == "ok"  # again: ok at once

        bad_name = _chunk_upload(picket, client, {"../../etc/passwd": b"x"})
        assert bad_name.status_code == 400 and bad_name.json()["detail"]
        unknown = client.post(f"/api/0/organizations/{picket.org}/artifactbundle/assemble/",
                              json={"checksum": checksum, "chunks": [checksum], "projects": ["nope"]})
        assert unknown.status_code == 400 and unknown.json()["detail"] == "One or more projects are invalid"


@pytest.mark.parametrize(("files", "manifest", "detail"), [
    ({"x.js": b"x"}, None, "manifest"),
    ({"../evil.js": b"x"}, {"files": {"../evil.js": {"type": "source", "url": "~/evil.js"}}}, "outside"),
    ({"big.js": b"\0" * (64 * 1024 * 1024)}, {"files": {"big.js": {"type": "source", "url": "~/big.js"}}}, "expands"),
    ({"a.js": b"x"}, {"files": {"missing.js": {"type": "source", "url": "~/m.js"}}}, "missing.js"),
])
def test_hostile_bundles_end_in_error_with_a_detail(picket: PicketProcess, files: dict, manifest: dict | None,
                                                    detail: str) -> None:
    bundle = _bundle({**files, f"salt-{uuid.uuid4().hex}": b""}, manifest)
    checksum = hashlib.sha1(bundle).hexdigest()
    with picket.client() as client:
        assert _chunk_upload(picket, client, {checksum: bundle}).status_code == 200
        state = _until_done(picket, client, bundle)
    assert state["state"] == "error" and detail in state["detail"], state


def test_sentry_cli_debug_files_upload_and_dsyms(picket: PicketProcess, tmp_path: Path) -> None:
    elf = _elf(tmp_path)
    out = _cli(picket, "debug-files", "upload", "--wait", str(elf))
    assert "answer" in out.stdout + out.stderr
    dsyms = f"/api/0/projects/{picket.org}/default/files/dsyms/"
    with picket.client() as client:
        listed = call(client, "GET", dsyms).json()
        mine = [f for f in listed if f["sha1"] == hashlib.sha1(elf.read_bytes()).hexdigest()]
        assert len(mine) == 1, listed
        dif = mine[0]
        assert (dif["objectName"], dif["cpuName"], dif["symbolType"]) == ("answer", "x86_64", "elf")
        assert {"debug", "symtab"} <= set(dif["data"]["features"])
        assert dif["debugId"] in out.stdout + out.stderr or dif["debugId"][:36] in out.stdout + out.stderr
        assert [f["id"] for f in call(client, "GET", dsyms, params={"query": dif["debugId"][:8]}).json()] == [dif["id"]]
        download = client.get(dsyms, params={"id": dif["id"]})
        assert download.status_code == 200 and download.content == elf.read_bytes()

        # a zip of two objects through the seed's upload; garbage is a 400
        second = _elf(tmp_path, "second")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zf:
            zf.write(second, "second")
            zf.writestr("README", "not a debug file")
        uploaded = call(client, "POST", dsyms, files={"file": ("symbols.zip", archive.getvalue())})
        assert uploaded.status_code == 201, uploaded.text
        assert [f["objectName"] for f in uploaded.json()] == ["second"]
        garbage = call(client, "POST", dsyms, files={"file": ("junk", uuid.uuid4().bytes * 100)})
        assert garbage.status_code == 400 and "debug information file" in garbage.json()["detail"]
        missing = call(client, "POST", dsyms, files={"other": ("x", b"x")})
        assert missing.status_code == 400

        # paged newest first by the store; `debug_id` (any case) picks files
        made = uploaded.json()[0]
        everything = call(client, "GET", dsyms).json()
        assert len(everything) >= 2 and everything[0]["id"] == made["id"]
        first = call(client, "GET", dsyms, params={"per_page": 1})
        assert [f["id"] for f in first.json()] == [made["id"]]
        assert 'rel="next"; results="true"' in first.headers["Link"]
        second_page = call(client, "GET", dsyms, params={"per_page": 1, "cursor": "1:1:0"}).json()
        assert [f["id"] for f in second_page] == [everything[1]["id"]]
        picked = call(client, "GET", dsyms, params=[("debug_id", dif["debugId"].upper()), ("debug_id", "f" * 32)])
        assert [f["id"] for f in picked.json()] == [dif["id"]]

        assert call(client, "DELETE", dsyms, params={"id": dif["id"]}).status_code == 204
        assert dif["id"] not in [f["id"] for f in call(client, "GET", dsyms).json()]
        assert call(client, "DELETE", dsyms, params={"id": dif["id"]}).status_code == 404


def test_a_picket_on_an_s3_store_keeps_uploads_there(kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The scaled-out shape: gateway and worker share an S3-compatible store (the worker makes
    the bucket); a release file and a debug file go through it and come back whole."""
    with s3_server() as endpoint:
        env = {"PICKET_BLOB_STORE": f"s3://picket-blobs/uploads?endpoint={endpoint}&region=us-east-1",
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
        p = PicketProcess(kafka.bootstrap, tmp_path / "picket", env=env).start()
        try:
            version = _release(p)
            content = uuid.uuid4().bytes * 1000
            files_path = f"/api/0/organizations/{p.org}/releases/{version}/files/"
            with p.client() as client:
                made = call(client, "POST", files_path, data={"name": "~/a.js"}, files={"file": ("a.js", content)})
                assert made.status_code == 201, made.text
                download = client.get(f"{files_path}{made.json()['id']}/", params={"download": "1"})
                assert download.content == content
            out = _cli(p, "debug-files", "upload", "--wait", str(_elf(tmp_path)))
            assert out.returncode == 0
            s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="picket-blobs").get("Contents", [])]
            assert f"uploads/{hashlib.sha1(content).hexdigest()}" in keys
            assert not (tmp_path / "picket" / "blobs").exists()  # nothing went to the local directory
        finally:
            p.stop()


@pytest.mark.parametrize("body", [
    {"checksum": "A" * 40, "chunks": [], "projects": ["default"]},
    {"checksum": "a" * 40, "chunks": ["../x"], "projects": ["default"]},
    {"checksum": "a" * 40, "chunks": ["a" * 40] * 100_000, "projects": ["default"]},
    {"checksum": "a" * 40, "chunks": "a" * 40, "projects": ["default"]},
    {"checksum": "a" * 40, "chunks": [], "projects": []},
    {"checksum": "a" * 40, "chunks": [], "projects": ["default"], "version": "a/b"},
    {"checksum": 2 ** 70, "chunks": []},
])
def test_bad_assemble_requests_are_400(picket: PicketProcess, body: dict) -> None:
    with picket.client() as client:
        answer = call(client, "POST", f"/api/0/organizations/{picket.org}/artifactbundle/assemble/", json=body)
    assert answer.status_code in (400, 413) and answer.json()["detail"]


@pytest.mark.parametrize("body", [
    {"a" * 40: {"name": "x", "chunks": ["nope"]}},
    {"not-a-checksum": {"name": "x", "chunks": []}},
    {"a" * 40: {"name": "", "chunks": []}},
    {"a" * 40: {"chunks": []}},
    [],
])
def test_bad_dif_assemble_requests_are_400(picket: PicketProcess, body: object) -> None:
    with picket.client() as client:
        answer = call(client, "POST", f"/api/0/projects/{picket.org}/default/files/difs/assemble/", json=body)
    assert answer.status_code == 400 and answer.json()["detail"]


def test_a_chunk_request_over_the_advertised_size_is_413_before_it_is_read(picket: PicketProcess) -> None:
    """Only the headers are sent: the answer comes without the body being read."""
    with picket.client() as client:
        limit = call(client, "GET", f"/api/0/organizations/{picket.org}/chunk-upload/").json()["maxRequestSize"]
    host, port = picket.url.removeprefix("http://").split(":")
    head = (f"POST /api/0/organizations/{picket.org}/chunk-upload/ HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {picket.token}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {limit + 2 * 1024 * 1024}\r\n\r\n--x\r\n")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())
        received = b""
        while b'"detail"' not in received:  # headers and body may come in separate reads
            block = sock.recv(65536)
            if not block:
                break
            received += block
        answer = received.decode(errors="replace")
    status_line, _, rest = answer.partition("\r\n")
    assert " 413 " in status_line, answer
    assert "connection: close" in rest.lower() and '"detail"' in rest
