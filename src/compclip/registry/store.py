"""The registry's objects in S3 (boto3): reads, and the only two kinds of write it ever makes.

- :meth:`Store.create` writes an object that must not exist yet (``IfNoneMatch='*'``);
- :meth:`Store.swap` replaces an object only if it is still the one read (``IfMatch`` its ETag).

Either returns False when another writer got there first (S3 answers 412 Precondition Failed,
or 409 while a competing conditional write is in flight); nothing is ever overwritten blindly.
The endpoint and credentials are boto3's usual settings (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ...). Failures a user can fix (no credentials, a wrong secret, no such
bucket, an endpoint that does not answer) become one-line UserErrors naming endpoint and bucket.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from compclip.errors import UserError
from compclip.registry.layout import parse_root

SETTINGS = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict"}
MISSING = {"NoSuchKey", "404", "NotFound"}
DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden"}


@functools.lru_cache(maxsize=4)
def _client(settings: tuple[str | None, ...], pid: int):
    """An S3 client for the environment's AWS settings as they are now (boto3's default session keeps
    the first it saw), one per process (a forked child must not share its parent's connections)."""
    config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3})
    return boto3.session.Session().client("s3", config=config)


def json_body(data: dict) -> bytes:
    """An object's bytes for ``data``: indented JSON, keys sorted."""
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


class Store:
    """The objects under one registry root; keys are relative to the root."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self.bucket, self.prefix = parse_root(root)
        settings = tuple(os.environ.get(name) for name in SETTINGS)
        try:
            self.client = _client(settings, os.getpid())
        except BotoCoreError as err:
            endpoint = settings[0] or "the default AWS endpoint"
            raise UserError(f"S3 client for bucket {self.bucket} at {endpoint}: {err}") from err
        self.endpoint = self.client.meta.endpoint_url

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        where = f"s3://{self.bucket}/{self._key(key)} at {self.endpoint}"
        try:
            yield
        except NoCredentialsError as err:
            raise UserError(
                f"no S3 credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from err
        except EndpointConnectionError as err:
            raise UserError(
                f"cannot reach the S3 endpoint {self.endpoint} (bucket {self.bucket}); check AWS_ENDPOINT_URL"
            ) from err
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in DENIED:
                raise UserError(
                    f"S3 refused access ({code}) to {where}: "
                    "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                ) from err
            if code == "NoSuchBucket":
                raise UserError(f"no bucket {self.bucket} at {self.endpoint}") from err
            raise UserError(f"S3 error on {where}: {code} {err}") from err
        except BotoCoreError as err:
            raise UserError(f"S3 error on {where}: {err}") from err

    def get(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, or None when there is no such object."""
        with self._errors(key):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") in MISSING:
                    return None
                raise
            return response["Body"].read(), response["ETag"]

    def get_json(self, key: str) -> tuple[dict, str] | None:
        found = self.get(key)
        if found is None:
            return None
        try:
            return json.loads(found[0]), found[1]
        except json.JSONDecodeError as err:
            raise UserError(f"{self.root}/{key} is not valid JSON: {err}") from err

    def exists(self, key: str) -> bool:
        with self._errors(key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") in MISSING:
                    return False
                raise
        return True

    def _put(self, key: str, body: bytes | Path, **condition: str) -> bool:
        with self._errors(key):
            try:
                with body.open("rb") if isinstance(body, Path) else nullcontext(body) as data:
                    self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **condition)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") in LOST_RACE:
                    return False
                raise
        return True

    def create(self, key: str, body: bytes | Path) -> bool:
        """Write a new object; False when one exists already."""
        return self._put(key, body, IfNoneMatch="*")

    def swap(self, key: str, body: bytes, etag: str) -> bool:
        """Replace the object whose ETag is ``etag``; False when it has changed (or is gone)."""
        return self._put(key, body, IfMatch=etag)

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, relative to the root, sorted."""
        found = []
        with self._errors(prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix)
            )
            for page in pages:
                found += [item["Key"] for item in page.get("Contents", [])]
        cut = len(self._key(""))
        return sorted(key[cut:] for key in found)

    def folders(self, prefix: str) -> list[str]:
        """The names of the 'folders' directly under ``prefix`` (which ends with a slash)."""
        found = []
        with self._errors(prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix), Delimiter="/"
            )
            for page in pages:
                found += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
        cut = len(self._key(prefix))
        return sorted(name[cut:].rstrip("/") for name in found)

    def download(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._errors(key):
            self.client.download_file(self.bucket, self._key(key), str(path))
