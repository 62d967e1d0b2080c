"""Foreign sheets: the user's own worksheets, kept out of openpyxl and written back byte for byte.

openpyxl loads and rewrites every cell of every sheet, so a refresh would cost time and memory
in proportion to sheets the tool never reads (a 1,000,000-row sheet: minutes and gigabytes).
:func:`strip` builds, from the file on disk, the package openpyxl loads instead:

- every worksheet the tool does not own keeps everything but its cells: its ``<sheetData>``
  is emptied (columns, merges, hyperlinks, comments, tables, drawings are kept and handled by
  openpyxl as before);
- the shared strings are replaced by an empty table, and the strings the owned sheets use are
  put in their cells as inline strings (so openpyxl never parses the user's million strings).

After openpyxl has saved that package, :meth:`ForeignCells.restore` writes the final file:
each foreign sheet gets its original ``<sheetData>`` back (streamed from the source file, in
chunks), its original ``<dimension>`` and namespace declarations, and the source's
shared-strings table is added back verbatim: openpyxl 3.1.5 writes every string inline and no
table, so the restored cells' indices stay valid. So do their style indices, because openpyxl
keeps the loaded ``cellXfs`` (duplicates included) in order and only appends to it.

Where that is exactly the same, a foreign sheet's part is not rebuilt but copied whole, its
compressed bytes as they were (:mod:`.zipcopy`): when it has no relationships part (so nothing
in it points at another part), no custom view, and every cell and differential format of the
source means the same at the same index in openpyxl's styles (:func:`_styles_kept`). The
shared-strings table is copied compressed too. Anything else, or a member zipcopy refuses, is
rebuilt as above.

A package this cannot handle safely (prefixed element names, a shared-string cell of ours in
an unknown form) is loaded whole, as before: :func:`strip` returns None.
"""

from __future__ import annotations

import io
import os
import queue
import re
import threading
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from xlrebalance.errors import XlRebalanceError
from xlrebalance.workbook import zipcopy
from xlrebalance.workbook.package import Fingerprint, WorkbookChangedError
from xlrebalance.workbook.preserve import OFFICE_DOC, _relationships_by_id, _sheet_targets

CHUNK = 1 << 20
RESTORE_LEVEL = 1
"""zlib level of the file a refresh writes: the fastest. It recompresses every cell of the
user's sheets (a million rows: 3x faster than the default level, for a file ~20% larger;
Excel's next save compresses it as it likes)."""
WORKSHEET_REL = "/relationships/worksheet"
STRINGS_REL = "/relationships/sharedStrings"
CONTENT_TYPES = "[Content_Types].xml"
STRINGS_PART = "xl/sharedStrings.xml"
STYLES_PART = "xl/styles.xml"
"""Where openpyxl reads and writes the styles, whatever the workbook's relationships say."""
STRINGS_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
STRINGS_CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
EMPTY_STRINGS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<sst xmlns="' + MAIN_NS + b'" count="0" uniqueCount="0"/>'
)

_DATA_OPEN = re.compile(rb"<sheetData\b[^>]*>")
_DATA_START = re.compile(rb"<sheetData\b")
_DATA_CLOSE = b"</sheetData>"
_STRING_ITEM = re.compile(rb"<si\b[^>]*?(?:/>|>(.*?)</si>)", re.S)
_SHARED_CELL = re.compile(rb'<c\b([^>/]*?)\st="s"([^>/]*)>\s*<v>(\d+)</v>\s*</c>')
_ANY_SHARED_CELL = re.compile(rb'<c\b[^>]*\st="s"')
_ROOT_TAG = re.compile(rb"<worksheet\b[^>]*>")
_NS_DECL = re.compile(rb'\sxmlns:([\w.-]+)="([^"]*)"')
_IGNORABLE = re.compile(rb'\smc:Ignorable="[^"]*"')
_DIMENSION = re.compile(rb"<dimension\b[^>]*/>")


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


@dataclass
class ForeignSheet:
    """One stripped worksheet: where its cells are in the source, and what of its head the
    restored file needs back (openpyxl rewrites the root tag and the dimension)."""

    part: str
    root_tag: bytes
    dimension: bytes | None
    copyable: bool = False
    """Whether its whole part may be copied from the source as it is (see
    :func:`_copyable_sheet`); the writer still checks the rest before doing so."""


