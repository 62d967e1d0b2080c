"""VBA project (``vbaProject.bin``) compiled from ``.bas`` text with the ``ms-ovba`` package.

ms-ovba writes the MS-OVBA streams (compressed module source, ``dir``, ``PROJECT``,
``PROJECTwm``) into a compound file. It writes no p-code cache, so Excel compiles the modules
from source on first load. The library works on files in the current directory and next to the
sources, so the build runs it inside a scratch directory on copies.

Where MS-OVBA leaves a choice, the project follows what Excel itself wrote into the
``quickstart.xlsm`` shipped inside the xlwings package (docs/workbook.md lists what still
differs): the ``PROJECTwm`` stream, ``VersionCompatible32`` in ``PROJECT``, a
``PROJECTCOMPATVERSION`` record in ``dir`` and the reference to the xlwings add-in.
"""

from __future__ import annotations

import contextlib
import gc
import random
import shutil
import struct
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from xlrebalance.errors import XlRebalanceError
from xlrebalance.workbook import ovba_compression

PROJECT_ID = "{5C7A3F52-3B1E-4E0B-9D0A-6E1F3C2B8A11}"
WORKBOOK_GUID = "0002081900000000C000000000000046"
SHEET_GUID = "0002082000000000C000000000000046"

# Excel's values in xlwings' quickstart.xlsm (PROJECT stream and dir record 0x004A).
VERSION_COMPATIBLE32 = "393222000"
COMPAT_VERSION = 5
_COMPAT_RECORD = struct.pack("<HI", 0x004A, 4)


@dataclass(frozen=True)
class ProjectReference:
    """A REFERENCEPROJECT record (MS-OVBA 2.3.4.2.2.6): a reference to another VBA project."""

    name: str
    libid_absolute: str
    libid_relative: str
    major_version: int
    minor_version: int

    def record(self) -> bytes:
        """REFERENCENAME followed by REFERENCEPROJECT, as they appear in ``dir``."""
        name = self.name.encode("cp1252")
        unicode_name = self.name.encode("utf-16-le")
        absolute = self.libid_absolute.encode("cp1252")
        relative = self.libid_relative.encode("cp1252")
        body = (
            struct.pack("<I", len(absolute)) + absolute
            + struct.pack("<I", len(relative)) + relative
            + struct.pack("<IH", self.major_version, self.minor_version)
        )  # fmt: skip
        return (
            struct.pack("<HI", 0x0016, len(name)) + name
            + struct.pack("<HI", 0x003E, len(unicode_name)) + unicode_name
            + struct.pack("<HI", 0x000E, len(body)) + body
        )  # fmt: skip

    def pack(self, endien: str, cp_name: str) -> bytes:  # the interface ms-ovba calls
        return self.record()


# The reference to the xlwings add-in exactly as Excel stored it in xlwings' quickstart.xlsm
# (xlwings 0.37.8; tests/workbook/test_vba_project.py checks it against the installed copy).
# Checked in rather than read at build time: the build stays reproducible whatever xlwings is
# installed, and `workbook new` works without the `excel` extra. The absolute path is the
# xlwings developer's; Excel falls back to the relative one and to the add-in already open
# under that project name (this is how every quickstart workbook finds its add-in).
XLWINGS_REFERENCE = ProjectReference(
    name="xlwings",
    libid_absolute=r"*\CC:\Users\felix\dev\xlwings\xlwings\addin\xlwings.xlam",
    libid_relative=r"*\Caddin\xlwings.xlam",
    major_version=0x68FE4C3D,
    minor_version=0x000C,
)

_DOC_MODULE = """VERSION 1.0 CLASS
BEGIN
  MultiUse = -1  'True
END
Attribute VB_Name = "{name}"
Attribute VB_GlobalNameSpace = False
Attribute VB_Creatable = False
Attribute VB_PredeclaredId = True
Attribute VB_Exposed = True
"""


def compile_project(bas_files: Sequence[Path], sheet_code_names: Sequence[str]) -> bytes:
    """A vbaProject.bin holding the standard modules ``bas_files`` (named by their
    ``Attribute VB_Name``) and an empty document module per sheet code name."""
    try:
        from ms_ovba_compression.ms_ovba import MsOvba
    except ImportError as exc:  # a core dependency, but say so if an install lost it
        raise XlRebalanceError(
            "building a workbook needs ms-ovba: pip install --upgrade xlrebalance"
        ) from exc

    bas_files = [Path(p).resolve() for p in bas_files]
    broken = MsOvba.compress
    # The CMG/DPB/GC lines of PROJECT are obfuscated with a random seed from the global
    # ``random``; a fixed seed (state restored afterwards) makes the build reproducible.
    state = random.getstate()
    try:
        random.seed(20250101)
        MsOvba.compress = _compress  # type: ignore[method-assign]
        _use_excel_compat_version()
        # ms-cfb leaves file handles to the GC; close them here, not as warnings later.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
                data = _compile(bas_files, sheet_code_names)
                gc.collect()
            return data
    finally:
        MsOvba.compress = broken  # type: ignore[method-assign]
        _restore_dir_stream()
        random.setstate(state)


