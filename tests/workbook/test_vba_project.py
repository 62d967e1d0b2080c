"""Our vbaProject.bin, structure by structure, against the one Excel itself wrote into the
``quickstart.xlsm`` shipped inside the installed xlwings package; and the MS-OVBA compressor
against oletools' decompressor. Every difference still left is listed in docs/workbook.md."""

from __future__ import annotations

import io
import random
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import olefile
import pytest

from xlrebalance.workbook import ovba_compression
from xlrebalance.workbook.build import build_workbook
from xlrebalance.workbook.vba import COMPAT_VERSION, XLWINGS_REFERENCE, dir_records

xlwings = pytest.importorskip("xlwings")
QUICKSTART = Path(xlwings.__file__).parent / "quickstart.xlsm"
TEMPLATES = Path(__file__).resolve().parents[2] / "python" / "xlrebalance" / "templates"

# MS-OVBA 2.3.4.2 record ids, named as the spec names them.
RECORD_NAMES = {
    0x0001: "PROJECTSYSKIND", 0x004A: "PROJECTCOMPATVERSION", 0x0002: "PROJECTLCID",
    0x0014: "PROJECTLCIDINVOKE", 0x0003: "PROJECTCODEPAGE", 0x0004: "PROJECTNAME",
    0x0005: "PROJECTDOCSTRING", 0x0040: "PROJECTDOCSTRING.Unicode",
    0x0006: "PROJECTHELPFILEPATH", 0x003D: "PROJECTHELPFILEPATH.2",
    0x0007: "PROJECTHELPCONTEXT", 0x0008: "PROJECTLIBFLAGS", 0x0009: "PROJECTVERSION",
    0x000C: "PROJECTCONSTANTS", 0x003C: "PROJECTCONSTANTS.Unicode",
    0x0016: "REFERENCENAME", 0x003E: "REFERENCENAME.Unicode", 0x0033: "REFERENCEORIGINAL",
    0x002F: "REFERENCECONTROL", 0x0030: "REFERENCECONTROL.Extended",
    0x000D: "REFERENCEREGISTERED", 0x000E: "REFERENCEPROJECT",
    0x000F: "PROJECTMODULES", 0x0013: "PROJECTCOOKIE",
    0x0019: "MODULENAME", 0x0047: "MODULENAMEUNICODE", 0x001A: "MODULESTREAMNAME",
    0x0032: "MODULESTREAMNAME.Unicode", 0x001C: "MODULEDOCSTRING",
    0x0048: "MODULEDOCSTRING.Unicode", 0x0031: "MODULEOFFSET", 0x001E: "MODULEHELPCONTEXT",
    0x002C: "MODULECOOKIE", 0x0021: "MODULETYPE.Procedural", 0x0022: "MODULETYPE.Document",
    0x0025: "MODULEREADONLY", 0x0028: "MODULEPRIVATE", 0x002B: "MODULE.Terminator",
    0x0010: "dir.Terminator",
}  # fmt: skip
REFERENCE_IDS = {0x0016, 0x003E, 0x0033, 0x002F, 0x0030, 0x000D, 0x000E}


class Project:
    """A vbaProject.bin taken apart: streams, PROJECT lines, dir records."""

    def __init__(self, data: bytes) -> None:
        self.raw = data
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            self.streams = {"/".join(e): ole.openstream(e).read() for e in ole.listdir()}
        self.records = list(dir_records(ovba_compression.decompress(self.streams["VBA/dir"])))
        self.project_lines = self.streams["PROJECT"].decode("cp1252").split("\r\n")

    def names(self, records: list[tuple[int, bytes]]) -> list[str]:
        return [RECORD_NAMES[i] for i, _ in records]

    @property
    def information(self) -> list[tuple[int, bytes]]:
        """The PROJECTINFORMATION records (everything before the first reference)."""
        first = next(n for n, (i, _) in enumerate(self.records) if i in REFERENCE_IDS)
        return self.records[:first]

    @property
    def references(self) -> dict[str, bytes]:
        """Each reference's records (name included), by reference name."""
        found: dict[str, bytes] = {}
        name, previous = "", 0
        for i, payload in self.records:
            # A REFERENCECONTROL carries a second REFERENCENAME inside it.
            if i == 0x0016 and previous != 0x002F:
                name = payload.decode("cp1252")
                found[name] = b""
            if i in REFERENCE_IDS:
                found[name] += i.to_bytes(2, "little") + len(payload).to_bytes(4, "little")
                found[name] += payload
            previous = i
        return found

    def modules(self) -> Iterator[list[int]]:
        """Each module's record ids, MODULENAME to its terminator."""
        current: list[int] = []
        for i, _ in self.records:
            if i == 0x0019:
                current = []
            current.append(i)
            if i == 0x002B:
                yield current
                current = []

    def project_keys(self) -> list[str]:
        """PROJECT stream keys and section headers in order, one entry per kind of line
        (the module lines, Document= and Module= in any mix, count as one kind)."""
        keys: list[str] = []
        for line in self.project_lines:
            key = line if line.startswith("[") else line.split("=", 1)[0]
            key = "Document|Module" if key in ("Document", "Module") else key
            if key and (not keys or keys[-1] != key):
                keys.append(key)
        return keys

    def section(self, name: str) -> list[str]:
        lines = self.project_lines
        if name not in lines:
            return []
        rest = lines[lines.index(name) + 1 :]
        return rest[: rest.index("")] if "" in rest else rest