@dataclass
class ForeignCells:
    """The package openpyxl loads, and how to put the foreign cells back after its save."""

    source: Path
    stripped: bytes
    sheets: dict[str, ForeignSheet] = field(default_factory=dict)
    strings_part: str | None = None
    read: Fingerprint | None = None
    """The version of ``source`` stripped: the cells put back must come from that one."""

    copied: list[str] = field(default_factory=list)
    """The parts the last :meth:`restore` copied compressed, as they were (for the record)."""

    def restore(self, saved: bytes, out: IO[bytes]) -> None:
        """Write to ``out`` the package openpyxl ``saved``, with the foreign cells back."""
        with self.source.open("rb") as raw:
            if Fingerprint.of(self.source) != self.read or not _is_version(raw, self.read):
                raise WorkbookChangedError(
                    f"{self.source.name} was changed by another program while this run "
                    "worked on it; nothing was written: run the command again"
                )
            with (
                zipfile.ZipFile(raw) as source,
                zipfile.ZipFile(io.BytesIO(saved)) as made,
                zipfile.ZipFile(
                    out, "w", zipfile.ZIP_DEFLATED, compresslevel=RESTORE_LEVEL
                ) as target,
            ):
                self._write(source, raw, made, target)

    def _write(
        self,
        source: zipfile.ZipFile,
        raw: IO[bytes],
        made: zipfile.ZipFile,
        target: zipfile.ZipFile,
    ) -> None:
        found = _package_parts(made)
        if found is None:
            raise XlRebalanceError("openpyxl wrote a package without a workbook")
        made_sheets, made_strings = found
        if made_strings is not None:
            # openpyxl 3.1.5 writes every string inline; one that writes a shared-strings
            # table would need its indices moved past the source's (not done: pinned).
            raise XlRebalanceError(
                "this openpyxl writes a shared-strings table, so the cells of your own "
                "sheets cannot be put back; nothing was written (install the openpyxl "
                "version pinned in constraints.txt)"
            )
        foreign_parts = {
            made_sheets[name]: sheet for name, sheet in self.sheets.items() if name in made_sheets
        }
        whole = _whole_sheets(foreign_parts, source, raw, made, target)
        self.copied = []
        strings = self.strings_part
        workbook = _workbook_part(made)
        for info in made.infolist():
            if info.filename in whole:
                zipcopy.write_raw(target, info.filename, raw, whole[info.filename], info)
                self.copied.append(info.filename)
                continue
            data = made.read(info)
            with target.open(info.filename, "w", force_zip64=True) as entry:
                if info.filename in foreign_parts:
                    sheet = foreign_parts[info.filename]
                    for chunk in _restored_sheet(data, sheet, source):
                        entry.write(chunk)
                elif strings is not None and info.filename == _rels_of(workbook):
                    entry.write(_with_strings_relationship(data))
                elif strings is not None and info.filename == CONTENT_TYPES:
                    entry.write(_with_strings_type(data))
                else:
                    entry.write(data)
        if strings is not None:
            # The foreign cells' shared strings, verbatim: their indices stay valid.
            info = source.getinfo(strings)
            member = zipcopy.locate(raw, info) if zipcopy.can_write_raw(target) else None
            if member is not None:
                zipcopy.write_raw(target, STRINGS_PART, raw, member, info)
                self.copied.append(STRINGS_PART)
                return
            with (
                source.open(info) as stream,
                target.open(STRINGS_PART, "w", force_zip64=True) as entry,
            ):
                while chunk := stream.read(CHUNK):
                    entry.write(chunk)


