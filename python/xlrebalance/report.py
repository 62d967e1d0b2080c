"""A plan as a readable text table for the terminal."""

from __future__ import annotations

import unicodedata

from xlrebalance.model import Plan

DECIMALS = {"KRW": 0, "JPY": 0, "TWD": 0, "VND": 0, "IDR": 0}


def width(text: str) -> int:
    """Columns a terminal gives ``text``: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, columns: int, *, right: bool = False) -> str:
    fill = " " * max(0, columns - width(text))
    return fill + text if right else text + fill


def money(amount: float, currency: str) -> str:
    digits = DECIMALS.get(currency, 2)
    return f"{amount:,.{digits}f} {currency}"


def quantity(q: float) -> str:
    return f"{q:,.0f}" if float(q).is_integer() else f"{q:,.6f}".rstrip("0")


def format_plan(plan: Plan) -> str:
    s = plan.summary
    lines: list[str] = []
    if plan.orders:
        header = ("account", "ticker", "side", "quantity", "price", "amount", "fees+tax")
        rows = [
            (
                o.account,
                o.ticker + (f" {o.name}" if o.name else ""),
                o.side.value,
                quantity(o.quantity),
                money(o.price, o.currency),
                money(o.amount, o.currency),
                money(o.fees + o.taxes, o.currency),
            )
            for o in plan.orders
        ]
        widths = [max(width(r[c]) for r in (header, *rows)) for c in range(len(header))]
        right = {3, 4, 5, 6}

        def fmt(row: tuple[str, ...]) -> str:
            return "  ".join(
                pad(cell, w, right=c in right)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()

        lines.append(fmt(header))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(fmt(r) for r in rows)
    else:
        lines.append("No orders: the portfolio is as close to its targets as trading can bring it.")
    for c in plan.conversions:
        lines.append(
            f"FX in {c.account}: {money(c.sell_amount, c.sell_currency)} -> "
            f"{money(c.buy_amount, c.buy_currency)}"
        )
    base = s.base_currency
    lines.append("")
    lines.append(f"Drift        {s.drift_before:.4%} -> {s.drift_after:.4%}")
    lines.append(f"Value        {money(s.value_before, base)} -> {money(s.value_after, base)}")
    lines.append(
        f"Costs        fees {money(s.fees_total, base)}, taxes {money(s.taxes_total, base)}, "
        f"FX spread {money(s.fx_cost_total, base)}"
    )
    for account, cash in s.cash_after.items():
        left = ", ".join(money(v, c) for c, v in cash.items())
        lines.append(f"Cash left    {account}: {left}")
    solver = s.solver
    gap = "" if solver.status.value == "optimal" else f", gap {solver.gap:.2e}"
    lines.append(f"Solver       {solver.status.value}{gap}, {solver.seconds * 1000:.0f} ms")
    for warning in plan.warnings:
        lines.append(f"Warning      {warning}")
    return "\n".join(lines)
