from __future__ import annotations

from pathlib import Path

import pytest

from xlrebalance.backtest.history import read_prices_csv, split_fx
from xlrebalance.errors import PortfolioError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_closes_sorted_with_blanks_as_no_close(tmp_path: Path) -> None:
    path = write(
        tmp_path, "date,AAPL,069500,USDKRW\n2024-01-03,101,,1310\n2024-01-02,100,41000,1300\n"
    )
    h = split_fx(read_prices_csv(path), "KRW", ["USD"])
    assert h.tickers == ("AAPL", "069500")
    assert [str(d) for d in h.dates] == ["2024-01-02", "2024-01-03"]
    assert h.closes[0].tolist() == [100.0, 41000.0]
    assert h.closes[1, 1] != h.closes[1, 1]  # NaN
    assert h.fx["USD"].tolist() == [1300.0, 1310.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AAPL\n100\n", "expected a 'date' column"),
        ("date,AAPL\n2024-13-01,100\n", "row 2: date '2024-13-01' is not YYYY-MM-DD"),
        ("date,AAPL\n2024-01-02,abc\n", "row 2 column AAPL: 'abc' is not a number"),
        ("date,AAPL\n2024-01-02,-1\n", "expected a positive price"),
        ("date,AAPL\n2024-01-02,1\n2024-01-02,2\n", "date 2024-01-02 appears twice"),
        ("date,AAPL,AAPL\n2024-01-02,1,2\n", "duplicate column AAPL"),
        ("date,AAPL\n2024-01-02,1,2\n", "row 2: expected 2 cells, found 3"),
    ],
)
def test_bad_csv_names_row_and_column(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PortfolioError, match=message.replace("(", r"\(")):
        read_prices_csv(write(tmp_path, text))
