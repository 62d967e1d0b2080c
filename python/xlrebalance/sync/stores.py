"""Conditional object writes in each back end's own client, reached through fsspec.

fsspec's file API has no conditional write, so each store takes the file system fsspec gives
for the URL and calls the library underneath it: s3fs's aiobotocore client (``put_object``
with ``IfMatch``/``IfNoneMatch``), webdav4's client (``PUT`` with ``If-Match`` headers, and a
WebDAV LOCK around the head write). Credentials come from the environment or the OS keyring,
never from the URL or the workbook.
"""

from __future__ import annotations

import contextlib
import io
import os
import weakref
from dataclasses import dataclass
from typing import Any

from xlrebalance.sync.errors import RemoteUnavailable, SyncError, WriteConflict

KEYRING_SERVICE = "xlrebalance-sync"


def secret(name: str, account: str) -> str | None:
    """``name`` from the environment, else the OS keyring (service ``xlrebalance-sync``)."""
    value = os.environ.get(name)
    if value:
        return value
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        found = keyring.get_password(KEYRING_SERVICE, f"{name}:{account}")
    except (KeyringError, RuntimeError):
        return None
    return found or None


# --------------------------------------------------------------------------------------------
# S3 and S3-compatible stores (R2, MinIO, ...)


def _s3_code(exc: BaseException) -> str | None:
    for err in (exc, exc.__cause__, exc.__context__):
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", "")) or None
    return None


@dataclass
class S3Store:
    fs: Any
    bucket: str
    prefix: str

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def get(self, key: str) -> tuple[bytes, str] | None:
        try:
            out = self.fs.call_s3("get_object", Bucket=self.bucket, Key=self._key(key))
        except FileNotFoundError:
            return None
        body = out["Body"]

        async def read() -> bytes:
            async with body as stream:
                data: bytes = await stream.read()
                return data

        from fsspec.asyn import sync

        return sync(self.fs.loop, read), str(out["ETag"])

    def put(self, key: str, data: bytes, *, if_match: str | None, if_none_match: bool) -> None:
        extra: dict[str, str] = {}
        if if_match is not None:
            extra["IfMatch"] = if_match
        if if_none_match:
            extra["IfNoneMatch"] = "*"
        try:
            self.fs.call_s3(
                "put_object", Bucket=self.bucket, Key=self._key(key), Body=data, **extra
            )
        except (FileExistsError, OSError) as exc:
            if isinstance(exc, FileExistsError) or _s3_code(exc) in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                raise WriteConflict(key) from exc
            raise

    def put_head(self, key: str, data: bytes, expected: bytes | None, etag: str | None) -> int:
        self.put(key, data, if_match=etag, if_none_match=etag is None)
        return 1

    def delete(self, key: str) -> None:
        self.fs.call_s3("delete_object", Bucket=self.bucket, Key=self._key(key))