def strip(source: Path, owned: Iterable[str]) -> ForeignCells | None:
    """The package of ``source`` without the cells of the worksheets not named in ``owned``;
    None when it has no such worksheet or is not laid out as this module expects."""
    owned = frozenset(owned)
    read = Fingerprint.of(source)
    with zipfile.ZipFile(source) as archive:
        parts = _package_parts(archive)
        if parts is None:
            return None
        sheets, strings_part = parts
        foreign = {name: part for name, part in sheets.items() if name not in owned}
        if not foreign:
            return None
        used: dict[int, bytes] = {}
        own_data: dict[str, bytes] = {}
        for name, part in sheets.items():
            if name in owned:
                data = archive.read(part)
                if b"<sheetData" not in data and b":sheetData" in data:
                    return None
                own_data[part] = data
                for match in _SHARED_CELL.finditer(data):
                    used[int(match.group(3))] = b""
        if used:  # read the table only as far as the owned sheets need
            last = max(used)
            for index, inner in enumerate(_string_items(archive, strings_part)):
                if index in used:
                    used[index] = inner
                if index >= last:
                    break
        result = ForeignCells(source, b"", strings_part=strings_part, read=read)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for info in archive.infolist():
                name = info.filename
                if name in own_data:
                    inline = _inline_strings(own_data[name], used)
                    if _ANY_SHARED_CELL.search(inline):
                        return None  # a shared-string cell written in a form not recognised
                    target.writestr(info, inline)
                elif name == strings_part:
                    target.writestr(info, EMPTY_STRINGS)
                elif name in foreign.values():
                    with archive.open(info) as stream:
                        head, tail = _head_and_tail(stream)
                    if head is None:
                        return None
                    sheet_name = next(n for n, p in foreign.items() if p == name)
                    root = _ROOT_TAG.search(head)
                    if root is None:
                        return None
                    dimension = _DIMENSION.search(head)
                    result.sheets[sheet_name] = ForeignSheet(
                        name,
                        root.group(0),
                        dimension.group(0) if dimension else None,
                        _copyable_sheet(set(archive.namelist()), name, head, tail),
                    )
                    target.writestr(info, head + b"<sheetData/>" + tail)
                else:
                    target.writestr(info, archive.read(info))
        result.stripped = out.getvalue()
        return result


def _copyable_sheet(names: set[str], part: str, head: bytes, tail: bytes) -> bool:
    """Whether a foreign sheet's part may be copied whole instead of being rebuilt around
    openpyxl's XML: it has no relationships (no comments, hyperlinks to addresses, tables,
    drawings, printer settings), so nothing in it points at another part, and no custom view
    (whose GUID points into the workbook's custom views, which openpyxl drops). Cell and
    column styles and conditional formats' ``dxfId`` point into the styles part, checked
    when writing (:func:`_styles_kept`); shared strings are put back verbatim either way."""
    return _rels_of(part) not in names and b"customSheetView" not in head + tail


def _whole_sheets(
    foreign_parts: dict[str, ForeignSheet],
    source: zipfile.ZipFile,
    raw: IO[bytes],
    made: zipfile.ZipFile,
    target: zipfile.ZipFile,
) -> dict[str, zipcopy.RawMember]:
    """Of the foreign sheets openpyxl wrote (by their new part names), those whose source
    part is copied compressed, as it is, and where its bytes are; the others are rebuilt."""
    made_names = set(made.namelist())
    candidates = {
        made_part: sheet
        for made_part, sheet in foreign_parts.items()
        if sheet.copyable and _rels_of(made_part) not in made_names
    }
    if not candidates or not zipcopy.can_write_raw(target) or not _styles_kept(source, made):
        return {}
    whole: dict[str, zipcopy.RawMember] = {}
    for made_part, sheet in candidates.items():
        member = zipcopy.locate(raw, source.getinfo(sheet.part))
        if member is not None:
            whole[made_part] = member
    return whole


def _styles_kept(source: zipfile.ZipFile, made: zipfile.ZipFile) -> bool:
    """Whether every cell format (``cellXfs``) and differential format (``dxfs``) of the
    source means the same at the same index in what openpyxl wrote: a style index in a
    sheet copied as it is then still means what it meant."""
    try:
        cells, differential = _style_tables(source.read(STYLES_PART))
        cells_after, differential_after = _style_tables(made.read(STYLES_PART))
    except Exception:  # any doubt (no styles part, a dangling index): rebuild instead
        return False
    return (
        cells_after[: len(cells)] == cells
        and differential_after[: len(differential)] == differential
    )


