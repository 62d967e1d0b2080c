"""Helpers for the planner tests: a document builder and an independent plan checker.

The checker re-derives everything from the portfolio *document* (plain dicts) and the plan's
JSON output. It deliberately imports nothing from ``xlrebalance.planner``: a bug shared by the
planner and its verifier would otherwise go unseen.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from xlrebalance.document import plan_to_dict, portfolio_from_dict
from xlrebalance.planner import plan

# Slack for balances, in native currency units (amounts in the JSON are rounded to 6 decimals).
CASH_EPS = 1e-6
WEIGHT_EPS = 1e-9

DEFAULT_TAX = {"KR:STOCK": 0.002, "KR:ETF": 0.0}
# docs/portfolio-format.md: fees and taxes are billed in whole won (fractions dropped) and in
# whole cents (rounded up) unless settings.fee_rounding says otherwise.
DEFAULT_ROUNDING = {"KR": (1.0, "down"), "US": (0.01, "up")}
_DECIMAL_MODES = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}


def billed(s: dict[str, Any], market: str, amount: float) -> float:
    """A fee or tax as the broker bills it, in decimal arithmetic (not the planner's)."""
    unit_default, mode_default = DEFAULT_ROUNDING[market]
    rule = s.get("fee_rounding", {}).get(market, {})
    unit, mode = rule.get("unit", unit_default), rule.get("mode", mode_default)
    if unit <= 0 or amount == 0:
        return amount
    steps = (Decimal(repr(amount)) / Decimal(repr(unit))).quantize(Decimal("1e-9"))
    whole = steps.to_integral_value(rounding=_DECIMAL_MODES[mode])
    return float(whole * Decimal(repr(unit)))


def reserves(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Cash each account keeps: its reserve, as far as its cash at the start covers it."""
    kept: dict[str, dict[str, float]] = defaultdict(dict)
    for account, amounts in doc["settings"].get("cash_reserve", {}).items():
        for currency, amount in amounts.items():
            kept[account][currency] = min(amount, max(start_cash(doc)[account][currency], 0.0))
    return kept


def document(
    holdings: list[dict[str, Any]],
    targets: dict[str, float],
    *,
    cash: dict[str, float] | None = None,
    accounts: list[dict[str, Any]] | None = None,
    fx: dict[str, float] | None = None,
    groups: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """A version-1 portfolio document. Costs default to zero (golden tests add what they
    test); holdings default to account ``a`` and, when the market is KR, currency KRW."""
    rows = []
    for h in holdings:
        row = {"account": "a", "market": "KR", **h}
        row.setdefault("currency", "USD" if row["market"] == "US" else "KRW")
        rows.append(row)
    base_settings: dict[str, Any] = {
        "mode": "rebalance",
        "contribution": {},
        "fractional": False,
        "band": {"absolute": 0.0, "relative": 0.0},
        "min_trade_value": 0,
        "fees": {"US": {"rate": 0.0, "min": 0}, "KR": {"rate": 0.0, "min": 0}},
        "sell_tax": {"KR:STOCK": 0.0, "KR:ETF": 0.0},
        "fx_spread": 0.0,
        "auto_fx": True,
    }
    base_settings.update(settings)
    return {
        "version": 1,
        "base_currency": "KRW",
        "fx": {"USDKRW": 1000.0} if fx is None else fx,
        "accounts": accounts if accounts is not None else [{"id": "a", "cash": cash or {}}],
        "holdings": rows,
        "targets": targets,
        "groups": groups or [],
        "settings": base_settings,
    }


def run(doc: dict[str, Any]) -> dict[str, Any]:
    """Plan a document and return the JSON plan output (as the CLI's ``--json`` prints it)."""
    portfolio = portfolio_from_dict(copy.deepcopy(doc), offline=True)
    return plan_to_dict(plan(portfolio))


def orders_by_key(out: dict[str, Any]) -> dict[tuple[str, str], tuple[str, float]]:
    """``{(account, ticker): (side, quantity)}`` -- what golden tests compare."""
    return {(o["account"], o["ticker"]): (o["side"], o["quantity"]) for o in out["orders"]}


def drift_of(values: dict[str, float], cash: float, targets: dict[str, float]) -> float:
    """The format document's drift, from base-currency values per ticker and total cash."""
    total = sum(values.values()) + cash
    if total <= 0:
        # Nothing left (a last share sold to pay its own fee): every weight is 0.
        return sum(targets.values())
    keys = set(values) | {k for k in targets if k != "CASH"}
    d = sum(abs(values.get(k, 0.0) / total - targets.get(k, 0.0)) for k in keys)
    return d + abs(cash / total - targets.get("CASH", 0.0))


# ---------------------------------------------------------------------------------------------
# The independent checker.


@dataclass
class Facts:
    """What the checker derived, for properties that need more than pass/fail."""

    cash_after: dict[str, dict[str, float]] = field(default_factory=dict)
    values_before: dict[str, float] = field(default_factory=dict)  # base, per ticker
    values_after: dict[str, float] = field(default_factory=dict)
    cash_start_base: float = 0.0  # after the contribution, before trading
    cash_after_base: float = 0.0
    total_start: float = 0.0  # V0: holdings + cash after the contribution
    total_after: float = 0.0
    drift_empty: float = 0.0  # drift if nothing were traded (contribution included)
    drift_after: float = 0.0
    costs_base: float = 0.0


def _rate(doc: dict[str, Any], currency: str) -> float:
    if currency == doc["base_currency"]:
        return 1.0
    return float(doc["fx"][currency + doc["base_currency"]])


def _tax_rate(s: dict[str, Any], market: str, kind: str) -> float:
    taxes = s.get("sell_tax", DEFAULT_TAX)
    key = f"{market}:{kind}"
    return float(taxes[key]) if key in taxes else float(taxes.get(market, 0.0))


def band_width(s: dict[str, Any], target: float) -> float:
    """5/25 style: off by more than ``absolute`` or more than ``relative`` x target."""
    band = s.get("band", {})
    parts = []
    if band.get("absolute", 0) > 0:
        parts.append(band["absolute"])
    if band.get("relative", 0) > 0:
        parts.append(band["relative"] * target)
    return min(parts, default=0.0)


def ticker_values(doc: dict[str, Any]) -> dict[str, float]:
    values: dict[str, float] = {}
    for h in doc["holdings"]:
        v = h["quantity"] * h["price"] * _rate(doc, h["currency"])
        values[h["ticker"]] = values.get(h["ticker"], 0.0) + v
    return values


def total_start(doc: dict[str, Any]) -> float:
    """V0: holdings plus cash after the contribution, in base currency."""
    cash = sum(v * _rate(doc, c) for b in start_cash(doc).values() for c, v in b.items())
    return sum(ticker_values(doc).values()) + cash


def in_band_tickers(doc: dict[str, Any], margin: float = -WEIGHT_EPS) -> set[str]:
    """Tickers whose weight on V0 is within their band (strictly by ``margin``; a negative
    margin also counts those on the edge, for building candidates conservatively)."""
    s = doc["settings"]
    if band_width(s, 1.0) <= 0:
        return set()
    total = total_start(doc)
    out = set()
    for ticker, value in ticker_values(doc).items():
        t = doc["targets"].get(ticker, 0.0)
        if abs(value / total - t) < band_width(s, t) - margin:
            out.add(ticker)
    return out


def sellable(doc: dict[str, Any], h: dict[str, Any], frozen: set[str]) -> bool:
    """Whether the whole row could be sold: mode, lock, band and minimum trade allow it."""
    s = doc["settings"]
    value = h["quantity"] * h["price"] * _rate(doc, h["currency"])
    return (
        s.get("mode", "rebalance") != "buy_only"
        and not h.get("locked", False)
        and h["ticker"] not in frozen
        and h["quantity"] > 0
        and value >= s.get("min_trade_value", 0)
    )


def pays_own_fee(doc: dict[str, Any], h: dict[str, Any]) -> bool:
    """Whether selling the whole row brings, with all its account's cash, at least the sale's
    minimum fee: a sale that cannot pay its own fee cannot bring a group under its cap."""
    s = doc["settings"]
    rate = _rate(doc, h["currency"])
    fee_min = s.get("fees", {}).get(h["market"], {}).get("min", 0) * rate
    tax = _tax_rate(s, h["market"], h.get("kind", "STOCK"))
    value = h["quantity"] * h["price"] * rate * (1 - tax)
    account = next(a for a in doc["accounts"] if a["id"] == h["account"])
    cash = sum(v * _rate(doc, c) for c, v in account.get("cash", {}).items())
    return bool(value + cash >= fee_min)


def sell_everything(doc: dict[str, Any]) -> dict[str, Any]:
    """A candidate plan: sell every row that may be sold, then settle each account's cash with
    automatic FX. If it keeps every rule, the document is not infeasible."""
    s = doc["settings"]
    frozen = in_band_tickers(doc)
    cash = start_cash(doc)
    orders = []
    for h in doc["holdings"]:
        if not sellable(doc, h, frozen):
            continue
        amount = h["quantity"] * h["price"]
        fee_rule = s.get("fees", {}).get(h["market"], {})
        fee = billed(
            s, h["market"], max(fee_rule.get("rate", 0.0) * amount, fee_rule.get("min", 0.0))
        )
        tax = billed(s, h["market"], _tax_rate(s, h["market"], h.get("kind", "STOCK")) * amount)
        orders.append(
            {
                "account": h["account"],
                "ticker": h["ticker"],
                "side": "SELL",
                "quantity": h["quantity"],
                "price": h["price"],
                "currency": h["currency"],
                "amount": amount,
                "fees": fee,
                "taxes": tax,
            }
        )
        cash[h["account"]][h["currency"]] += amount - fee - tax
    conversions = []
    base, spread = doc["base_currency"], s.get("fx_spread", 0.0)
    if s.get("auto_fx", True):
        for account, balances in cash.items():
            for c, amount in list(balances.items()):
                if c != base and amount < 0:  # buy the missing foreign currency with base
                    paid = -amount * _rate(doc, c) * (1 + spread)
                    conversions.append(_conversion(account, base, c, paid, -amount))
                    balances[c] = 0.0
                    balances[base] -= paid
            for c, amount in list(balances.items()):
                if c != base and amount > 0 and balances[base] < 0:
                    gives = amount * _rate(doc, c) * (1 - spread)
                    use = min(1.0, -balances[base] / gives)
                    conversions.append(_conversion(account, c, base, use * amount, use * gives))
                    balances[c] -= use * amount
                    balances[base] += use * gives
    return {"orders": orders, "conversions": conversions, "summary": {}}


def _conversion(account: str, sell: str, buy: str, sold: float, bought: float) -> dict[str, Any]:
    return {
        "account": account,
        "sell_currency": sell,
        "buy_currency": buy,
        "sell_amount": sold,
        "buy_amount": bought,
    }


def start_cash(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Cash per account and currency after the contribution (which goes to
    ``contribution_account`` or else the first account)."""
    s = doc["settings"]
    cash: dict[str, dict[str, float]] = {
        a["id"]: defaultdict(float, {c: float(v) for c, v in a.get("cash", {}).items()})
        for a in doc["accounts"]
    }
    to = s.get("contribution_account") or doc["accounts"][0]["id"]
    for c, v in s.get("contribution", {}).items():
        cash[to][c] += float(v)
    return cash


def check_plan(
    doc: dict[str, Any],
    out: dict[str, Any],
    *,
    summary: bool = True,
    unreachable: set[str] | None = None,
) -> Facts:
    """Assert every rule a plan must keep; return what was derived. ``summary=False`` skips
    comparing with the plan's own summary (for candidate plans built by the tests).
    ``unreachable``: the groups above their cap that no plan can bring under it, when known
    (from the reference MILP); else a group counts as reachable when what may not be sold is
    clearly under its cap (other costs aside; a row whose sale cannot pay its own minimum fee
    counts as what may not be sold)."""
    s = doc["settings"]
    mode = s.get("mode", "rebalance")
    fractional = s.get("fractional", False)
    rows = {(h["account"], h["ticker"]): h for h in doc["holdings"]}
    facts = Facts()

    cash = start_cash(doc)
    for h in doc["holdings"]:
        v = h["quantity"] * h["price"] * _rate(doc, h["currency"])
        facts.values_before[h["ticker"]] = facts.values_before.get(h["ticker"], 0.0) + v
    facts.cash_start_base = sum(
        v * _rate(doc, c) for balances in cash.values() for c, v in balances.items()
    )
    facts.total_start = sum(facts.values_before.values()) + facts.cash_start_base
    facts.drift_empty = drift_of(facts.values_before, facts.cash_start_base, doc["targets"])

    traded: dict[tuple[str, str], float] = {}
    for o in out["orders"]:
        key = (o["account"], o["ticker"])
        assert key in rows, f"order for a row that is not in holdings: {key}"
        assert key not in traded, f"{key} appears twice (bought and sold?)"
        h = rows[key]
        q = o["quantity"]
        assert q > 0, f"{key}: non-positive quantity {q}"
        assert o["side"] in ("BUY", "SELL")
        assert not h.get("locked", False), f"{key} is locked but traded"
        assert o["price"] == h["price"] and o["currency"] == h["currency"]
        if not fractional:
            assert q == int(q), f"{key}: {q} is not a whole number of shares"
        else:
            assert abs(q * 1e6 - round(q * 1e6)) < 1e-3, f"{key}: {q} finer than 1e-6"
        if mode == "buy_only":
            assert o["side"] == "BUY", f"{key}: sold in buy_only"
        if mode == "sell_only":
            assert o["side"] == "SELL", f"{key}: bought in sell_only"
        if o["side"] == "SELL":
            assert q <= h["quantity"] + 1e-9, f"{key}: sells {q} of {h['quantity']} held"
        amount = q * h["price"]
        rate = _rate(doc, h["currency"])
        assert amount * rate >= s.get("min_trade_value", 0) - 1e-6, (
            f"{key}: {o['side']} of {amount * rate:.2f} below the minimum trade value"
        )
        fee_rule = s.get("fees", {}).get(h["market"], {})
        fee = billed(
            s, h["market"], max(fee_rule.get("rate", 0.0) * amount, fee_rule.get("min", 0.0))
        )
        tax_rate = _tax_rate(s, h["market"], h.get("kind", "STOCK"))
        tax = billed(s, h["market"], tax_rate * amount) if o["side"] == "SELL" else 0.0
        assert math.isclose(o["amount"], amount, rel_tol=1e-9, abs_tol=1e-6), (key, o, amount)
        assert math.isclose(o["fees"], fee, rel_tol=1e-9, abs_tol=1e-6), (key, o, fee)
        assert math.isclose(o["taxes"], tax, rel_tol=1e-9, abs_tol=1e-6), (key, o, tax)
        signed = q if o["side"] == "BUY" else -q
        traded[key] = signed
        cash[o["account"]][h["currency"]] -= signed * h["price"] + fee + tax
        facts.costs_base += (fee + tax) * rate

    # FX conversions: only with auto_fx, only at the rate and spread, only within one account.
    spread = s.get("fx_spread", 0.0)
    base = doc["base_currency"]
    conversions = out.get("conversions", [])
    if not s.get("auto_fx", True):
        assert conversions == [], "auto_fx is false but the plan converts currencies"
    for c in conversions:
        assert c["account"] in cash
        assert c["sell_amount"] >= 0 and c["buy_amount"] >= 0
        if c["sell_currency"] == base:
            paid = c["buy_amount"] * _rate(doc, c["buy_currency"]) * (1 + spread)
            assert math.isclose(c["sell_amount"], paid, rel_tol=1e-9, abs_tol=1e-6), c
        else:
            assert c["buy_currency"] == base, c
            got = c["sell_amount"] * _rate(doc, c["sell_currency"]) * (1 - spread)
            assert math.isclose(c["buy_amount"], got, rel_tol=1e-9, abs_tol=1e-6), c
        cash[c["account"]][c["sell_currency"]] -= c["sell_amount"]
        cash[c["account"]][c["buy_currency"]] += c["buy_amount"]
        given = c["sell_amount"] * _rate(doc, c["sell_currency"])
        facts.costs_base += given - c["buy_amount"] * _rate(doc, c["buy_currency"])

    kept = reserves(doc)
    for account, balances in cash.items():
        for currency, amount in balances.items():
            floor = kept.get(account, {}).get(currency, 0.0)
            assert amount >= floor - CASH_EPS, (
                f"{account} {currency} cash ends at {amount}, below {floor} (zero or reserve)"
            )
            if not summary:
                continue
            reported = out["summary"]["cash_after"].get(account, {}).get(currency, 0.0)
            assert math.isclose(reported, amount, rel_tol=1e-9, abs_tol=1e-4), (
                f"{account} {currency}: summary says {reported}, orders give {amount}"
            )
    facts.cash_after = {a: dict(b) for a, b in cash.items()}

    # No ticker bought in one row and sold in another row of the same account is implied by
    # one row per (account, ticker); across the whole plan each row trades at most once.
    facts.values_after = dict(facts.values_before)
    for (_, ticker), q in traded.items():
        h = rows[(_, ticker)]
        facts.values_after[ticker] += q * h["price"] * _rate(doc, h["currency"])
    facts.cash_after_base = sum(
        v * _rate(doc, c) for balances in cash.values() for c, v in balances.items()
    )
    facts.total_after = sum(facts.values_after.values()) + facts.cash_after_base
    facts.drift_after = drift_of(facts.values_after, facts.cash_after_base, doc["targets"])
    assert not summary or math.isclose(
        out["summary"]["drift_after"], facts.drift_after, abs_tol=1e-8
    ), f"reported drift_after {out['summary']['drift_after']} != recomputed {facts.drift_after}"

    # Bands: a ticker inside its band (weights on V0, contribution included) is left alone.
    traded_tickers = {t for (_, t) in traded}
    for ticker in in_band_tickers(doc, margin=WEIGHT_EPS):
        assert ticker not in traded_tickers, f"{ticker} is inside its band but traded"

    # Caps (weights on the value after costs): a group within its cap stays within it; a group
    # above it ends at or under it where selling can get it there (with room to spare for
    # costs); and wherever it ends, a group that started above its cap never rises in value
    # (members may be bought only with what other members' sales bring).
    frozen = in_band_tickers(doc)
    for g in doc.get("groups", []):
        members = set(g["tickers"])
        before = sum(facts.values_before.get(t, 0.0) for t in members)
        after = sum(facts.values_after.get(t, 0.0) for t in members)
        cap = g["max_weight"]
        if before > cap * facts.total_start + 1e-6:
            assert after <= before + 1e-6, (
                f"group {g['name']}: above its cap {cap} and rises from {before} to {after}"
            )
            floor = sum(
                h["quantity"] * h["price"] * _rate(doc, h["currency"])
                for h in doc["holdings"]
                if h["ticker"] in members
                and not (sellable(doc, h, frozen) and pays_own_fee(doc, h))
            )
            reachable = (
                floor < 0.98 * cap * facts.total_start
                if unreachable is None
                else g["name"] not in unreachable
            )
            if reachable:
                assert after <= cap * facts.total_after + 1e-6, (
                    f"group {g['name']}: above its cap {cap} and could be sold under it, "
                    f"but ends at {after / facts.total_after:.6f}"
                )
        elif before < cap * facts.total_start - 1e-6:
            assert after <= cap * facts.total_after + 1e-6, (
                f"group {g['name']}: {before / facts.total_start:.6f} before, "
                f"{after / facts.total_after:.6f} after, cap {cap}"
            )
    return facts
