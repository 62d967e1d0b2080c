"""VBA project (``vbaProject.bin``) compiled from ``.bas`` text with the ``ms-ovba`` package.

ms-ovba writes the MS-OVBA streams (compressed module source, ``dir``, ``PROJECT``) into a
compound file. It writes no p-code cache, so Excel compiles the modules from source on first
load. The library works on files in the current directory and next to the sources, so the
build runs it inside a scratch directory on copies.
"""

from __future__ import annotations

import contextlib
import gc
import random
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

from xlrebalance.errors import XlRebalanceError
from xlrebalance.workbook import ovba_compression

PROJECT_ID = "{5C7A3F52-3B1E-4E0B-9D0A-6E1F3C2B8A11}"
WORKBOOK_GUID = "0002081900000000C000000000000046"
SHEET_GUID = "0002082000000000C000000000000046"

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
        # ms-cfb leaves file handles to the GC; close them here, not as warnings later.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
                data = _compile(bas_files, sheet_code_names)
                gc.collect()
            return data
    finally:
        MsOvba.compress = broken  # type: ignore[method-assign]
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
        ProjectOleFile.write_file(project)
        return Path("vbaProject.bin").read_bytes()


def _compress(self: object, data: bytes) -> bytes:
    return ovba_compression.compress(bytes(data))


def module_name(path: Path) -> str:
    """The ``Attribute VB_Name`` of a .bas file (its stem when absent)."""
    for line in path.read_text(encoding="ascii").splitlines():
        if line.startswith("Attribute VB_Name"):
            return line.split("=", 1)[1].strip().strip('"')
    return path.stem
