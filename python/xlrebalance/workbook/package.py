"""The .xlsm package around openpyxl: what openpyxl forgets, and saving without losing data.

openpyxl (3.1.5) rewrites ``_rels/.rels`` on every save. With ``keep_vba=True`` it carries the
VBA project and the ``customUI/`` parts, and re-adds only the Office 2007 ribbon relationship
(``.../2006/relationships/ui/extensibility``); the Office 2010+ one that ``customUI14.xml``
needs (``.../2007/...``) is dropped, so the ribbon silently disappears. :func:`finalize` puts
the relationship and content types back and rewrites the zip with fixed entry times, so a
build is byte-reproducible.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from xlrebalance.errors import XlRebalanceError
from xlrebalance.workbook.preserve import Loss, PackageLossError, losses

if TYPE_CHECKING:
    from xlrebalance.workbook.foreign import ForeignCells

RELS = "_rels/.rels"
CONTENT_TYPES = "[Content_Types].xml"
CORE = "docProps/core.xml"
VBA_PART = "xl/vbaProject.bin"
CUSTOMUI_PART = "customUI/customUI14.xml"
RIBBON_REL_TYPE = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaProject"
XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
PKG_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DOC_TIME = "2025-01-01T00:00:00Z"


class WorkbookLockedError(XlRebalanceError):
    """The workbook is open in Excel (its ``~$`` owner file exists)."""


def lock_file(path: Path) -> Path:
    return path.with_name("~$" + path.name)


def check_not_open(path: Path) -> None:
    lock = lock_file(path)
    if lock.exists():
        raise WorkbookLockedError(
            f"{path.name} is open in Excel (found {lock.name}): close it there first, or "
            "write elsewhere with --out"
        )


class WorkbookBusyError(XlRebalanceError):
    """Another xlrebalance run kept the workbook's lock for longer than we wait."""


class WorkbookChangedError(XlRebalanceError):
    """The workbook changed on disk between our reading it and our replacing it."""


LOCK_TIMEOUT = 180.0
"""Seconds a run waits for another one working on the same workbook (a refresh with a slow
quote fetch takes up to its fetch budget plus planning)."""


def lock_path(path: Path) -> Path:
    """The lock file of ``path`` (beside it, hidden): ``.<name>.xlrebalance.lock``."""
    return path.with_name(f".{path.name}.xlrebalance.lock")


