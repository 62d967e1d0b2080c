"""``xlrebalance exposure FILE|BOOK [--json] [--offline] [--top N]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from xlrebalance.exposure.lookthrough import UNKNOWN_SECTOR, Exposure, FundHoldings, look_through
from xlrebalance.model import Plan, Portfolio
from xlrebalance.pnl import PnlReport, pnl_report


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "exposure",
        help="look-through exposure (companies, sectors, leverage) and profit and loss",
        description=(
            "What the portfolio owns once each fund is replaced by its top holdings, gross "
            "exposure with leveraged funds counted at their factor, and unrealised gains. "
            "Fund holdings are fetched from Yahoo and cached for a week."
        ),
    )
    p.add_argument("file", help="portfolio JSON document or workbook (.xlsx, .xlsm)")
    p.add_argument(
        "--offline",
        action="store_true",
        help="use the prices in the file and cached fund holdings only (default: fetch)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--top", type=int, default=10, help="how many underlying companies to list (default 10)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from xlrebalance.document import load_portfolio
    from xlrebalance.quotes import QuoteCache, fill_prices
    from xlrebalance.quotes.funds import fund_holdings, online_sources
    from xlrebalance.workbook import command as workbook_commands

    if workbook_commands.is_workbook(args.file):
        portfolio = workbook_commands.load_workbook_portfolio(args.file)
    else:
        workbook_commands.check_plan_input(args.file)
        portfolio = load_portfolio(args.file, offline=args.offline)
    with QuoteCache() as cache:
        source = krx = None
        if not args.offline:
            portfolio, quotes = fill_prices(portfolio, cache=cache)
            if note := quotes.note():
                print(f"xlrebalance: {note}", file=sys.stderr)
            source, krx = online_sources(cache)
        report = fund_holdings(portfolio, cache, source, krx=krx)
    if note := report.note():
        print(f"xlrebalance: {note}", file=sys.stderr)
    exposure = look_through(portfolio, report.holdings)
    pnl = pnl_report(portfolio)
    if args.json:
        doc = {
            "exposure": exposure_to_dict(exposure, report.holdings),
            "pnl": pnl_to_dict(pnl),
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(format_exposure(portfolio, exposure, pnl, top=args.top))
    return 0


def _as_of(fund: FundHoldings | None) -> str | None:
    return fund.as_of.isoformat() if fund is not None and fund.as_of is not None else None


def exposure_to_dict(exposure: Exposure, funds: Mapping[str, FundHoldings]) -> dict[str, Any]:
    return {
        "base_currency": exposure.base_currency,
        "value": exposure.value,
        "cash_weight": exposure.cash_weight,
        "net": exposure.net,
        "gross": exposure.gross,
        "coverage": exposure.coverage,
        "unknown": list(exposure.unknown),
        "positions": [
            {
                "ticker": p.ticker,
                "value": p.value,
                "weight": p.weight,
                "leverage": p.leverage.factor,
                "leverage_source": p.leverage.source,
                "exposure": p.exposure,
                "basis": p.basis,
                "covered": p.covered,
                "holdings_as_of": _as_of(funds.get(p.ticker)),
            }
            for p in exposure.positions
        ],
        "companies": [
            {"symbol": c.symbol, "name": c.name, "weight": c.weight, "via": dict(c.via)}
            for c in exposure.companies
        ],
        "sectors": dict(exposure.sectors),
    }


def pnl_to_dict(pnl: PnlReport) -> dict[str, Any]:
    return {
        "base_currency": pnl.base_currency,
        "positions": [
            {
                "account": p.account,
                "ticker": p.ticker,
                "currency": p.currency,
                "quantity": p.quantity,
                "average_cost": p.average_cost,
                "price": p.price,
                "gain": p.gain,
                "gain_base": p.gain_base,
                "return": p.ret,
                "take_profit": p.take_profit,
                "take_profit_hit": p.take_profit_hit,
            }
            for p in pnl.positions
        ],
        "accounts": [
            {
                "account": a.account,
                "cost": a.cost_base,
                "value": a.value_base,
                "gain": a.gain_base,
                "return": a.ret,
                "rows_without_cost": a.rows_without_cost,
            }
            for a in pnl.accounts
        ],
        "total": {
            "cost": pnl.total.cost_base,
            "value": pnl.total.value_base,
            "gain": pnl.total.gain_base,
            "return": pnl.total.ret,
        },
    }


def format_exposure(portfolio: Portfolio, exposure: Exposure, pnl: PnlReport, *, top: int) -> str:
    base = exposure.base_currency
    lines = [
        f"Value        {exposure.value:,.0f} {base}   cash {exposure.cash_weight:.1%}",
        f"Exposure     net {exposure.net:.1%}   gross {exposure.gross:.1%} of value "
        "(leveraged funds at their factor)",
        f"Coverage     {exposure.coverage:.1%} of gross exposure attributed to named companies",
    ]
    if exposure.unknown:
        lines.append(f"Unknown      holdings of {', '.join(exposure.unknown)} (no data)")
    lines += ["", "Top companies (look-through weight, via)"]
    for c in exposure.top(top):
        via = ", ".join(f"{t} {w:.2%}" for t, w in c.via)
        lines.append(f"  {c.symbol:<10} {c.weight:>7.2%}  {via}")
    lines += ["", "Sectors"]
    for sector, weight in exposure.sectors.items():
        label = "(not attributed)" if sector == UNKNOWN_SECTOR else sector
        lines.append(f"  {label:<24} {weight:>7.2%}")
    leveraged = [p for p in exposure.positions if p.leverage.factor != 1]
    if leveraged:
        lines += ["", "Leverage"]
        for p in leveraged:
            lines.append(
                f"  {p.ticker:<10} {p.leverage.factor:+g}x  weight {p.weight:.2%} -> "
                f"exposure {p.exposure:+.2%} ({p.leverage.source})"
            )
    lines += ["", f"Profit and loss ({base}, at today's FX)"]
    for a in (*pnl.accounts, pnl.total):
        name = a.account or "total"
        ret = "" if a.ret is None else f"  {a.ret:+.1%}"
        missing = ""
        if a.rows_without_cost:
            missing = f"  ({a.rows_without_cost} rows without average cost)"
        lines.append(f"  {name:<12} gain {a.gain_base:>14,.0f}{ret}{missing}")
    for row in pnl.take_profit_rows:
        assert row.ret is not None and row.take_profit is not None
        lines.append(
            f"  take profit: {row.ticker} in {row.account} is up {row.ret:.1%} "
            f"(target {row.take_profit:.0%})"
        )
    return "\n".join(lines)


def with_exposure_checks(portfolio: Portfolio, plan: Plan, *, offline: bool) -> Plan:
    """``plan`` with warnings for broken look-through limits and take-profit rows. Fund
    holdings come from the cache (and, online, from Yahoo when older than a week); a book
    without limits or take-profit targets costs nothing here."""
    from xlrebalance.exposure.checks import plan_warnings
    from xlrebalance.quotes.funds import holdings_for

    has_limits = portfolio.settings.exposure_limits.any_set
    if not has_limits and not any(h.take_profit is not None for h in portfolio.holdings):
        return plan
    funds = holdings_for(portfolio, offline=offline) if has_limits else {}
    return replace(plan, warnings=plan.warnings + plan_warnings(portfolio, plan, funds))


def realised_to_dict(pnl: PnlReport) -> dict[str, Any]:
    """The plan's sales at average cost and the tax estimate (``realised`` in plan JSON)."""
    tax = pnl.tax
    return {
        "sales": [
            {
                "account": s.account,
                "ticker": s.ticker,
                "currency": s.currency,
                "quantity": s.quantity,
                "proceeds": s.proceeds,
                "cost": s.cost,
                "gain": s.gain,
                "gain_base": s.gain_base,
                "overseas": s.overseas,
            }
            for s in pnl.sales
        ],
        "overseas_gains_tax": None
        if tax is None
        else {
            "earlier_gains": tax.earlier_gains,
            "plan_gains": tax.plan_gains,
            "taxable": tax.taxable,
            "tax_before": tax.tax_before,
            "tax_after": tax.tax_after,
            "due_to_plan": tax.due_to_plan,
            "note": tax.note,
        },
    }


def format_realised(pnl: PnlReport) -> str:
    """Lines for the plan's realised gains and tax estimate; empty when no sale has an
    average cost to measure it by."""
    known = [s for s in pnl.sales if s.gain_base is not None]
    if not known:
        return ""
    base = pnl.base_currency
    lines = ["", f"Realised by the sales (at average cost, {base})"]
    for s in known:
        assert s.gain_base is not None
        lines.append(f"  {s.account:<10} {s.ticker:<8} {s.gain_base:>16,.0f}")
    if unknown := len(pnl.sales) - len(known):
        lines.append(f"  ({unknown} sale(s) without an average cost on Holdings)")
    tax = pnl.tax
    if tax is not None and any(s.overseas for s in known):
        lines.append(
            f"  overseas gains tax this year: {tax.tax_before:,.0f} -> {tax.tax_after:,.0f} KRW "
            f"({tax.due_to_plan:+,.0f} from this plan; {tax.note})"
        )
    return "\n".join(lines)
