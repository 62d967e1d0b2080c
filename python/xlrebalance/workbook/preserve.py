"""What a save would lose: an inventory of a package's user objects, compared before and after.

openpyxl rewrites a workbook from its own object model, so whatever it does not model (text
boxes and other drawing shapes, form controls, slicers, sparklines, pictures without Pillow,
threaded comments, most ``extLst`` extensions, ...) is silently missing from what it saves.
Part names are no guide (openpyxl renumbers drawings, comments, charts), so the inventory is
built by following relationships from each sheet and counting, per sheet:

- related parts by relationship type (drawing, chart, image, comments, table, ctrlProp, ...),
  recursively (a drawing's charts and images belong to its sheet);
- in drawings: anchors, shapes, pictures, graphic frames, groups, connectors, alternate content;
- in legacy VML drawings: shapes (comment boxes and legacy form controls);
- in comments parts: comments;
- in the sheet XML: extensions by URI, alternate content, controls, OLE objects,
  conditional-format rules, data validations, hyperlinks, header/footer drawings, background.

Workbook- and package-level relationships (pivot caches, slicer caches, external links,
custom XML, ...) and workbook extensions are counted the same way. A kind whose count drops
is a :class:`Loss`.

Not counted (documented in docs/workbook.md), because openpyxl always drops or regenerates them
and nothing the user made is in them: the calculation chain (Excel rebuilds it), printer
driver settings (page setup itself lives in the sheet XML and is kept), chart style and colour
gallery parts, the document thumbnail, and Excel's and LibreOffice's bookkeeping extensions of
workbook.xml.
"""

from __future__ import annotations

import io
import posixpath
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from xlrebalance.errors import XlRebalanceError

REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

IGNORED_RELATIONSHIPS = frozenset(
    {
        "calcChain",
        "printerSettings",
        "chartStyle",
        "chartColorStyle",
        "thumbnail",
        "metadata/thumbnail",
        # Always rewritten by openpyxl; never lost, and their content is not user objects.
        "core-properties",
        "metadata/core-properties",
        "extended-properties",
        "sharedStrings",
        "styles",
        "theme",
    }
)
IGNORED_EXTENSIONS = frozenset(
    {
        "{140A7AB4-5A0E-4B7C-9F8A-61FB2D4C2DB5}",  # x15:workbookPr chartTrackingRefBase
        "{B58B0392-4F1F-4190-BB64-5DF3571DCE5F}",  # xcalcf:calcFeatures
        "{7626C862-2A13-11E5-B345-FEFF819CDC9F}",  # LibreOffice's formula syntax note
    }
)
KNOWN_EXTENSIONS = {
    "{CCE6A557-97BC-4B89-ADB6-D9C93CAAB3DF}": "data validations (x14)",
    "{78C0D931-6437-407D-A8EE-F0AAD7539E65}": "conditional formats (x14)",
    "{05C60535-1F16-4FD2-B633-F4F36F0B64E0}": "sparklines",
    "{A8765BA9-456A-4DAB-B4F3-ACF838C121DE}": "slicers",
    "{3A4CF648-6AED-40F4-86FF-DC5316D8AED3}": "slicers (x15)",
    "{7E03D99C-DC04-49D9-9315-930204A7B6E9}": "timelines",
    "{B025F937-C7B1-47D3-B67F-A62EFF666E3E}": "conditional-format rule link (x14)",
    "{BBE1A952-AA13-448E-AADC-164F8A28A991}": "slicer caches",
    "{46BE6895-7355-4A93-B00E-2C351335B9C9}": "slicer caches (x15)",
    "{D0CA8CA8-9F24-4464-BF8E-62219DCF47F9}": "timeline caches",
    "{FCE2AD5D-F65C-4FA6-A056-5C36A1767C68}": "data model",
    "{876F7934-8845-4945-9796-88D515C7AA90}": "pivot caches (x14)",
}
DRAWING_KINDS = {
    "twoCellAnchor": "anchored drawing objects",
    "oneCellAnchor": "anchored drawing objects",
    "absoluteAnchor": "anchored drawing objects",
    "sp": "shapes (text boxes, form controls, ...)",
    "pic": "pictures",
    "graphicFrame": "graphic frames (charts, slicers, SmartArt, ...)",
    "grpSp": "shape groups",
    "cxnSp": "connectors",
    "contentPart": "ink",
    "AlternateContent": "drawing objects for newer Excel versions",
}
SHEET_KINDS = {
    "AlternateContent": "objects for newer Excel versions (controls, OLE, ...)",
    "control": "ActiveX/form controls",
    "oleObject": "embedded OLE objects",
    "cfRule": "conditional-format rules",
    "dataValidation": "data validations",
    "hyperlink": "hyperlinks",
    "legacyDrawingHF": "header/footer pictures",
    "picture": "background pictures",
    "customProperties": "custom sheet properties",
    "smartTags": "smart tags",
    "webPublishItems": "web publish items",
}