def s3_store(bucket: str, path: str, options: Any) -> S3Store:
    import fsspec

    if not bucket:
        raise SyncError("s3:// URL without a bucket (expected s3://BUCKET/PATH)")
    endpoint = (
        options.endpoint
        or os.environ.get("XLREBALANCE_SYNC_ENDPOINT")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    key = secret("AWS_ACCESS_KEY_ID", bucket)
    secret_key = secret("AWS_SECRET_ACCESS_KEY", bucket)
    fs = fsspec.filesystem(
        "s3",
        key=key,
        secret=secret_key,
        endpoint_url=endpoint,
        config_kwargs={
            "connect_timeout": options.timeout,
            "read_timeout": options.timeout,
            "retries": {"max_attempts": 2, "mode": "standard"},
        },
    )
    fs.retries = 1  # s3fs's own retry loop backs off for seconds; botocore retries once
    return S3Store(fs, bucket, path.strip("/"))


# --------------------------------------------------------------------------------------------
# WebDAV (Nextcloud, NAS boxes)

LOCK_BODY = (
    '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
    "<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "<D:owner>xlrebalance sync</D:owner></D:lockinfo>"
)
LOCK_SECONDS = 30


@dataclass
class WebDavStore:
    fs: Any
    prefix: str

    @property
    def client(self) -> Any:
        return self.fs.client

    def _path(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def get(self, key: str) -> tuple[bytes, str] | None:
        from webdav4.client import ResourceNotFound

        try:
            response = self.client.request("GET", self._path(key))
        except ResourceNotFound:
            return None
        return bytes(response.content), str(response.headers.get("etag", ""))

    def put(self, key: str, data: bytes, *, if_match: str | None, if_none_match: bool) -> None:
        headers: dict[str, str] = {}
        if if_match:
            headers["If-Match"] = if_match
        if if_none_match:
            headers["If-None-Match"] = "*"
        self._put(key, data, headers)

    def _put(self, key: str, data: bytes, headers: dict[str, str]) -> None:
        from webdav4.client import HTTPError, ResourceNotFound

        path = self._path(key)
        for attempt in range(2):
            try:
                self.client.upload_fileobj(io.BytesIO(data), path, overwrite=True, headers=headers)
                return
            except (ResourceNotFound, HTTPError) as exc:
                code = exc.response.status_code if isinstance(exc, HTTPError) else 404
                if code == 412:
                    raise WriteConflict(key) from exc
                if code not in (404, 409) or attempt or "/" not in path:
                    raise
                self._mkdirs(path.rsplit("/", 1)[0])  # the folder is missing: create it once

    def _mkdirs(self, folder: str) -> None:
        from webdav4.client import ResourceAlreadyExists

        built = ""
        for part in folder.strip("/").split("/"):
            built = f"{built}/{part}" if built else part
            if not self.client.exists(built):
                with contextlib.suppress(ResourceAlreadyExists):
                    self.client.mkdir(built)

    def put_head(self, key: str, data: bytes, expected: bytes | None, etag: str | None) -> int:
        """Under an exclusive LOCK, compare the head's bytes with what was read, then PUT
        (``If-Match`` too): a server may check a condition and write in two steps, and
        wsgidav's ETags (inode-mtime-size) can repeat; the lock makes the compare and the
        write one step for every client that uses it."""
        from webdav4.client import HTTPError

        path = self._path(key)
        try:
            response = self.client.request(
                "LOCK",
                path,
                content=LOCK_BODY.encode(),
                headers={
                    "Timeout": f"Second-{LOCK_SECONDS}",
                    "Depth": "0",
                    "Content-Type": "application/xml",
                },
            )
        except HTTPError as exc:
            if exc.response.status_code == 423:  # another client is writing: read again
                raise WriteConflict(key) from exc
            raise
        token = response.headers.get("lock-token", "").strip()
        try:
            current = self.get(key)
            now = current[0] if current and current[0].strip() else None
            if now != expected:
                raise WriteConflict(key)
            headers = {"If": f"({token})"}
            if etag and expected is not None:
                headers["If-Match"] = etag
            self._put(key, data, headers)
        finally:
            requests = 4  # LOCK, GET, PUT, UNLOCK
            with contextlib.suppress(Exception):  # the lock times out on its own
                self.client.request("UNLOCK", path, headers={"Lock-Token": token})
        return requests

    def delete(self, key: str) -> None:
        self.client.remove(self._path(key))


def webdav_store(base_url: str, path: str, options: Any) -> WebDavStore:
    import fsspec

    host = base_url.split("://", 1)[1]
    user = secret("XLREBALANCE_WEBDAV_USER", host)
    password = secret("XLREBALANCE_WEBDAV_PASSWORD", host)
    if bool(user) != bool(password):
        raise RemoteUnavailable(
            f"WebDAV {host}: set both XLREBALANCE_WEBDAV_USER and XLREBALANCE_WEBDAV_PASSWORD "
            "(or store both in the keyring)"
        )
    fs = fsspec.filesystem(
        "webdav",
        base_url=base_url,
        auth=(user, password) if user and password else None,
        timeout=options.timeout,
        skip_instance_cache=True,
    )
    store = WebDavStore(fs, path.strip("/"))
    # The HTTP connection pool closes with the store, however the caller lets go of it.
    weakref.finalize(store, fs.client.http.close)
    return store
