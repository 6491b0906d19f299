"""The blob store contract, the validation of blob names, and `open_blob_store` (a store from a
URL in the configuration)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

_NAME = re.compile(r"[0-9a-f]{40}")


class BlobMissing(KeyError):
    """No blob has this name."""


def check_name(sha1: str) -> str:
    """`sha1` if it is exactly 40 lowercase hex digits; `ValueError` otherwise. Names become file
    paths and object keys, so nothing else may pass (no `..`, no `/`, no case variants)."""
    if not isinstance(sha1, str) or not _NAME.fullmatch(sha1):
        raise ValueError(f"Not a blob name (40 lowercase hex digits): {sha1!r}.")
    return sha1


class BlobStore(Protocol):
    """Immutable blobs named by the SHA-1 of their bytes. Synchronous: async callers run it in
    threads, so implementations are safe to use from several threads at once. Every method
    refuses a malformed name with `ValueError` before touching storage."""

    def put(self, sha1: str, data: bytes) -> None:
        """Store `data` as `sha1`. Idempotent; atomic: no reader ever sees part of a blob. The
        caller names the blob by its bytes' SHA-1 (the store does not check)."""
        ...

    def get(self, sha1: str) -> bytes:
        """The blob's bytes; `BlobMissing` when there is none."""
        ...

    def present(self, sha1s: Iterable[str]) -> set[str]:
        """Which of these names exist."""
        ...

    def delete(self, sha1: str) -> None:
        """Remove the blob; nothing happens when it is absent."""
        ...

    def close(self) -> None:
        ...


def open_blob_store(url: str) -> BlobStore:
    """A store from its URL: a filesystem path or `file:///abs/path` (a directory), or
    `s3://bucket[/prefix][?endpoint=http://host:port&region=us-east-1]` (credentials from the
    standard AWS environment and configuration)."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("The blob store URL is empty: give a directory path, file:///path or s3://bucket/prefix.")
    parts = urlsplit(url)
    if parts.scheme == "":
        from picket.blobs.directory import DirectoryBlobStore

        return DirectoryBlobStore(Path(url))
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/") or parts.query:
            raise ValueError(f"A file blob store URL is file:///absolute/path, not {url!r}.")
        from picket.blobs.directory import DirectoryBlobStore

        return DirectoryBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        return _open_s3(url)
    raise ValueError(f"Unknown blob store URL {url!r}: give a directory path, file:///path or s3://bucket/prefix.")


def _open_s3(url: str) -> BlobStore:
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password or parts.port:
        raise ValueError(f"An S3 blob store URL is s3://bucket/optional/prefix, not {url!r} (no credentials in it).")
    options = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    unknown = set(options) - {"endpoint", "region"}
    if unknown or any(len(values) != 1 or not values[0] for values in options.values()):
        raise ValueError(f"An S3 blob store URL takes one non-empty endpoint= and region= at most: {url!r}.")
    from picket.blobs.s3 import S3BlobStore

    # The netloc, not `hostname`, which would lowercase the bucket name.
    return S3BlobStore(parts.netloc, prefix=unquote(parts.path).strip("/"),
                       endpoint_url=options.get("endpoint", [None])[0], region=options.get("region", [None])[0])


def _outages() -> tuple[type[BaseException], ...]:
    try:  # S3's client errors, when boto3 is installed
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover
        return (OSError,)
    return (OSError, BotoCoreError, ClientError)


# What a blob store raises when it, not the data, fails: callers pause and try again.
OUTAGES = _outages()