@dataclass(frozen=True)
class Loss:
    """``before - after`` objects of ``kind`` in ``where`` (a sheet, "workbook" or "package")."""

    where: str
    kind: str
    before: int
    after: int

    def __str__(self) -> str:
        return f"{self.where}: {self.before - self.after} of {self.before} {self.kind}"


class PackageLossError(XlRebalanceError):
    """Saving over the workbook would drop objects openpyxl cannot keep."""

    def __init__(self, name: str, losses: tuple[Loss, ...]) -> None:
        self.losses = losses
        super().__init__(
            f"not overwriting {name}: it holds objects this tool cannot keep, and saving would "
            f"lose {describe(losses)}. Nothing was written. Write a copy with --out OTHER.xlsm "
            "(the copy lacks these objects; the original stays as it is), or remove them from "
            "the workbook in Excel"
        )


def describe(losses: tuple[Loss, ...]) -> str:
    return "; ".join(str(loss) for loss in losses)


def losses(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> tuple[Loss, ...]:
    """Every kind of object whose count in ``after`` is below its count in ``before``."""
    old, new = inventory(before), inventory(after)
    return tuple(
        Loss(where, kind, count, new.get((where, kind), 0))
        for (where, kind), count in sorted(old.items())
        if new.get((where, kind), 0) < count
    )


def inventory(parts: Mapping[str, bytes]) -> Counter[tuple[str, str]]:
    """Counts of user objects by (where, kind); see the module docstring."""
    counts: Counter[tuple[str, str]] = Counter()
    seen: set[str] = set()
    root = _relationships(parts, "")
    workbook = next((t for rtype, t in root if rtype == OFFICE_DOC), None)
    for rtype, target in root:
        if rtype != OFFICE_DOC:
            _walk(parts, "package", rtype, target, counts, seen)
    if workbook is None or workbook not in parts:
        return counts
    seen.add(workbook)
    sheets = _sheet_targets(parts, workbook)
    for rtype, target in _relationships(parts, workbook):
        if target in sheets:
            name = sheets[target]
            counts[("workbook", "sheets")] += target in parts
            seen.add(target)
            _count_sheet(parts, name, target, counts)
            for sub_type, sub_target in _relationships(parts, target):
                _walk(parts, name, sub_type, sub_target, counts, seen)
        else:
            _walk(parts, "workbook", rtype, target, counts, seen)
    for uri in _extension_uris(parts[workbook]):
        if uri not in IGNORED_EXTENSIONS:
            counts[("workbook", _extension(uri))] += 1
    return counts


def _walk(
    parts: Mapping[str, bytes],
    where: str,
    rtype: str,
    target: str | None,
    counts: Counter[tuple[str, str]],
    seen: set[str],
) -> None:
    kind = _short(rtype)
    if kind in IGNORED_RELATIONSHIPS:
        return
    if kind != "custom-properties":  # LibreOffice writes an empty one: count its properties
        counts[(where, f"{kind} parts")] += 1
    if target is None or target in seen or target not in parts:
        return  # external, already counted, or a dangling relationship
    seen.add(target)
    data = parts[target]
    if kind == "custom-properties":
        counts[(where, "custom document properties")] += sum(
            1 for tag in _local_tags(data) if tag == "property"
        )
    elif kind == "drawing":
        for tag in _local_tags(data):
            if tag in DRAWING_KINDS:
                counts[(where, DRAWING_KINDS[tag])] += 1
    elif kind == "vmlDrawing":
        counts[(where, "legacy drawing shapes (comment boxes, form controls)")] += sum(
            1 for tag in _local_tags(data) if tag == "shape"
        )
    elif kind == "comments":
        counts[(where, "comments")] += sum(1 for tag in _local_tags(data) if tag == "comment")
    for sub_type, sub_target in _relationships(parts, target):
        _walk(parts, where, sub_type, sub_target, counts, seen)


def _count_sheet(
    parts: Mapping[str, bytes], name: str, part: str, counts: Counter[tuple[str, str]]
) -> None:
    if part not in parts:
        return
    for _, element in ET.iterparse(io.BytesIO(parts[part]), events=("end",)):
        tag = _local(element.tag)
        if tag in SHEET_KINDS:
            counts[(name, SHEET_KINDS[tag])] += 1
        elif tag == "ext" and element.get("uri"):
            counts[(name, _extension(element.get("uri", "")))] += 1
        elif tag == "row":
            element.clear()  # cell data is what openpyxl keeps; do not hold it in memory


def _extension(uri: str) -> str:
    known = KNOWN_EXTENSIONS.get(uri.upper())
    return f"{known} extension" if known else f"extension {uri}"


def _extension_uris(data: bytes) -> Iterator[str]:
    root = ET.fromstring(data)
    for ext_list in root:
        if _local(ext_list.tag) == "extLst":
            for ext in ext_list:
                if ext.get("uri"):
                    yield ext.get("uri", "")


def _sheet_targets(parts: Mapping[str, bytes], workbook: str) -> dict[str, str]:
    """Sheet part -> sheet name, from workbook.xml's ``<sheets>``."""
    by_id = {r_id: target for r_id, (_, target) in _relationships_by_id(parts, workbook).items()}
    names: dict[str, str] = {}
    for element in ET.fromstring(parts[workbook]).iter():
        if _local(element.tag) == "sheet":
            target = by_id.get(element.get(f"{{{R_NS}}}id", ""))
            if target is not None:
                names[target] = element.get("name", target)
    return names


def _relationships(parts: Mapping[str, bytes], source: str) -> list[tuple[str, str | None]]:
    return list(_relationships_by_id(parts, source).values())


def _relationships_by_id(
    parts: Mapping[str, bytes], source: str
) -> dict[str, tuple[str, str | None]]:
    """Relationship id -> (type, resolved part name or None for an external target)."""
    folder, name = posixpath.split(source)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if rels not in parts:
        return {}
    found: dict[str, tuple[str, str | None]] = {}
    for rel in ET.fromstring(parts[rels]).iter(f"{{{REL_NS}}}Relationship"):
        target = rel.get("Target", "")
        resolved: str | None
        if rel.get("TargetMode") == "External":
            resolved = None
        elif target.startswith("/"):
            resolved = target[1:]
        else:
            resolved = posixpath.normpath(posixpath.join(folder, target))
        found[rel.get("Id", "")] = (rel.get("Type", ""), resolved)
    return found


def _short(rtype: str) -> str:
    """The tail of a relationship type (``.../relationships/drawing`` -> ``drawing``)."""
    for marker in ("/relationships/", "/package/2006/"):
        if marker in rtype:
            return rtype.split(marker, 1)[1]
    return rtype


def _local_tags(data: bytes) -> Iterator[str]:
    try:
        for _, element in ET.iterparse(io.BytesIO(data), events=("start",)):
            yield _local(element.tag)
    except ET.ParseError:
        return  # VML from old Excel is not always well-formed XML; count what parsed


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


__all__ = ["Loss", "PackageLossError", "describe", "inventory", "losses"]
