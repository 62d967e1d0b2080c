"""Workbook packages stored the way Excel stores them, for the tests of the user's own sheets
(a uniquely named module at the top of tests/, on the path like workbook_checks)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

X14AC = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> part name."""
    with zipfile.ZipFile(path) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    targets: dict[str, str] = {}
    for rel in re.findall(r"<Relationship [^>]*/>", rels):
        rid = re.search(r'Id="(\w+)"', rel)
        target = re.search(r'Target="([^"]+)"', rel)
        assert rid and target
        name = target.group(1).lstrip("/")
        targets[rid.group(1)] = name if name.startswith("xl/") else "xl/" + name
    found = {}
    for sheet in re.findall(r"<sheet [^>]*/>", workbook):
        name = re.search(r'name="([^"]+)"', sheet)
        rid = re.search(r'r:id="(\w+)"', sheet)
        assert name and rid
        found[name.group(1)] = targets[rid.group(1)]
    return found


def store_as_excel(path: Path, user_sheet: str) -> None:
    """Rewrite ``path`` as Excel would store it: every inline string moved to one shared
    strings table, ``x14ac:dyDescent`` on the user sheet's rows, and half of the user sheet's
    bold cells pointing at a duplicate of their ``cellXfs`` entry."""
    sheets = sheet_parts(path)
    strings: dict[bytes, int] = {}

    def shared(match: re.Match[bytes]) -> bytes:
        index = strings.setdefault(match.group(3), len(strings))
        return b"<c" + match.group(1) + b' t="s"' + match.group(2) + b"><v>%d</v></c>" % index

    inline = re.compile(rb'<c\b([^>/]*?)\st="inlineStr"([^>/]*)><is>(.*?)</is></c>', re.S)
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    for part in sheets.values():
        parts[part] = inline.sub(shared, parts[part])
    user = sheets[user_sheet]
    parts[user] = parts[user].replace(
        b"<worksheet ",
        f'<worksheet xmlns:mc="{MC}" xmlns:x14ac="{X14AC}" mc:Ignorable="x14ac" '.encode(),
        1,
    )
    parts[user] = re.sub(rb'<row r="(\d+)"', rb'<row r="\1" x14ac:dyDescent="0.25"', parts[user])
    # A duplicate cellXfs entry, used by the user sheet's even rows' bold cells.
    styles = parts["xl/styles.xml"].decode()
    xfs = re.search(r'<cellXfs count="(\d+)">(.*?)</cellXfs>', styles, re.S)
    assert xfs
    bold = re.search(rb'<c r="B2" s="(\d+)"', parts[user])
    assert bold
    entries = re.findall(r"<xf\b[^>]*/>|<xf\b.*?</xf>", xfs.group(2), re.S)
    duplicate = len(entries)
    entries.append(entries[int(bold.group(1))])
    styles = styles.replace(
        xfs.group(0), f'<cellXfs count="{len(entries)}">{"".join(entries)}</cellXfs>'
    )
    parts["xl/styles.xml"] = styles.encode()
    parts[user] = re.sub(
        rb'<c r="B(\d*[02468])" s="' + bold.group(1) + rb'"',
        rb'<c r="B\1" s="%d"' % duplicate,
        parts[user],
    )
    sst = b"".join(b"<si>" + text + b"</si>" for text in strings)
    parts["xl/sharedStrings.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        b'count="%d" uniqueCount="%d">%s</sst>' % (len(strings), len(strings), sst)
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        b"</Relationships>",
    )
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
