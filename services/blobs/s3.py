"""Blobs as objects in an S3 bucket (AWS or any S3-compatible server), keyed `<prefix>/<sha1>`."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.exceptions import ClientError

from picket.blobs.store import BlobMissing, check_name

# HEAD responses carry no body, so a missing object is reported by its status alone.
_ABSENT = {"404", "NoSuchKey", "NotFound"}
_PARALLEL_HEADS = 10  # botocore's default max_pool_connections


def _absent(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _ABSENT


class S3BlobStore:
    """A `BlobStore` in an existing bucket. Credentials come from boto3's standard chain
    (environment, configuration files, instance roles) unless a ready `client` is given. A single
    PUT is atomic in S3: a reader sees no object or the whole one."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, client: Any = None) -> None:
        if not bucket:
            raise ValueError("An S3 blob store needs a bucket name.")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.region = region
        self._owns_client = client is None
        self.client = client if client is not None else boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, sha1: str) -> str:
        check_name(sha1)
        return f"{self.prefix}/{sha1}" if self.prefix else sha1

    def put(self, sha1: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(sha1), Body=data)

    def get(self, sha1: str) -> bytes:
        key = self._key(sha1)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _absent(exc):
                raise BlobMissing(sha1) from None
            raise
        with answer["Body"] as body:
            return body.read()

    def present(self, sha1s: Iterable[str]) -> set[str]:
        keys = {s: self._key(s) for s in sha1s}  # all checked before any is looked up
        if len(keys) <= 1:
            return {sha1 for sha1, key in keys.items() if self._exists(key)}
        # S3 has no batch lookup, and a chunk check may name hundreds: HEADs in parallel (boto3
        # clients are thread-safe), as many as the client's default connection pool holds.
        with ThreadPoolExecutor(min(len(keys), _PARALLEL_HEADS)) as pool:
            found = pool.map(self._exists, keys.values())
            return {sha1 for sha1, exists in zip(keys, found) if exists}

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _absent(exc):
                return False
            raise
        return True

    def delete(self, sha1: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(sha1))  # absent: S3 answers 204 too

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def create_bucket_if_missing(self) -> None:
        """Create the bucket unless it exists (tests and embedded setups; production buckets are
        made by their operators)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if not _absent(exc) and exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
                raise
        options: dict[str, Any] = {}
        region = self.region or self.client.meta.region_name
        if region and region != "us-east-1":  # us-east-1 refuses an explicit location constraint
            options["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(Bucket=self.bucket, **options)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
