"""The blob store contract, held by both backends: a directory, and S3 (moto's real HTTP server,
started once for the session, one fresh bucket a test). Also `open_blob_store`'s URLs."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from picket.blobs.directory import DirectoryBlobStore
from picket.blobs.s3 import S3BlobStore
from picket.blobs.store import BlobMissing, BlobStore, open_blob_store
from tests.support.s3_server import s3_server

REGION = "us-east-1"


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials through the standard environment; no profile or file of the machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION)


def new_bucket(endpoint: str, prefix: str = "") -> S3BlobStore:
    store = S3BlobStore(f"blobs-{uuid.uuid4().hex}", prefix=prefix, endpoint_url=endpoint, region=REGION)
    store.create_bucket_if_missing()
    return store


@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "directory":
        made: BlobStore = DirectoryBlobStore(tmp_path / "blobs")
    else:
        request.getfixturevalue("aws_env")
        made = new_bucket(request.getfixturevalue("s3_endpoint"), prefix="some/prefix")
    yield made
    made.close()


def test_a_put_blob_is_present_and_reads_back(store: BlobStore) -> None:
    data = b"hello blob"
    store.put(sha1(data), data)
    assert store.get(sha1(data)) == data
    assert store.present([sha1(data), sha1(b"other")]) == {sha1(data)}


def test_an_absent_blob_raises_blob_missing_a_key_error(store: BlobStore) -> None:
    with pytest.raises(BlobMissing) as caught:
        store.get(sha1(b"never stored"))
    assert isinstance(caught.value, KeyError)


def test_present_answers_for_many_names_any_iterable_and_nothing_for_nothing(store: BlobStore) -> None:
    names = [sha1(bytes([n])) for n in range(40)]
    for n in range(0, 40, 3):
        store.put(names[n], bytes([n]))
    assert store.present(iter(names)) == set(names[::3])
    assert store.present([names[1], names[1]]) == set()
    assert store.present([names[0]]) == {names[0]}
    assert store.present([]) == set()


def test_delete_removes_only_that_blob_and_deleting_again_is_harmless(store: BlobStore) -> None:
    keep, drop = b"keep", b"drop"
    store.put(sha1(keep), keep)
    store.put(sha1(drop), drop)
    store.delete(sha1(drop))
    store.delete(sha1(drop))
    store.delete(sha1(b"never stored"))
    assert store.present([sha1(keep), sha1(drop)]) == {sha1(keep)}
    with pytest.raises(BlobMissing):
        store.get(sha1(drop))
    assert store.get(sha1(keep)) == keep


def test_putting_the_same_blob_twice_is_harmless(store: BlobStore) -> None:
    data = b"twice"
    store.put(sha1(data), data)
    store.put(sha1(data), data)
    assert store.get(sha1(data)) == data
    assert store.present([sha1(data)]) == {sha1(data)}


def test_an_empty_blob_is_a_blob(store: BlobStore) -> None:
    store.put(sha1(b""), b"")
    assert store.get(sha1(b"")) == b""
    assert store.present([sha1(b"")]) == {sha1(b"")}


@pytest.mark.parametrize("name", ["../etc/passwd", sha1(b"x").upper(), sha1(b"x")[:12]])
def test_every_method_refuses_a_malformed_name(store: BlobStore, name: str) -> None:
    for call in (lambda: store.put(name, b"x"), lambda: store.get(name), lambda: store.present([name]),
                 lambda: store.delete(name)):
        with pytest.raises(ValueError):
            call()


def test_concurrent_puts_of_the_same_blob_leave_it_whole(store: BlobStore) -> None:
    data = os.urandom(1024 * 1024)
    start = threading.Barrier(16)

    def put() -> None:
        start.wait()
        store.put(sha1(data), data)

    with ThreadPoolExecutor(16) as pool:
        for done in [pool.submit(put) for _ in range(16)]:
            done.result()
    assert store.get(sha1(data)) == data


def test_a_reader_never_sees_part_of_a_blob(store: BlobStore) -> None:
    """A writer deletes and puts a blob over and over while readers read it: each read finds no
    blob or all of it."""
    data = os.urandom(4 * 1024 * 1024)
    name = sha1(data)
    stop = threading.Event()
    seen: list[int] = []

    def write() -> None:
        for _ in range(15):
            store.delete(name)
            store.put(name, data)
        stop.set()

    def read() -> None:
        while not stop.is_set():
            try:
                got = store.get(name)
            except BlobMissing:
                continue
            seen.append(len(got))
            assert got == data

    with ThreadPoolExecutor(4) as pool:
        readers = [pool.submit(read) for _ in range(3)]
        writer = pool.submit(write)
        writer.result()
        for reader in readers:
            reader.result()
    assert seen and set(seen) == {len(data)}


def test_a_large_blob_round_trips(store: BlobStore) -> None:
    data = os.urandom(20 * 1024 * 1024)
    store.put(sha1(data), data)
    assert store.present([sha1(data)]) == {sha1(data)}
    assert store.get(sha1(data)) == data


def test_the_directory_backend_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")
    data = b"x" * 1000
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: store.put(sha1(data), data), range(8)))
    files = [p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()]
    assert files == [f"{sha1(data)[:2]}/{sha1(data)[2:4]}/{sha1(data)}"]


def test_the_s3_backend_keys_blobs_under_its_prefix(aws_env: None, s3_endpoint: str) -> None:
    with_prefix, bare = new_bucket(s3_endpoint, prefix="/a/b/"), new_bucket(s3_endpoint)
    for store in (with_prefix, bare):
        store.put(sha1(b"k"), b"k")
    listed = {store.bucket: [o["Key"] for o in s3_client(s3_endpoint).list_objects_v2(Bucket=store.bucket)["Contents"]]
              for store in (with_prefix, bare)}
    assert listed == {with_prefix.bucket: [f"a/b/{sha1(b'k')}"], bare.bucket: [sha1(b"k")]}


def test_the_s3_backend_reports_a_missing_bucket_rather_than_missing_blobs(aws_env: None, s3_endpoint: str) -> None:
    store = S3BlobStore(f"absent-{uuid.uuid4().hex}", endpoint_url=s3_endpoint, region=REGION)
    with pytest.raises(ClientError) as caught:
        store.get(sha1(b"x"))
    assert caught.value.response["Error"]["Code"] == "NoSuchBucket"


def test_creating_an_existing_bucket_is_harmless(aws_env: None, s3_endpoint: str) -> None:
    store = new_bucket(s3_endpoint)
    store.put(sha1(b"kept"), b"kept")
    store.create_bucket_if_missing()
    assert store.get(sha1(b"kept")) == b"kept"


def test_open_blob_store_takes_a_path_or_a_file_url(tmp_path: Path) -> None:
    for url, root in ((str(tmp_path / "plain"), tmp_path / "plain"), ((tmp_path / "url").as_uri(), tmp_path / "url")):
        store = open_blob_store(url)
        assert isinstance(store, DirectoryBlobStore)
        store.put(sha1(b"d"), b"d")
        assert (root / sha1(b"d")[:2] / sha1(b"d")[2:4] / sha1(b"d")).read_bytes() == b"d"
        store.close()


def test_open_blob_store_takes_an_s3_url_with_endpoint_and_region(aws_env: None, s3_endpoint: str) -> None:
    bucket = f"url-{uuid.uuid4().hex}"
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    store = open_blob_store(f"s3://{bucket}/blobs/v1?endpoint={s3_endpoint}&region={REGION}")
    assert isinstance(store, S3BlobStore) and (store.bucket, store.prefix) == (bucket, "blobs/v1")
    assert (store.client.meta.endpoint_url, store.client.meta.region_name) == (s3_endpoint, REGION)
    store.put(sha1(b"s"), b"s")
    assert store.get(sha1(b"s")) == b"s"
    got = s3_client(s3_endpoint).get_object(Bucket=bucket, Key=f"blobs/v1/{sha1(b's')}")["Body"].read()
    assert got == b"s"
    store.close()


@pytest.mark.parametrize("url", ["", "http://example.com/blobs", "s3://", "s3:///prefix", "s3://bucket?bogus=1",
                                 "s3://bucket?region=", "s3://key:secret@bucket", "file://host/path",
                                 "file:relative/path", "gs://bucket"])
def test_open_blob_store_refuses_other_urls_saying_what_it_takes(url: str) -> None:
    with pytest.raises(ValueError, match=r"blob store URL"):
        open_blob_store(url)
