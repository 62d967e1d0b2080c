"""Where versions are kept: storage adapters behind one small interface.

Two schemes, both lock-free for readers and never overwriting a version in place:

* **Pointer stores** (S3 and S3-compatible, WebDAV): immutable version objects named by
  their SHA-256 (``versions/<id>.xlrs``) and one small ``HEAD`` object naming the current
  version. A push uploads the version first, then moves ``HEAD`` with a conditional write
  (S3 ``If-Match``/``If-None-Match``; WebDAV ``If-Match`` under a short exclusive LOCK, since
  a WebDAV server may check the condition and write in two steps). An interrupted push leaves
  at most an unreferenced version object; ``HEAD`` still names a complete one.
* **Folders** (a local or OneDrive/Google Drive/Dropbox folder, ``file://``): numbered version
  files ``versions/00000012.xlrs``, each written to a temporary name, flushed, then published
  with a hard link, which fails if the number is taken (create-exclusive: the compare-and-
  swap). No timestamps are trusted: each version names its parents by id, and when two
  machines publish the same number before their sync clients meet, the sync client keeps both
  (renaming one, e.g. ``00000012 (1).xlrs``); both are heads of the version graph and the
  next sync merges them.

The remote never sees plaintext when a passphrase is set: encryption happens before
:meth:`Remote.publish` (see :mod:`.envelope`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from xlrebalance.sync.errors import RemoteCorrupt, RemoteUnavailable, SyncError, WriteConflict

T = TypeVar("T")
HEAD = "HEAD"
VERSIONS = "versions"
SUFFIX = ".xlrs"
TIMEOUT = 20.0
"""Seconds a storage request may take before the sync gives up (nothing local changes)."""


@dataclass
class Stats:
    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


@dataclass(frozen=True)
class Stored:
    """A version as stored: its bytes and where it is (for messages)."""

    name: str
    blob: bytes


@dataclass(frozen=True)
class Snapshot:
    """What a read saw: candidate versions (one for pointer stores; every version file for a
    folder, whose heads the caller finds from their parents) and the token a publish needs."""

    versions: tuple[Stored, ...]
    token: Any = None
    top_revision: int = 0
    keeps_history: bool = False
    """Folders keep superseded versions a while (a late machine's fork still finds its
    common ancestor); pointer stores drop the version ``HEAD`` no longer names."""


class Remote(Protocol):
    url: str
    stats: Stats

    def read(self) -> Snapshot: ...

    def publish(self, blob: bytes, version_id: str, revision: int, seen: Snapshot) -> None:
        """Make ``blob`` the current version if the remote is still as ``seen``; else raise
        :class:`WriteConflict` (nothing written that a reader would take as current)."""
        ...

    def prune(self, names: Iterable[str]) -> None:
        """Remove superseded versions (best effort)."""
        ...


# --------------------------------------------------------------------------------------------
# Folders


_VERSION_FILE = re.compile(r"^(\d{8})(?:\D.*)?\.xlrs$")


@dataclass
class FolderRemote:
    url: str
    root: Path
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        import fsspec

        self.fs = fsspec.filesystem("file")

    @property
    def folder(self) -> Path:
        return self.root / VERSIONS

    def read(self) -> Snapshot:
        if not self.root.is_dir():
            raise RemoteUnavailable(
                f"{self.url}: the folder {self.root} does not exist (create it, or check that "
                "the cloud drive is mounted)"
            )
        versions: list[Stored] = []
        top = 0
        try:
            names = self.fs.ls(str(self.folder), detail=False) if self.folder.is_dir() else []
        except OSError as exc:
            raise RemoteUnavailable(f"{self.url}: cannot list {self.folder}: {exc}") from exc
        self.stats.round_trips += 1
        for path in sorted(names):
            name = Path(path).name
            match = _VERSION_FILE.match(name)
            if not match:
                continue  # temporary files of a writer, other tools' files
            top = max(top, int(match.group(1)))
            try:
                blob = self.fs.cat_file(path)
            except FileNotFoundError:
                continue  # pruned by another writer since the listing
            except OSError as exc:
                raise RemoteUnavailable(f"{self.url}: cannot read {name}: {exc}") from exc
            self.stats.round_trips += 1
            self.stats.bytes_received += len(blob)
            versions.append(Stored(f"{self.url}/{VERSIONS}/{name}", blob))
        return Snapshot(tuple(versions), token=top, top_revision=top, keeps_history=True)

    def publish(self, blob: bytes, version_id: str, revision: int, seen: Snapshot) -> None:
        if revision != int(seen.token) + 1:
            raise WriteConflict(f"revision {revision} after {seen.token}")
        try:
            self.folder.mkdir(exist_ok=True)
            final = self.folder / f"{revision:08d}{SUFFIX}"
            temp = self.folder / f".tmp-{uuid.uuid4().hex}{SUFFIX}.part"
            with open(temp, "xb") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            self.stats.round_trips += 1
            self.stats.bytes_sent += len(blob)
            try:
                _create_exclusive(temp, final)
            finally:
                temp.unlink(missing_ok=True)
        except FileExistsError:
            raise WriteConflict(f"{revision:08d}{SUFFIX} exists") from None
        except OSError as exc:
            raise RemoteUnavailable(f"{self.url}: cannot write in {self.folder}: {exc}") from exc

    def prune(self, names: Iterable[str]) -> None:
        for name in names:
            with contextlib.suppress(OSError):  # a later sync tries again
                (self.folder / name.rsplit("/", 1)[-1]).unlink(missing_ok=True)


def _create_exclusive(temp: Path, final: Path) -> None:
    """Give the complete file ``temp`` the name ``final`` unless that name exists, atomically."""
    try:
        os.link(temp, final)
    except FileExistsError:
        raise
    except OSError:
        if os.name != "nt":
            raise
        os.rename(temp, final)  # Windows: rename never replaces an existing file


# --------------------------------------------------------------------------------------------
# Pointer stores


class ObjectStore(Protocol):
    """Objects with ETags and conditional writes, in a back end's own client."""

    def get(self, key: str) -> tuple[bytes, str] | None: ...

    def put(self, key: str, data: bytes, *, if_match: str | None, if_none_match: bool) -> None:
        """Write; :class:`WriteConflict` when the condition fails."""
        ...

    def delete(self, key: str) -> None: ...

    def put_head(self, key: str, data: bytes, expected: bytes | None, etag: str | None) -> int:
        """Write the head pointer if it still holds ``expected`` (None: absent); returns the
        number of requests it took."""
        ...