def _style_tables(data: bytes) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """A styles part's cell formats, each resolved to its font, fill, border, number format,
    alignment, protection and flags, and its differential formats."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS_MAX_SIZE
    from openpyxl.styles.stylesheet import Stylesheet
    from openpyxl.xml.functions import fromstring

    sheet: Any = Stylesheet.from_tree(fromstring(data))
    codes = list(sheet.number_formats)

    def number_format(n: int) -> object:
        return codes[n - BUILTIN_FORMATS_MAX_SIZE] if n >= BUILTIN_FORMATS_MAX_SIZE else n

    cells = [
        (
            sheet.fonts[xf.fontId],
            sheet.fills[xf.fillId],
            sheet.borders[xf.borderId],
            number_format(xf.numFmtId),
            sheet.alignments[xf.alignmentId],
            sheet.protections[xf.protectionId],
            xf.pivotButton,
            xf.quotePrefix,
        )
        for xf in sheet.cell_styles
    ]
    return cells, list(sheet.dxfs)


def _is_version(stream: IO[bytes], read: Fingerprint | None) -> bool:
    """Whether the file open as ``stream`` is still the version ``read`` (size and time: the
    path was just checked in full, this closes the gap to opening it)."""
    st = os.fstat(stream.fileno())
    return read is not None and (st.st_size, st.st_mtime_ns) == (read.size, read.modified_ns)


def _package_parts(archive: zipfile.ZipFile) -> tuple[dict[str, str], str | None] | None:
    """Worksheet name -> part, and the shared-strings part, of a package."""
    names = set(archive.namelist())
    wanted = {"_rels/.rels"}
    root = _relationships_by_id(_read(archive, names, wanted), "")
    workbook = next((t for rtype, t in root.values() if rtype == OFFICE_DOC), None)
    if workbook is None or workbook not in names:
        return None
    folder, base = workbook.rsplit("/", 1) if "/" in workbook else ("", workbook)
    rels = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
    parts = _read(archive, names, {workbook, rels})
    targets = _sheet_targets(parts, workbook)
    sheets: dict[str, str] = {}
    strings: str | None = None
    for rtype, target in _relationships_by_id(parts, workbook).values():
        if target is None or target not in names:
            continue
        if rtype.endswith(WORKSHEET_REL) and target in targets:
            sheets[targets[target]] = target
        elif rtype.endswith(STRINGS_REL):
            strings = target
    return sheets, strings


def _workbook_part(archive: zipfile.ZipFile) -> str:
    root = _relationships_by_id(_read(archive, set(archive.namelist()), {"_rels/.rels"}), "")
    return next((t for rtype, t in root.values() if rtype == OFFICE_DOC and t), "")


def _rels_of(part: str) -> str:
    folder, _, base = part.rpartition("/")
    return f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"


def _with_strings_relationship(data: bytes) -> bytes:
    used = set(re.findall(rb'Id="([^"]*)"', data))
    n = 1
    while b"rIdS%d" % n in used:
        n += 1
    rel = b'<Relationship Id="rIdS%d" Type="%s" Target="/%s"/>' % (
        n,
        STRINGS_TYPE.encode(),
        STRINGS_PART.encode(),
    )
    return data.replace(b"</Relationships>", rel + b"</Relationships>", 1)


def _with_strings_type(data: bytes) -> bytes:
    if b'PartName="/' + STRINGS_PART.encode() + b'"' in data:
        return data
    override = b'<Override PartName="/%s" ContentType="%s"/>' % (
        STRINGS_PART.encode(),
        STRINGS_CONTENT.encode(),
    )
    return data.replace(b"</Types>", override + b"</Types>", 1)


def _read(archive: zipfile.ZipFile, names: set[str], wanted: set[str]) -> dict[str, bytes]:
    return {name: archive.read(name) for name in wanted if name in names}


def _head_and_tail(stream: IO[bytes]) -> tuple[bytes | None, bytes]:
    """A worksheet's XML before its ``<sheetData>`` and after it; None for the head when
    there is no unprefixed sheetData (the cells are skipped, not kept)."""
    head = b""
    tail = b""
    section = "head"
    for kind, chunk in _sections(stream):
        if kind == "head":
            head += chunk
        elif kind == "tail":
            tail += chunk
        section = kind
    if section == "head":
        return None, b""
    return head, tail


def _sections(stream: Readable) -> Iterator[tuple[str, bytes]]:
    """A worksheet's XML in chunks, each tagged "head", "data" (the whole ``<sheetData>``
    element) or "tail"; a sheet of any size in bounded memory."""
    buffer = b""
    section = "head"
    done = False
    while not done or buffer:
        if not done:
            chunk = stream.read(CHUNK)
            done = not chunk
            buffer += chunk
        if section == "head":
            start = _DATA_START.search(buffer)
            if start is None:
                keep = 0 if done else 16  # "<sheetData" may be split across chunks
                cut = max(len(buffer) - keep, 0)
                yield "head", buffer[:cut]
                buffer = buffer[cut:]
                if done:
                    return
                continue
            opening = _DATA_OPEN.match(buffer, start.start())
            if opening is None and not done:
                continue  # the tag's end is in the next chunk
            yield "head", buffer[: start.start()]
            if opening is None:
                return
            buffer = buffer[start.start() :]
            section = "data"
            if opening.group(0).endswith(b"/>"):
                yield "data", opening.group(0)
                buffer = buffer[len(opening.group(0)) :]
                section = "tail"
                continue
        if section == "data":
            end = buffer.find(_DATA_CLOSE)
            if end < 0:
                keep = 0 if done else len(_DATA_CLOSE)
                cut = max(len(buffer) - keep, 0)
                yield "data", buffer[:cut]
                buffer = buffer[cut:]
                if done:
                    return
                continue
            yield "data", buffer[: end + len(_DATA_CLOSE)]
            buffer = buffer[end + len(_DATA_CLOSE) :]
            section = "tail"
        if section == "tail":
            yield "tail", buffer
            buffer = b""


def _string_items(archive: zipfile.ZipFile, part: str | None) -> Iterator[bytes]:
    """The inner XML of each ``<si>`` of a shared-strings part, in order, streamed."""
    for raw in _raw_items(archive, part):
        match = _STRING_ITEM.match(raw)
        yield (match.group(1) or b"") if match else b""


def _raw_items(archive: zipfile.ZipFile, part: str | None) -> Iterator[bytes]:
    """Each whole ``<si>...</si>`` of a shared-strings part, verbatim, streamed."""
    if part is None:
        return
    with archive.open(part) as stream:
        buffer = b""
        while True:
            chunk = stream.read(CHUNK)
            buffer += chunk
            end = 0
            for match in _STRING_ITEM.finditer(buffer):
                yield match.group(0)
                end = match.end()
            buffer = buffer[end:]
            if not chunk:
                return


def _inline_strings(data: bytes, strings: dict[int, bytes]) -> bytes:
    """An owned sheet's shared-string cells as inline strings (same text, same runs)."""

    def inline(match: re.Match[bytes]) -> bytes:
        text = strings.get(int(match.group(3)), b"")
        return (
            b"<c"
            + match.group(1)
            + b' t="inlineStr"'
            + match.group(2)
            + b"><is>"
            + text
            + (b"</is></c>")
        )

    return _SHARED_CELL.sub(inline, data)


