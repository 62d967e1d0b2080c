"""Fixtures for the Excel-facing code: fake quote sources, a live-quotes service on a
temporary cache, the UDF module imported the way xlwings imports it (by name, installed)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from excel_data import PRICES

from xlrebalance import worksheet
from xlrebalance.quotes import QuoteCache, Sources
from xlrebalance.quotes.fake import FakeSource


@pytest.fixture
def yahoo() -> FakeSource:
    return FakeSource(dict(PRICES), name="yahoo")


@pytest.fixture
def live(tmp_path: Path, yahoo: FakeSource) -> Iterator[worksheet.LiveQuotes]:
    """The worksheet functions' service on a fresh cache; fetches run when the test says."""
    with QuoteCache(tmp_path / "live-cache") as cache:
        service = worksheet.LiveQuotes(cache=cache, sources=Sources(yahoo=yahoo), background=False)
        previous = worksheet.use_live(service)
        try:
            yield service
        finally:
            worksheet.use_live(previous)


@pytest.fixture
def udfs() -> ModuleType:
    import xlrebalance_udfs

    return xlrebalance_udfs


@pytest.fixture(scope="session")
def xw() -> Iterator[ModuleType]:
    """xlwings with its remote engine, which needs a license key: the noncommercial one,
    set for the tests only (xlwings reads it when it is imported)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XLWINGS_LICENSE_KEY", "noncommercial")
    import xlwings

    if not xlwings.__pro__:
        importlib.reload(xlwings)  # imported earlier without the key
    assert xlwings.__pro__
    yield xlwings
    patch.undo()