@dataclass
class PointerRemote:
    url: str
    store: ObjectStore
    stats: Stats = field(default_factory=Stats)

    def read(self) -> Snapshot:
        for _ in range(3):  # a version pruned between the HEAD and its read: read again
            head = self._get(HEAD)
            if head is None or not head[0].strip():
                return Snapshot((), token=(None, None), top_revision=0)
            data, etag = head
            try:
                pointer = json.loads(data)
                version, revision = str(pointer["version"]), int(pointer["revision"])
                if not re.fullmatch(r"[0-9a-f]{64}", version):
                    raise ValueError("bad version id")
            except (ValueError, KeyError, TypeError) as exc:
                raise RemoteCorrupt(f"{self.url}/{HEAD}: damaged ({exc})") from None
            found = self._get(f"{VERSIONS}/{version}{SUFFIX}")
            if found is None:
                continue
            stored = Stored(f"{self.url}/{VERSIONS}/{version}{SUFFIX}", found[0])
            return Snapshot((stored,), token=(data, etag), top_revision=revision)
        raise RemoteCorrupt(f"{self.url}/{HEAD} names a version that does not exist")

    def publish(self, blob: bytes, version_id: str, revision: int, seen: Snapshot) -> None:
        expected, etag = seen.token
        self._call(
            lambda: self.store.put(
                f"{VERSIONS}/{version_id}{SUFFIX}", blob, if_match=None, if_none_match=False
            ),
            sent=len(blob),
        )
        # The pointer's size changes with every revision (padding), so that a server whose
        # ETag is only inode-mtime-size (wsgidav) never shows two recent heads the same tag.
        pointer = json.dumps({"revision": revision, "version": version_id}) + " " * (revision % 251)
        data = (pointer + "\n").encode()
        requests = self._call(
            lambda: self.store.put_head(HEAD, data, expected, etag), sent=len(data)
        )
        self.stats.round_trips += requests - 1

    def prune(self, names: Iterable[str]) -> None:
        for name in names:
            key = name[len(self.url) + 1 :] if name.startswith(self.url) else name
            with contextlib.suppress(SyncError):  # unreferenced versions are harmless
                self._call(partial(self.store.delete, key), sent=0)

    def _get(self, key: str) -> tuple[bytes, str] | None:
        found = self._call(lambda: self.store.get(key), sent=0)
        if found is not None:
            self.stats.bytes_received += len(found[0])
        return found

    def _call(self, action: Callable[[], T], *, sent: int) -> T:
        self.stats.round_trips += 1
        self.stats.bytes_sent += sent
        try:
            return action()
        except (WriteConflict, SyncError):
            raise
        except Exception as exc:  # every client library has its own error tree
            raise RemoteUnavailable(f"{self.url}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({cause})"
    if "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        return f"the storage did not answer in time: {text}"
    return f"the storage failed: {text}"


# --------------------------------------------------------------------------------------------
# Opening a remote from its URL


@dataclass(frozen=True)
class Options:
    endpoint: str | None = None
    timeout: float = TIMEOUT


def open_remote(url: str, options: Options | None = None) -> Remote:
    """The remote for an fsspec-style URL: ``file://``, ``s3://``, ``webdav://`` (https) or
    ``webdav+http://`` (plain http, for a NAS on the home network)."""
    options = options or Options()
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise SyncError(
            f"{_without_secret(url)}: put no user name or password in the remote URL (it is "
            "saved in the workbook); use environment variables or the OS keyring, see "
            "docs/sync.md"
        )
    scheme = parts.scheme.lower()
    if scheme in ("file", "") and (parts.path or parts.netloc):
        from fsspec.implementations.local import LocalFileSystem

        root = Path(LocalFileSystem._strip_protocol(url))
        return FolderRemote(url.rstrip("/"), root)
    if scheme == "s3":
        from xlrebalance.sync.stores import s3_store

        return PointerRemote(url.rstrip("/"), s3_store(parts.netloc, parts.path, options))
    if scheme in ("webdav", "webdavs", "dav", "webdav+http", "webdav+https"):
        from xlrebalance.sync.stores import webdav_store

        http = "http" if scheme == "webdav+http" else "https"
        return PointerRemote(
            url.rstrip("/"), webdav_store(f"{http}://{parts.netloc}", parts.path, options)
        )
    raise SyncError(
        f"{url}: unsupported remote (expected file://FOLDER, s3://BUCKET/PATH or "
        "webdav://HOST/PATH)"
    )


def _without_secret(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{parts.path}"