@contextlib.contextmanager
def workbook_lock(path: Path, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an inter-process lock on ``path`` for a whole read-plan-write cycle.

    Two refreshes of one workbook then run one after the other, the second reading what the
    first wrote, so neither's History row is lost. The lock is advisory (``filelock``: an OS
    file lock, released by the OS when a killed run's process ends); programs that do not
    take it are caught by :func:`save_workbook`'s re-check instead."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_path(path)), timeout=timeout)
    try:
        lock.acquire()
    except Timeout as exc:
        raise WorkbookBusyError(
            f"{path.name} is being updated by another xlrebalance run (waited {timeout:g} s "
            f"for it): try again when it has finished"
        ) from exc
    except OSError as exc:  # a folder we cannot create the lock file in cannot be saved to
        raise XlRebalanceError(f"{path}: cannot lock the workbook for writing: {exc}") from exc
    try:
        yield
    finally:
        # Removed while still held, so no lock file is left beside the workbook: a run
        # waiting on this file sees it unlinked when it gets it, and locks a new one
        # (filelock checks). Windows refuses to unlink an open file: it then stays.
        with contextlib.suppress(OSError):
            lock_path(path).unlink()
        lock.release()


@dataclass(frozen=True)
class Fingerprint:
    """What identifies one version of a file on disk (a save replaces the file, so a new
    version has a new inode, and in practice a new size or modification time)."""

    device: int
    inode: int
    size: int
    modified_ns: int

    @classmethod
    def of(cls, path: Path) -> Fingerprint | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def leftover_temp_files(path: Path) -> list[Path]:
    """Temp files of ``path`` that a killed save left behind (call while holding the lock:
    a live save of this workbook would hold it too)."""
    pattern = f".{path.name}.*.tmp"
    return sorted(p for p in path.parent.glob(pattern) if p.is_file())


def remove_leftovers(path: Path) -> int:
    """Delete :func:`leftover_temp_files`; how many went."""
    removed = 0
    for leftover in leftover_temp_files(path):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed


def vba_archive(parts: Mapping[str, bytes]) -> zipfile.ZipFile:
    """An in-memory archive shaped like what ``load_workbook(keep_vba=True)`` keeps, so a
    freshly built openpyxl workbook saves as .xlsm with these VBA and ribbon parts."""
    archive = zipfile.ZipFile(io.BytesIO(), "a", zipfile.ZIP_DEFLATED)
    types = ET.Element(f"{{{CT_NS}}}Types")
    ET.SubElement(
        types, f"{{{CT_NS}}}Override", PartName="/" + VBA_PART, ContentType=VBA_CONTENT_TYPE
    )
    archive.writestr(CONTENT_TYPES, ET.tostring(types, xml_declaration=True, encoding="UTF-8"))
    # openpyxl reads the root relationships of the kept archive (for the Office 2007 ribbon).
    rels = ET.Element(f"{{{PKG_RELS_NS}}}Relationships")
    archive.writestr(RELS, ET.tostring(rels, xml_declaration=True, encoding="UTF-8"))
    for name, data in parts.items():
        archive.writestr(name, data)
    return archive


def finalize(raw: bytes, *, reproducible: bool = False) -> bytes:
    """Restore the ribbon relationship and content types in a saved package; rewrite the zip
    with fixed entry times (and, when ``reproducible``, fixed document times)."""
    ET.register_namespace("", PKG_RELS_NS)
    with zipfile.ZipFile(io.BytesIO(raw)) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    if CUSTOMUI_PART in parts:
        parts[RELS] = _with_ribbon_relationship(parts[RELS])
    parts[CONTENT_TYPES] = _with_content_types(parts[CONTENT_TYPES], parts)
    if reproducible and CORE in parts:
        parts[CORE] = _fixed_core_times(parts[CORE])
    out = io.BytesIO()
    order = [CONTENT_TYPES, RELS, *sorted(n for n in parts if n not in (CONTENT_TYPES, RELS))]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in order:
            info = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, parts[name])
    return out.getvalue()


def _with_ribbon_relationship(data: bytes) -> bytes:
    root = ET.fromstring(data)
    rels = root.findall(f"{{{PKG_RELS_NS}}}Relationship")
    if any(r.get("Type") == RIBBON_REL_TYPE for r in rels):
        return data
    used = {r.get("Id") for r in rels}
    n = 1
    while f"rIdUI{n}" in used:
        n += 1
    ET.SubElement(
        root,
        f"{{{PKG_RELS_NS}}}Relationship",
        Id=f"rIdUI{n}",
        Type=RIBBON_REL_TYPE,
        Target=CUSTOMUI_PART,
    )
    return bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _with_content_types(data: bytes, parts: Mapping[str, bytes]) -> bytes:
    ET.register_namespace("", CT_NS)
    root = ET.fromstring(data)
    defaults = {d.get("Extension", "").lower() for d in root.findall(f"{{{CT_NS}}}Default")}
    overrides = {o.get("PartName"): o for o in root.findall(f"{{{CT_NS}}}Override")}
    changed = False
    if any(name.endswith(".xml") for name in parts) and "xml" not in defaults:
        ET.SubElement(root, f"{{{CT_NS}}}Default", Extension="xml", ContentType="application/xml")
        changed = True
    if VBA_PART in parts:
        if "/" + VBA_PART not in overrides:
            ET.SubElement(
                root, f"{{{CT_NS}}}Override", PartName="/" + VBA_PART, ContentType=VBA_CONTENT_TYPE
            )
            changed = True
        main = overrides.get("/xl/workbook.xml")
        if main is not None and main.get("ContentType") != XLSM_MAIN:
            main.set("ContentType", XLSM_MAIN)
            changed = True
    if not changed:
        return data
    return bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _fixed_core_times(data: bytes) -> bytes:
    text = data.decode("utf-8")
    for tag in ("dcterms:created", "dcterms:modified"):
        start = text.find(f"<{tag}")
        if start < 0:
            continue
        open_end = text.find(">", start) + 1
        close = text.find(f"</{tag}>", open_end)
        text = text[:open_end] + FIXED_DOC_TIME + text[close:]
    return text.encode("utf-8")


