"""Pieces of the xlwings adapter that need no engine."""

from __future__ import annotations

from xlrebalance.workbook.xlwings_book import format_rectangles


def test_formats_cover_the_block_in_few_rectangles() -> None:
    money, pct = "#,##0", "0.00%"
    formats = [
        [None, money, pct, pct],
        [None, money, pct, pct],
        [None, "#,##0.00", pct, pct],
    ]
    assert format_rectangles(formats) == [
        (0, 1, 1, 1, money),
        (2, 1, 2, 1, "#,##0.00"),
        (0, 2, 2, 3, pct),
    ]
    covered = {
        (r, c): f
        for top, left, bottom, right, f in format_rectangles(formats)
        for r in range(top, bottom + 1)
        for c in range(left, right + 1)
    }
    expected = {(r, c): f for r, row in enumerate(formats) for c, f in enumerate(row) if f}
    assert covered == expected


def test_no_formats_no_rectangles() -> None:
    assert format_rectangles([[None, None]]) == []
    assert format_rectangles([]) == []
