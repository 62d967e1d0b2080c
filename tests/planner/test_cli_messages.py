"""What a user sees from the installed ``xlrebalance plan`` when a portfolio cannot be planned
or is written wrong: one error line on stderr that names where the problem is (account and
currency, or the JSON field) and what is expected; nothing on stdout, no traceback.

Run as a real subprocess from a folder outside the checkout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from plancheck import document

from installed_cli import run_console


def plan_error(doc: dict[str, Any], folder: Path) -> str:
    """The one error line ``xlrebalance plan --offline --json`` prints for ``doc``."""
    path = folder / "portfolio.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = run_console("plan", str(path), "--offline", "--json", cwd=folder, timeout=120)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("xlrebalance: error: "), lines[0]
    return lines[0].removeprefix("xlrebalance: error: ")


def _usd_withdrawal(auto_fx: bool, mode: str) -> dict[str, Any]:
    # 10 USD on hand, 200 USD withdrawn; plenty of KRW, but without auto_fx it cannot pay.
    return document(
        [
            {"ticker": "QQQ", "market": "US", "quantity": 2, "price": 500.0},
            {"ticker": "069500", "quantity": 10, "price": 40000},
        ],
        {"QQQ": 0.5, "069500": 0.5},
        cash={"KRW": 1_000_000, "USD": 10.0},
        fx={"USDKRW": 1400.0},
        mode=mode,
        auto_fx=auto_fx,
        contribution={"USD": -200.0},
    )


def test_usd_shortfall_without_auto_fx_is_named_in_usd(tmp_path: Path) -> None:
    message = plan_error(_usd_withdrawal(auto_fx=False, mode="buy_only"), tmp_path)
    assert message.startswith("account 'a': USD cash is short by 190.00 USD"), message
    assert "KRW" not in message
    assert "auto_fx" in message


def test_usd_shortfall_larger_than_the_holdings_without_auto_fx(tmp_path: Path) -> None:
    # Selling both QQQ shares brings 1,000 USD: 2,000 - 10 - 1,000 is still missing.
    doc = _usd_withdrawal(auto_fx=False, mode="rebalance")
    doc["settings"]["contribution"] = {"USD": -2000.0}
    message = plan_error(doc, tmp_path)
    assert message.startswith("account 'a': USD cash is short by 990.00 USD"), message


def test_shortfall_with_auto_fx_is_in_base_currency_all_currencies_counted(
    tmp_path: Path,
) -> None:
    # With auto_fx the account's currencies pay for each other, so the base total is the
    # honest figure. 069500 is locked and sell_only: only the two QQQ shares may be sold.
    doc = _usd_withdrawal(auto_fx=True, mode="sell_only")
    doc["holdings"][1]["locked"] = True
    doc["settings"]["contribution"] = {"USD": -1800.0}
    message = plan_error(doc, tmp_path)
    # 1800 - 10 - 1000 = 790 USD = 1,106,000 KRW, less the 1,000,000 KRW on hand.
    assert message.startswith("account 'a': cash is short by 106,000.00 KRW"), message
    assert "all its currencies counted" in message


# -- a new user's hostile-but-plausible documents, from the bundled seed example ---------------

SEED = Path(__file__).resolve().parents[2] / "python/xlrebalance/templates/examples/seed.json"


def _seed() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SEED.read_text(encoding="utf-8"))
    return doc


def _row(doc: dict[str, Any], ticker: str) -> dict[str, Any]:
    row: dict[str, Any] = next(h for h in doc["holdings"] if h["ticker"] == ticker)
    return row


def _blank_account_id(doc: dict[str, Any]) -> None:
    doc["accounts"][0]["id"] = ""


def _fx_the_other_way_round(doc: dict[str, Any]) -> None:
    doc["fx"] = {"KRWUSD": 1 / 1450}


def _base_usd_with_usdkrw(doc: dict[str, Any]) -> None:
    doc["base_currency"] = "USD"


def _usd_withdrawal_above_everything(doc: dict[str, Any]) -> None:
    doc["settings"]["contribution"] = {"USD": -1_000_000_000}


def _targets_short(doc: dict[str, Any]) -> None:
    doc["targets"]["VOO"] -= 0.1


def _target_not_held(doc: dict[str, Any]) -> None:
    doc["targets"]["AAPL"] = 0.05
    doc["targets"]["VOO"] -= 0.05


def _zero_price(doc: dict[str, Any]) -> None:
    _row(doc, "VOO")["price"] = 0


def _negative_cash(doc: dict[str, Any]) -> None:
    doc["accounts"][0]["cash"]["KRW"] = -1000


def _unknown_currency(doc: dict[str, Any]) -> None:
    doc["accounts"][0]["cash"]["XYZ"] = 100


def _targets_as_percent(doc: dict[str, Any]) -> None:
    doc["targets"] = {k: v * 100 for k, v in doc["targets"].items()}


HOSTILE = {
    # Before: 'accounts[0].id: expected text, got text '''.
    "blank account id": (
        _blank_account_id,
        'accounts[0].id: expected an account name such as "general", got empty text',
    ),
    # Before: only "no FX rate for USD", with the rate right there written backwards.
    "fx written the other way round": (
        _fx_the_other_way_round,
        "fx.USDKRW: no FX rate for USD (base units per 1 USD) and running offline; fx has "
        "KRWUSD 0.000689655, the other way round: write it as USDKRW 1450",
    ),
    "base USD with a USDKRW rate": (
        _base_usd_with_usdkrw,
        "fx.KRWUSD: no FX rate for KRW (base units per 1 KRW) and running offline; fx has "
        "USDKRW 1450, the other way round: write it as KRWUSD 0.000689655",
    ),
    # Before: 'settings.contribution.USD: a withdrawal of 1,450,000,000,000.00 KRW ...'.
    "USD withdrawal above the portfolio": (
        _usd_withdrawal_above_everything,
        "settings.contribution.USD: a withdrawal of 1,000,000,000.00 USD "
        "(1,450,000,000,000.00 KRW) is not less than the whole portfolio (41,675,645.00 KRW)",
    ),
    # Already clear; pinned so they stay so.
    "targets not summing to 1": (
        _targets_short,
        "targets: target weights sum to 0.9, expected 1 (add a CASH target for cash)",
    ),
    "target for a ticker not held": (
        _target_not_held,
        "targets.AAPL: AAPL has a target but no holdings row: add a row with quantity 0 so it "
        "has an account, market and currency",
    ),
    "zero price": (_zero_price, "holdings[0].price: VOO: expected a positive price, got 0"),
    "negative cash": (
        _negative_cash,
        "accounts[0].cash.KRW: expected a number >= 0, got -1000",
    ),
    "unknown currency": (
        _unknown_currency,
        "accounts[0].cash.XYZ: unknown currency 'XYZ' (expected a code such as KRW or USD)",
    ),
    "targets as percentages": (
        _targets_as_percent,
        "targets.VOO: expected a fraction from 0 to 1 (0.2 for 20%), got 20",
    ),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_document_gets_one_line_naming_the_field(case: str, tmp_path: Path) -> None:
    mutate, expected = HOSTILE[case]
    doc = _seed()
    mutate(doc)
    assert plan_error(doc, tmp_path) == expected


def _plan_json(doc: dict[str, Any], folder: Path) -> dict[str, Any]:
    path = folder / "portfolio.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = run_console("plan", str(path), "--offline", "--json", cwd=folder, timeout=120)
    assert out.returncode == 0, out.stderr
    plan: dict[str, Any] = json.loads(out.stdout)
    return plan


def test_a_locked_empty_row_with_a_target_is_named_in_a_warning(tmp_path: Path) -> None:
    # Before: SPY (target 10%, quantity 0) locked planned silently around it.
    doc = _seed()
    _row(doc, "SPY")["locked"] = True
    plan = _plan_json(doc, tmp_path)
    assert all(o["ticker"] != "SPY" for o in plan["orders"])
    assert (
        "SPY: target 10.00%, but its holdings rows are locked and hold nothing, so it is never "
        "bought (unlock it or move its target)"
    ) in plan["warnings"]


def test_a_cap_below_a_locked_holding_warns_and_keeps_the_group_from_rising(
    tmp_path: Path,
) -> None:
    doc = _seed()
    _row(doc, "TQQQ")["locked"] = True
    doc["groups"][0]["max_weight"] = 0.01
    plan = _plan_json(doc, tmp_path)
    assert any(
        w.startswith("group Leveraged is at 7.31%, above its cap 1.00%, and cannot be brought")
        for w in plan["warnings"]
    ), plan["warnings"]
    assert all(o["ticker"] != "TQQQ" for o in plan["orders"])