def check_target(path: Path) -> None:
    """Refuse before any work: a missing folder (a mistyped path should not quietly create
    one) or a workbook Excel has open."""
    if not path.parent.is_dir():
        raise XlRebalanceError(
            f"{path}: the folder {path.parent} does not exist (check the path, or create the "
            "folder first)"
        )
    check_not_open(path)
    check_writable(path.parent)


def check_writable(folder: Path) -> None:
    """Refuse a folder this process cannot create files in (read-only share, permissions):
    saves go through a temp file beside the workbook. Tried, not guessed from mode bits,
    which say nothing for root or network drives."""
    try:
        fd, name = tempfile.mkstemp(prefix=".xlrebalance-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _unwritable(folder, exc) from exc
    os.close(fd)
    os.unlink(name)


def _unwritable(folder: Path, exc: OSError) -> XlRebalanceError:
    return XlRebalanceError(
        f"{folder}: cannot write in this folder ({exc.strerror or exc}): write elsewhere with "
        "--out, or make the folder writable"
    )


def save_workbook(
    workbook: Any,
    path: Path,
    *,
    source: Path | None = None,
    fresh: bool = False,
    reproducible: bool = False,
    backup: bool = True,
    expect: Fingerprint | None = None,
    foreign: ForeignCells | None = None,
) -> tuple[Loss, ...]:
    """Save atomically: write a temp file beside ``path``, keep the previous file as
    ``<name>.bak`` (one generation), then replace. Refuses while Excel has the file open.

    ``source`` is the file the workbook was loaded from (default: ``path`` itself when it
    exists, unless ``fresh``: a new workbook that replaces whatever is there). What openpyxl
    could not carry over from it (see :mod:`.preserve`) makes an in-place save raise
    :class:`PackageLossError` before anything is written; a save to another file goes ahead
    and returns the losses, for the caller to warn about. The replaced file keeps its
    permission bits; a new one gets the usual ``0o666`` less the umask (not mkstemp's 0600).

    ``expect`` is the fingerprint of ``path`` when it was read: if the file on disk is no
    longer that version just before it would be replaced, nothing is written and
    :class:`WorkbookChangedError` tells the caller to run again (no silent loss of the other
    writer's work). Temp names are unique (two savers never share one).

    ``foreign`` is how the workbook was loaded without the cells of the user's own sheets
    (:func:`.foreign.strip`): they are streamed back from ``foreign.source`` into the file
    written, and what openpyxl could not keep is judged against the package it loaded.
    """
    check_target(path)
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = finalize(buffer.getvalue(), reproducible=reproducible)
    if source is None and not fresh and zipfile.is_zipfile(path):
        source = path
    lost: tuple[Loss, ...] = ()
    if foreign is not None:
        lost = losses(_parts(foreign.stripped), _parts(data))
        if lost and path.exists() and path.samefile(foreign.source):
            raise PackageLossError(path.name, lost)
    elif source is not None:
        lost = losses(read_parts(source), _parts(data))
        if lost and path.exists() and path.samefile(source):
            raise PackageLossError(path.name, lost)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else _new_file_mode()
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _unwritable(path.parent, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            if foreign is not None:
                foreign.restore(data, handle)
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        if expect is not None and Fingerprint.of(path) != expect:
            raise WorkbookChangedError(
                f"{path.name} was changed by another program while this run worked on it; "
                "nothing was written: run the command again"
            )
        if backup and path.exists():
            bak_fd, bak_temp = tempfile.mkstemp(
                prefix=f".{path.name}.", suffix=".bak.tmp", dir=path.parent
            )
            os.close(bak_fd)
            try:
                shutil.copy2(path, bak_temp)
                os.replace(bak_temp, backup_path(path))
            finally:
                Path(bak_temp).unlink(missing_ok=True)
        os.replace(temp, path)
    except OSError as exc:  # a full disk, a file locked by another program
        Path(temp).unlink(missing_ok=True)
        raise XlRebalanceError(
            f"{path}: could not be written ({exc.strerror or exc}); it is as it was"
        ) from exc
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return lost


def _new_file_mode() -> int:
    # The umask can only be read by setting it; put it straight back.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def read_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}
