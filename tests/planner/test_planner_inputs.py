"""Invalid inputs, the CLI's error path, and deterministic output."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from plancheck import check_plan, document, run

from xlrebalance.document import plan_to_dict, portfolio_from_dict
from xlrebalance.errors import InfeasibleError, PortfolioError
from xlrebalance.planner import plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "python" / "xlrebalance" / "templates" / "examples"


def valid() -> dict[str, Any]:
    return document(
        [
            {"ticker": "005930", "quantity": 10, "price": 71200, "kind": "STOCK"},
            {"ticker": "QQQ", "market": "US", "quantity": 2, "price": 512.3},
        ],
        {"005930": 0.5, "QQQ": 0.5},
        cash={"KRW": 100000, "USD": 10.0},
        fx={"USDKRW": 1450.0},
        groups=[{"name": "Tech", "tickers": ["QQQ"], "max_weight": 0.6}],
    )


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets ``a.b.0.c`` (list indices as numbers) to ``value``."""

    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return apply


def _duplicate_row(doc: dict[str, Any]) -> None:
    doc["holdings"].append(copy.deepcopy(doc["holdings"][0]))


def _drop_price(doc: dict[str, Any]) -> None:
    del doc["holdings"][1]["price"]


# (mutation, words the message must contain: the field and/or the ticker at fault)
INVALID = {
    "weights not summing to 1": (_set("targets.QQQ", 0.4), ["targets", "sum"]),
    "negative quantity": (_set("holdings.0.quantity", -1), ["holdings[0].quantity"]),
    "unknown currency": (_set("accounts.0.cash", {"XYZ": 5}), ["accounts[0].cash.XYZ", "XYZ"]),
    "unknown holding currency": (_set("holdings.1.currency", "USX"), ["holdings[1].currency"]),
    "missing price offline": (_drop_price, ["holdings[1].price", "QQQ"]),
    "missing FX offline": (_set("fx", {}), ["USD"]),
    "duplicate rows": (_duplicate_row, ["holdings[2]", "005930", "duplicate"]),
    "negative cap": (_set("groups.0.max_weight", -0.1), ["groups[0].max_weight"]),
    # Text that is one number is read as it ("512.3", "0.25%": see tests/inputs); text that is
    # not, or may be two, is an error.
    "text for a number": (_set("holdings.1.price", "about 512"), ["holdings[1].price", "number"]),
    "bool for a number": (_set("holdings.0.quantity", True), ["holdings[0].quantity", "number"]),
    "bool for a weight": (_set("targets.QQQ", True), ["targets.QQQ"]),
    "text for cash": (_set("accounts.0.cash.KRW", "100,00"), ["accounts[0].cash.KRW", "ambiguous"]),
    "unknown mode": (_set("settings.mode", "rebalanse"), ["settings.mode", "rebalanse"]),
    "text for a fee": (_set("settings.fees.US.rate", "0,25%"), ["settings.fees.US.rate", "0.25%"]),
    "negative min trade": (_set("settings.min_trade_value", -1), ["settings.min_trade_value"]),
    "fractional quantity": (_set("holdings.0.quantity", 1.5), ["holdings[0].quantity", "005930"]),
    "target without a row": (_set("targets", {"005930": 0.5, "SPY": 0.5}), ["targets.SPY"]),
}


def test_the_base_document_is_valid() -> None:
    # Otherwise every case below would pass for the wrong reason.
    check_plan(valid(), run(valid()))


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_input_raises_portfolio_error_naming_the_field(case: str) -> None:
    mutate, words = INVALID[case]
    doc = valid()
    mutate(doc)
    with pytest.raises(PortfolioError) as info:
        portfolio_from_dict(doc, offline=True)
    message = str(info.value)
    for word in words:
        assert word in message, f"{case}: {word!r} not in {message!r}"


def _cli(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xlrebalance", "plan", str(path), "--offline", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "case", ["weights not summing to 1", "text for a number", "missing FX offline"]
)
def test_cli_prints_input_errors_as_one_line(tmp_path: Path, case: str) -> None:
    mutate, words = INVALID[case]
    doc = valid()
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = _cli(path, "--json")
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert words[0] in lines[0]


def test_cli_reports_an_impossible_withdrawal_without_traceback(tmp_path: Path) -> None:
    # The only holding is locked, so nothing may be sold to pay a 5000 withdrawal.
    doc = document(
        [{"ticker": "A", "quantity": 10, "price": 1000, "locked": True}],
        {"A": 1.0},
        contribution={"KRW": -5000},
    )
    with pytest.raises(InfeasibleError):
        run(doc)
    path = tmp_path / "withdraw.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = _cli(path)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_cli_json_is_the_plan_output(tmp_path: Path) -> None:
    doc = valid()
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = _cli(path, "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    check_plan(doc, out)
    assert out.pop("realised")["sales"] is not None  # the CLI adds gains at average cost
    expected = run(doc)
    for o in (out, expected):
        o["summary"]["solver"].pop("seconds")
    assert out == expected


def _without_seconds(doc: dict[str, Any]) -> str:
    out = plan_to_dict(plan(portfolio_from_dict(copy.deepcopy(doc))))
    out["summary"]["solver"].pop("seconds")
    return json.dumps(out, sort_keys=True)


@pytest.mark.parametrize("name", ["seed.json", "equal-weight.json"])
def test_same_input_gives_the_same_plan(name: str) -> None:
    doc = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    first = _without_seconds(doc)
    assert first == _without_seconds(doc)
    assert json.loads(first)["orders"], "a determinism test on an empty plan proves little"
    check_plan(doc, json.loads(first))


def test_withdrawal_of_more_than_everything_names_the_contribution() -> None:
    # 1 share x 10000 and no cash; withdrawing 50000 leaves a negative portfolio.
    doc = document(
        [{"ticker": "005930", "quantity": 1, "price": 10000}],
        {"005930": 1.0},
        contribution={"KRW": -50000},
    )
    with pytest.raises(PortfolioError) as caught:
        plan(portfolio_from_dict(doc))
    assert caught.value.location == "settings.contribution.KRW"
    assert "50,000.00 KRW" in str(caught.value)
