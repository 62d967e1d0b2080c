"""One synced version as bytes: a versioned JSON envelope, gzip-compressed, optionally
encrypted (AES-256-GCM, key from a passphrase through scrypt).

Layout: plain versions are gzip data (``1f 8b``); encrypted ones are ``XLRSENC1`` + 16-byte
scrypt salt + 12-byte nonce + AES-GCM ciphertext of the gzip data, with the magic and salt
as associated data. The GCM tag makes a wrong passphrase and a corrupted file the same
refusal before anything is changed. A version's id is the SHA-256 of its bytes, so a reader
also checks that it got the bytes the writer meant.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import socket
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from xlrebalance.sync.errors import PassphraseError, RemoteCorrupt
from xlrebalance.sync.rows import SyncedState, state_from_json

FORMAT = "xlrebalance-sync"
FORMAT_VERSION = 1
MAGIC = b"XLRSENC1"
SALT_BYTES = 16
NONCE_BYTES = 12
# scrypt cost: ~16 MiB of memory and a few tens of ms, once per salt and process.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class Version:
    """One version of the synced portfolio."""

    state: SyncedState
    revision: int = 0
    parents: tuple[str, ...] = ()
    conflicts: tuple[dict[str, Any], ...] = ()
    written_by: str = field(default_factory=socket.gethostname)
    written_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    )
    """For people only: ordering never trusts clocks (revisions and parent ids do)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "revision": self.revision,
            "parents": list(self.parents),
            "written_by": self.written_by,
            "written_at": self.written_at,
            "portfolio": self.state.to_json(),
            "conflicts": list(self.conflicts),
        }


def version_id(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def encode(version: Version, passphrase: str | None, salt: bytes | None = None) -> bytes:
    text = json.dumps(version.to_json(), ensure_ascii=False, separators=(",", ":"))
    # mtime=0: the same version gives the same bytes (and id) on every machine.
    data = gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)
    if passphrase is None:
        return data
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    # One salt per remote (reused from the version read): one scrypt run per sync, not per file.
    salt = salt or os.urandom(SALT_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    header = MAGIC + salt
    return header + nonce + AESGCM(_key(passphrase, salt)).encrypt(nonce, data, header)


def decode(blob: bytes, passphrase: str | None, where: str) -> Version:
    """The version in ``blob``; :class:`RemoteCorrupt` or :class:`PassphraseError` else."""
    if blob.startswith(MAGIC):
        if passphrase is None:
            raise PassphraseError(
                f"{where} is encrypted: set XLREBALANCE_SYNC_PASSPHRASE or store the passphrase "
                "in the OS keyring (xlrebalance sync passphrase). Nothing was changed"
            )
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        head = len(MAGIC) + SALT_BYTES
        salt, nonce = blob[len(MAGIC) : head], blob[head : head + NONCE_BYTES]
        try:
            data = AESGCM(_key(passphrase, salt)).decrypt(
                nonce, blob[head + NONCE_BYTES :], blob[:head]
            )
        except InvalidTag:
            raise PassphraseError(
                f"{where}: wrong passphrase, or the file was altered (its authentication tag "
                "does not match). Nothing was changed"
            ) from None
    elif blob.startswith(b"\x1f\x8b"):
        if passphrase is not None:
            raise PassphraseError(
                f"{where} is not encrypted but a passphrase is set: refusing, since someone "
                "may have replaced the encrypted data (unset the passphrase to read it). "
                "Nothing was changed"
            )
        data = blob
    else:
        raise RemoteCorrupt(f"{where}: not an xlrebalance sync file")
    try:
        doc = json.loads(gzip.decompress(data).decode("utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise RemoteCorrupt(f"{where}: damaged ({exc})") from None
    return _version(doc, where)


def _version(doc: object, where: str) -> Version:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise RemoteCorrupt(f"{where}: not an xlrebalance sync document")
    if doc.get("format_version") != FORMAT_VERSION:
        raise RemoteCorrupt(
            f"{where}: written in sync format {doc.get('format_version')!r}; this xlrebalance "
            f"reads format {FORMAT_VERSION} (update xlrebalance on this machine)"
        )
    try:
        state = state_from_json(doc.get("portfolio"), f"{where}: portfolio")
    except ValueError as exc:
        raise RemoteCorrupt(str(exc)) from None
    revision, parents = doc.get("revision"), doc.get("parents")
    if not isinstance(revision, int) or not isinstance(parents, list):
        raise RemoteCorrupt(f"{where}: no revision or parents")
    conflicts = doc.get("conflicts", [])
    return Version(
        state=state,
        revision=revision,
        parents=tuple(str(p) for p in parents),
        conflicts=tuple(c for c in conflicts if isinstance(c, dict)),
        written_by=str(doc.get("written_by", "")),
        written_at=str(doc.get("written_at", "")),
    )


def salt_of(blob: bytes) -> bytes | None:
    return blob[len(MAGIC) : len(MAGIC) + SALT_BYTES] if blob.startswith(MAGIC) else None


@lru_cache(maxsize=8)
def _key(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    kdf = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(passphrase.encode("utf-8"))
