"""A zip member's compressed bytes copied into another zip as they are: no inflate, no deflate.

Python's :mod:`zipfile` has no public way to do this. :func:`locate` reads and checks the
member's local file header in the source file (APPNOTE.TXT 4.3.7) and says where its
compressed data lie; :func:`write_raw` writes a fresh local header with the same CRC-32, sizes
and method, then the compressed bytes, and registers the entry with the target
:class:`zipfile.ZipFile` so its central directory lists it (the same steps
``ZipFile.mkdir`` takes for an entry it writes itself).

Only what can be copied exactly is: a stored or deflated member, not encrypted, whose local
header agrees with the central directory on CRC-32 and sizes (sizes in a ZIP64 extra field
are read; a header followed by a data descriptor is taken from the central directory), and
under 2 GiB either way, so the header written needs no ZIP64 field (the target's central
directory still moves to ZIP64 offsets by itself past 2 GiB). Anything else is refused
(:func:`locate` returns None) and the caller recompresses instead.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from typing import IO, Any

LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
"""Local file header: signature, versions, flags, method, time, date, CRC, sizes, lengths."""
LOCAL_SIGNATURE = b"PK\x03\x04"
SIZE_LIMIT = zipfile.ZIP64_LIMIT
"""Beyond this a size needs a ZIP64 extra field; such members are refused, not copied."""
ENCRYPTED = 0x0001
DATA_DESCRIPTOR = 0x0008
STRONG_ENCRYPTION = 0x0040
DEFLATE_OPTIONS = 0x0006
"""The deflate level hint (bits 1-2): describes the copied bytes, so it is kept."""
ZIP64_MARK = 0xFFFFFFFF
ZIP64_EXTRA = 0x0001
EXTRA_HEADER = struct.Struct("<2H")
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
COPY_CHUNK = 1 << 20
_TARGET_STATE = ("fp", "filelist", "NameToInfo", "start_dir", "_lock", "_writing", "_seekable")


@dataclass(frozen=True)
class RawMember:
    """Where one member's compressed bytes are in its zip file, and what describes them."""

    data_offset: int
    compress_type: int
    flag_bits: int
    crc: int
    compress_size: int
    file_size: int


def locate(stream: IO[bytes], info: zipfile.ZipInfo) -> RawMember | None:
    """The compressed bytes of ``info`` (a member of the zip file open as ``stream``), or None
    when they cannot be copied exactly (see the module's docstring)."""
    if info.compress_type not in METHODS:
        return None
    if info.flag_bits & (ENCRYPTED | STRONG_ENCRYPTION):
        return None
    if info.file_size > SIZE_LIMIT or info.compress_size > SIZE_LIMIT:
        return None
    stream.seek(info.header_offset)
    header = stream.read(LOCAL_HEADER.size)
    if len(header) != LOCAL_HEADER.size:
        return None
    fields = LOCAL_HEADER.unpack(header)
    signature, flags, method, crc = fields[0], fields[3], fields[4], fields[7]
    compress_size, file_size, name_length, extra_length = fields[8:12]
    if signature != LOCAL_SIGNATURE or method != info.compress_type:
        return None
    if stream.read(name_length) != _encoded_name(info):
        return None
    if not flags & DATA_DESCRIPTOR:
        extra = stream.read(extra_length)
        sizes = _local_sizes(compress_size, file_size, extra)
        if sizes is None or (crc, *sizes) != (info.CRC, info.compress_size, info.file_size):
            return None  # the two headers disagree: trust neither
    data_offset = info.header_offset + LOCAL_HEADER.size + name_length + extra_length
    if data_offset + info.compress_size > stream.seek(0, 2):
        return None
    return RawMember(
        data_offset,
        info.compress_type,
        info.flag_bits,
        info.CRC,
        info.compress_size,
        info.file_size,
    )


def _local_sizes(compress_size: int, file_size: int, extra: bytes) -> tuple[int, int] | None:
    """A local header's compressed and uncompressed sizes, read from its ZIP64 extra field
    where the header says so (0xFFFFFFFF; zipfile writes that for ``force_zip64``)."""
    if ZIP64_MARK not in (compress_size, file_size):
        return compress_size, file_size
    at = 0
    while at + EXTRA_HEADER.size <= len(extra):
        kind, length = EXTRA_HEADER.unpack_from(extra, at)
        body = extra[at + EXTRA_HEADER.size : at + EXTRA_HEADER.size + length]
        at += EXTRA_HEADER.size + length
        if kind != ZIP64_EXTRA:
            continue
        # Only the fields marked in the header are there: uncompressed size first.
        wanted = [file_size == ZIP64_MARK, compress_size == ZIP64_MARK]
        values = [file_size, compress_size]
        offset = 0
        for n, present in enumerate(wanted):
            if present:
                if offset + 8 > len(body):
                    return None
                (values[n],) = struct.unpack_from("<Q", body, offset)
                offset += 8
        return values[1], values[0]
    return None


def can_write_raw(target: zipfile.ZipFile) -> bool:
    """Whether ``target`` is a zip being written whose internals :func:`write_raw` relies on
    are there (as in CPython 3.11, tested) and free."""
    if target.mode not in ("w", "x", "a") or not all(hasattr(target, a) for a in _TARGET_STATE):
        return False
    state: Any = target
    return bool(state.fp) and not state._writing


def write_raw(
    target: zipfile.ZipFile,
    name: str,
    source: IO[bytes],
    member: RawMember,
    like: zipfile.ZipInfo,
) -> zipfile.ZipInfo:
    """Add ``member``'s compressed bytes, read from ``source`` (the file :func:`locate` read),
    to ``target`` as ``name``, with ``like``'s date and attributes; the entry written."""
    if not can_write_raw(target):
        raise ValueError("the target zip cannot take a raw entry now")
    info = zipfile.ZipInfo(name, like.date_time)
    info.external_attr = like.external_attr
    info.create_system = like.create_system
    info.compress_type = member.compress_type
    # The sizes go in the local header, so no data descriptor follows the data.
    info.flag_bits = member.flag_bits & DEFLATE_OPTIONS
    info.CRC = member.crc
    info.compress_size = member.compress_size
    info.file_size = member.file_size
    state: Any = target  # the writer's internals, which typeshed does not describe
    with state._lock:
        out: IO[bytes] = state.fp
        if state._seekable:
            out.seek(state.start_dir)
        info.header_offset = out.tell()
        state._writecheck(info)
        state._didModify = True
        out.write(info.FileHeader(False))
        _copy_bytes(source, member, out)
        state.filelist.append(info)
        state.NameToInfo[info.filename] = info
        state.start_dir = out.tell()
    return info


def _copy_bytes(source: IO[bytes], member: RawMember, out: IO[bytes]) -> None:
    left = member.compress_size
    source.seek(member.data_offset)
    while left:
        chunk = source.read(min(COPY_CHUNK, left))
        if not chunk:
            raise zipfile.BadZipFile("a zip member ends early")
        out.write(chunk)
        left -= len(chunk)


def _encoded_name(info: zipfile.ZipInfo) -> bytes:
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    return info.orig_filename.encode(encoding)