def vba_project(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read("xl/vbaProject.bin")


@pytest.fixture(scope="module")
def excel() -> Project:
    return Project(vba_project(QUICKSTART))


@pytest.fixture(scope="module", params=["en", "ko"])
def ours(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    book = tmp_path_factory.mktemp(f"vba-{request.param}") / "rebalance.xlsm"
    return Project(vba_project(build_workbook(book, lang=request.param)))


def _without_modules(project: Project) -> set[str]:
    module_streams = {f"VBA/{name}" for name in _module_order(project)}
    return set(project.streams) - module_streams


def _module_order(project: Project) -> list[str]:
    return [
        line.split("=", 1)[1].split("/", 1)[0]
        for line in project.project_lines
        if line.startswith(("Module=", "Document="))
    ]


def test_same_streams_as_excel_besides_one_per_module(ours: Project, excel: Project) -> None:
    assert _without_modules(ours) == _without_modules(excel) == {
        "PROJECT", "PROJECTwm", "VBA/_VBA_PROJECT", "VBA/dir",
    }  # fmt: skip
    for name in _module_order(ours):
        assert f"VBA/{name}" in ours.streams


def test_project_stream_has_excels_keys_in_excels_order(ours: Project, excel: Project) -> None:
    # Excel also writes a [Workspace] section (code-window positions in the editor).
    keys = excel.project_keys()
    assert keys[-1] != "[Workspace]" and "[Workspace]" in keys
    expected = keys[: keys.index("[Workspace]")]
    assert ours.project_keys() == expected
    assert 'VersionCompatible32="393222000"' in ours.project_lines
    assert ours.section("[Host Extender Info]") == excel.section("[Host Extender Info]")


def test_projectwm_names_every_module_in_project_order(ours: Project, excel: Project) -> None:
    for project in (ours, excel):
        wm = project.streams["PROJECTwm"]
        assert wm.endswith(b"\x00\x00")
        names = re.findall(rb"([^\x00]+)\x00((?:[^\x00]\x00)+)\x00\x00", wm[:-2])
        assert [a.decode() for a, _ in names] == _module_order(project)
        assert all(a.decode() == u.decode("utf-16-le") for a, u in names)


def test_dir_information_records_match_excels(ours: Project, excel: Project) -> None:
    assert ours.names(ours.information) == excel.names(excel.information)
    compat = dict(ours.information)[0x004A]
    assert compat == dict(excel.information)[0x004A] == COMPAT_VERSION.to_bytes(4, "little")


def test_dir_module_records_match_excels_per_module_type(ours: Project, excel: Project) -> None:
    def by_type(project: Project) -> dict[int, list[list[int]]]:
        kinds: dict[int, list[list[int]]] = {}
        for ids in project.modules():
            kinds.setdefault(ids[-2], []).append(ids)
        return kinds

    excel_kinds, our_kinds = by_type(excel), by_type(ours)
    assert set(our_kinds) == set(excel_kinds) == {0x0021, 0x0022}
    for kind, modules in our_kinds.items():
        assert all(ids == excel_kinds[kind][0] for ids in modules)
    # The tail of dir: PROJECTMODULES, PROJECTCOOKIE, the modules, the terminator.
    tail = [i for i, _ in ours.records[len(ours.information) :] if i not in REFERENCE_IDS]
    assert tail[:2] == [0x000F, 0x0013] and tail[-1] == 0x0010
    count = int.from_bytes(dict(ours.records)[0x000F], "little")
    assert count == len(_module_order(ours)) == len(list(ours.modules()))


def test_references_include_excels_xlwings_reference_byte_for_byte(
    ours: Project, excel: Project
) -> None:
    assert ours.references["xlwings"] == excel.references["xlwings"]
    assert ours.references["xlwings"] == XLWINGS_REFERENCE.record()
    # Office (IRibbonControl) as Excel wrote it; the add-in last, where Excel has it.
    assert ours.references["Office"] == excel.references["Office"]
    assert list(ours.references)[-1] == list(excel.references)[-1] == "xlwings"
    # Excel's file has MSForms (a UserForm was once in it); ours has stdole, as xlwings'
    # own add-in project does.
    assert set(ours.references) == {"stdole", "Office", "xlwings"}
    assert set(excel.references) == {"MSForms", "Office", "xlwings"}


def test_checked_in_xlwings_reference_is_the_installed_templates(excel: Project) -> None:
    # vba.py carries a copy of the record; a new xlwings that changed it shows up here.
    record = XLWINGS_REFERENCE.record()
    raw = ovba_compression.decompress(excel.streams["VBA/dir"])
    assert record in raw


def _olevba_modules(data: bytes) -> dict[str, str]:
    with warnings.catch_warnings():  # oletools 0.60 uses pyparsing's deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        from oletools.olevba import VBA_Parser

        parser = VBA_Parser("vbaProject.bin", data=data)
        try:
            return {name: code for _, _, name, code in parser.extract_macros()}
        finally:
            parser.close()


def test_oletools_reads_every_module_back_exactly(ours: Project, excel: Project) -> None:
    modules = _olevba_modules(ours.raw)
    names = _module_order(ours)
    assert sorted(Path(m).stem for m in modules) == sorted(names)
    for source in sorted(TEMPLATES.glob("vba/*.bas")):
        text = source.read_text(encoding="ascii")
        assert modules[source.name] == text.replace("\n", "\r\n")  # VBA stores CRLF
    # Document modules hold what Excel writes for a workbook and a sheet, name aside.
    theirs = _olevba_modules(excel.raw)
    for name in names:
        if name == "ThisWorkbook":
            assert modules["ThisWorkbook.cls"] == theirs["ThisWorkbook.cls"]
        elif name.startswith("Sheet"):
            expected = theirs["Sheet1.cls"].replace('"Sheet1"', f'"{name}"')
            assert modules[f"{name}.cls"] == expected


def test_vba_project_stub_is_the_spec_minimum(ours: Project) -> None:
    # MS-OVBA 2.3.4.1: Reserved1 0x61CC, Version 0xFFFF (no p-code: Excel compiles the
    # source), Reserved2 0; Reserved3 (2 bytes) is undefined and ignored on read.
    stub = ours.streams["VBA/_VBA_PROJECT"]
    assert len(stub) == 7 and stub[:5] == b"\xcc\x61\xff\xff\x00"


# --- the compressor ------------------------------------------------------------------------


def _olevba_decompress(data: bytes) -> bytes:
    with warnings.catch_warnings():  # oletools 0.60 uses pyparsing's deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        from oletools.olevba import decompress_stream

    return bytes(decompress_stream(bytearray(data)))


# Sizes from 3 KB to 100 KB, including last chunks that cannot be compressed into 4,096
# bytes (3,641-4,095 bytes of random data grow past it with their flag bytes).
SIZES = [3 * 1024, 3700, 4000, 4095, 4096, 4097, 8000, 8192, 12_000, 50_001, 100 * 1024]


@pytest.mark.parametrize("size", SIZES)
def test_incompressible_input_round_trips_through_oletools(size: int) -> None:
    data = random.Random(size).randbytes(size)
    packed = ovba_compression.compress(data)
    assert _olevba_decompress(packed) == data
    assert ovba_compression.decompress(packed) == data
    # Every full chunk is stored raw: header 0x3FFF, then its 4,096 bytes as they are.
    assert packed[1:3] == b"\xff\x3f" or size < 4096


def test_text_round_trips_and_shrinks() -> None:
    text = (Path(__file__).read_bytes() * 8)[: 100 * 1024]
    packed = ovba_compression.compress(text)
    assert _olevba_decompress(packed) == text == ovba_compression.decompress(packed)
    assert len(packed) < len(text) / 2


def test_random_mixtures_round_trip() -> None:
    rng = random.Random(7)
    for _ in range(20):
        parts = [
            rng.randbytes(rng.randint(0, 3000))
            if rng.random() < 0.5
            else b"ab" * rng.randint(0, 3000)
            for _ in range(rng.randint(1, 6))
        ]
        data = b"".join(parts)
        assert _olevba_decompress(ovba_compression.compress(data)) == data


def test_decompress_rejects_what_is_not_a_container() -> None:
    with pytest.raises(ValueError, match="signature"):
        ovba_compression.decompress(b"\x02\x00\x00")
    with pytest.raises(ValueError, match="signature"):
        ovba_compression.decompress(b"\x01\xff\x7f")