def _compile(bas_files: Sequence[Path], sheet_code_names: Sequence[str]) -> bytes:
    from ms_ovba.Models.Entities.doc_module import DocModule
    from ms_ovba.Models.Entities.reference import Reference
    from ms_ovba.Models.Entities.reference_registered import ReferenceRegistered
    from ms_ovba.Models.Entities.std_module import StdModule
    from ms_ovba.Models.Fields.libid_reference import LibidReference
    from ms_ovba.vbaProject import VbaProject
    from ms_ovba.Views.project_ole_file import ProjectOleFile

    if True:
        project = VbaProject()
        project.project_id = PROJECT_ID
        project.include_projectwm()
        project.include_compat()
        project.add_attribute("VersionCompatible32", VERSION_COMPATIBLE32)
        for name, guid in [("ThisWorkbook", WORKBOOK_GUID)] + [
            (code_name, SHEET_GUID) for code_name in sheet_code_names
        ]:
            source = Path(f"{name}.cls")
            source.write_text(_DOC_MODULE.format(name=name), encoding="ascii")
            doc = DocModule(name)
            doc.add_file(str(source))
            doc.add_guid(uuid.UUID(guid))
            doc.normalize_file()
            project.add_module(doc)
        for path in bas_files:
            name = module_name(path)
            copy = Path(f"{name}.bas")
            shutil.copyfile(path, copy)
            module = StdModule(name)
            module.add_file(str(copy))
            module.normalize_file()
            project.add_module(module)
        # IRibbonControl lives in the Office library; stdole is in every project.
        for guid, version, dll, title, alias in (
            ("0002043000000000C000000000000046", "2.0", r"C:\Windows\System32\stdole2.tlb",
             "OLE Automation", "stdole"),
            ("2DF8D04C5BFA101BBDE500AA0044DE52", "2.0",
             r"C:\Program Files\Common Files\Microsoft Shared\OFFICE16\MSO.DLL",
             "Microsoft Office 16.0 Object Library", "Office"),
        ):  # fmt: skip
            libid = LibidReference(uuid.UUID(guid), version, "0", dll, title)
            project.add_reference(Reference(ReferenceRegistered(libid), alias))
        # Last, as in Excel's file: VBA searches references in this order, so names the
        # other libraries define never reach a MISSING xlwings entry (docs/workbook.md).
        project.add_reference(XLWINGS_REFERENCE)
        ProjectOleFile.write_file(project)
        return Path("vbaProject.bin").read_bytes()


def _compress(self: object, data: bytes) -> bytes:
    return ovba_compression.compress(bytes(data))


_ORIGINAL_DIR_STREAM: list[type] = []


def _use_excel_compat_version() -> None:
    """ms-ovba 0.0.1 writes PROJECTCOMPATVERSION with the value 3; Excel wrote 5."""
    from ms_ovba.Views import project_ole_file
    from ms_ovba.Views.dirStream import DirStream

    class ExcelDirStream(DirStream):  # type: ignore[misc]
        def to_bytes(self) -> bytes:
            raw: bytes = super().to_bytes()
            # PROJECTSYSKIND (10 bytes), then PROJECTCOMPATVERSION's id, size and value.
            if raw[10:16] != _COMPAT_RECORD:
                raise XlRebalanceError("ms-ovba wrote an unexpected dir stream layout")
            return raw[:16] + struct.pack("<I", COMPAT_VERSION) + raw[20:]

    _ORIGINAL_DIR_STREAM.append(project_ole_file.DirStream)
    project_ole_file.DirStream = ExcelDirStream


def _restore_dir_stream() -> None:
    from ms_ovba.Views import project_ole_file

    if _ORIGINAL_DIR_STREAM:
        project_ole_file.DirStream = _ORIGINAL_DIR_STREAM.pop()


def dir_records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The records of a decompressed ``dir`` stream as (id, payload) pairs (MS-OVBA 2.3.4.2).

    Every record is id (2 bytes), size (4), payload, except PROJECTVERSION (0x0009), whose
    size field says 4 but is followed by 6 bytes."""
    pos = 0
    while pos + 6 <= len(data):
        record_id, size = struct.unpack_from("<HI", data, pos)
        pos += 6
        if record_id == 0x0009:
            size = 6
        yield record_id, data[pos : pos + size]
        pos += size


def module_name(path: Path) -> str:
    """The ``Attribute VB_Name`` of a .bas file (its stem when absent)."""
    for line in path.read_text(encoding="ascii").splitlines():
        if line.startswith("Attribute VB_Name"):
            return line.split("=", 1)[1].strip().strip('"')
    return path.stem