def _restored_sheet(made: bytes, sheet: ForeignSheet, source: zipfile.ZipFile) -> Iterator[bytes]:
    """openpyxl's XML of a foreign sheet with the source's cells in place of its own."""
    head, tail = _head_and_tail(io.BytesIO(made))
    if head is None:
        raise XlRebalanceError(f"{sheet.part}: openpyxl wrote a sheet without sheetData")
    head = _with_namespaces(head, sheet.root_tag)
    if sheet.dimension is not None:
        head = _DIMENSION.sub(lambda _: sheet.dimension or b"", head, count=1)
    yield head
    with source.open(sheet.part) as stream, _ReadAhead(stream) as ahead:
        for kind, chunk in _sections(ahead):
            if kind == "data":
                yield chunk
    yield tail


class _ReadAhead:
    """A stream read in a thread, a few chunks ahead of its reader: zlib releases the GIL, so
    decompressing the source overlaps with compressing the output (on a second core)."""

    def __init__(self, stream: Readable, depth: int = 4) -> None:
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(stream,), daemon=True)
        self._thread.start()

    def _produce(self, stream: Readable) -> None:
        try:
            while not self._stop.is_set():
                chunk = stream.read(CHUNK)
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # handed to the reader, raised there
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1, /) -> bytes:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        if not item:
            self._queue.put(item)  # the end stays the end for later reads
        return item

    def __enter__(self) -> _ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _with_namespaces(head: bytes, source_root: bytes) -> bytes:
    """openpyxl's root tag with the prefixes the source's cells may use (``x14ac:dyDescent``
    on rows, ...) declared, and the source's ``mc:Ignorable`` when openpyxl wrote none."""
    root = _ROOT_TAG.search(head)
    if root is None:
        return head
    tag = root.group(0)
    declared = {m.group(1) for m in _NS_DECL.finditer(tag)}
    extra = b"".join(
        m.group(0) for m in _NS_DECL.finditer(source_root) if m.group(1) not in declared
    )
    ignorable = _IGNORABLE.search(source_root)
    if ignorable is not None and not _IGNORABLE.search(tag):
        extra += ignorable.group(0)
    if not extra:
        return head
    closing = 2 if tag.endswith(b"/>") else 1
    new_tag = tag[:-closing] + extra + tag[-closing:]
    return head[: root.start()] + new_tag + head[root.end() :]
