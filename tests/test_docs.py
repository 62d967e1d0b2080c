"""Every reference in the docs resolves inside the repository: relative Markdown links (and their
#anchors), repository paths mentioned in prose or in `code`, and the docs/ pages the code and
the command's help point users to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE = re.compile(r"`([^`\s]+)`")
TOP = [p.name for p in ROOT.iterdir() if p.name not in (".git", ".venv")]
MENTION = re.compile(
    r"(?<![\w/.~-])((?:" + "|".join(re.escape(n) for n in TOP) + r")/[\w./*-]*\w/?)"
)

NOT_REPO_PATHS = {
    # Paths inside the .xlsm package (a zip) or its VBA project (OLE streams), in a user's
    # home, or in another project.
    "xl/vbaProject.bin",
    "customUI/customUI14.xml",
    "VBA/_VBA_PROJECT",
    "VBA/dir",
    "~/.cache/xlrebalance",
    "yfinance/",
}
"""Slashed `code` spans that name something outside the repository, on purpose."""

PENDING: dict[str, str] = {
    # Referenced by work merged while in progress; the file arrives with its branch, e.g.
    # "docs/sync.md": "sync". When it lands, test_pending_references_are_still_pending fails:
    # delete the line here.
}
"""Repository paths referenced before their branch is merged, and that branch."""


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#+\s+(.*)$", page.read_text(encoding="utf-8"), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def _exists(text: str, page: Path) -> bool:
    if text in PENDING:
        return True
    bases = (ROOT, page.parent, ROOT / "python" / "xlrebalance")
    if any(ch in text for ch in "*?"):
        return any(any(base.glob(text)) for base in bases)
    return any((base / text).exists() for base in bases)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        inside = file.exists() and ROOT in file.parents
        if not inside or (anchor and file.suffix == ".md" and anchor not in _anchors(file)):
            broken.append(target)
    assert not broken, f"{page.name}: links that do not resolve: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_mentioned_repository_paths_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    missing = [m for m in MENTION.findall(text) if not _exists(m.rstrip("."), page)]
    for span in CODE.findall(text):
        if "/" not in span or span in NOT_REPO_PATHS or re.fullmatch(r"[\d./]+", span):
            continue  # not a path, or a ratio such as 5/25
        if span.startswith((".venv/", "xl/", "VBA/", "customUI/", "_rels/")):
            continue  # made by the scripts, or a part inside the .xlsm package
        last, first = span.rsplit("/", 1)[-1], span.split("/", 1)[0]
        if "." not in last and not span.endswith("/") and first not in TOP:
            continue  # a unit or a pair such as turnover/yr, not a path
        if re.fullmatch(r"[\w.*~-]+(/[\w.*-]+)*/?", span) and not _exists(span, page):
            missing.append(span)
    assert not missing, f"{page.name}: paths not in the repository: {sorted(set(missing))}"


def test_code_and_help_point_to_pages_that_exist() -> None:
    sources = [*(ROOT / "python").rglob("*.py"), *(ROOT / "udfs").rglob("*.py")]
    missing = set()
    for source in sources:
        for page in re.findall(r"docs/[\w.-]+\.md", source.read_text(encoding="utf-8")):
            if not (ROOT / page).exists() and page not in PENDING:
                missing.add(f"{source.relative_to(ROOT)}: {page}")
    assert not missing, sorted(missing)


def test_no_reference_to_files_outside_the_repository() -> None:
    for page in PAGES:
        assert "shared/" not in page.read_text(encoding="utf-8"), page.name


def test_pending_references_are_still_pending() -> None:
    arrived = [path for path in PENDING if (ROOT / path).exists()]
    assert not arrived, f"now in the repository, remove from PENDING: {arrived}"
