"""A plan as the terminal shows it: orders (sells first), weights per ticker before -> after
against target, the contribution, the drift and the solver status in words.

Rendered with rich: colour on a terminal, plain text when piped or written to a file (no escape
codes). English or Korean headings. ``rich`` is imported here only, so commands that print no
plan never pay for it.
"""

from __future__ import annotations

import io
import os
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Literal

from xlrebalance.model import CASH, Order, Plan, Portfolio, Side, SolverReport, SolverStatus

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

Lang = Literal["en", "ko"]

DECIMALS = {"KRW": 0, "JPY": 0, "TWD": 0, "VND": 0, "IDR": 0}

STALE_MARK = "*"
"""After the price and the ticker of a row whose price is stale (explained under the tables)."""

NAME_WIDTH = 26
"""Widest the name column gets; longer names end in an ellipsis."""

PIPE_WIDTH = 160
"""Columns of plain output (a pipe or file has no width; tables still size to their content)."""

TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "orders": "Orders (sells first, then buys)",
        "no_orders": "No orders: the portfolio is as close to its targets as trading can bring it.",
        "account": "Account",
        "ticker": "Ticker",
        "name": "Name",
        "side": "Side",
        "quantity": "Qty",
        "price": "Price",
        "amount": "Amount",
        "costs": "Costs",
        "currency": "Ccy",
        "target": "Target",
        "weights": "Weight per ticker (all accounts)",
        "before": "Before",
        "after": "After",
        "cash": "Cash",
        "BUY": "BUY",
        "SELL": "SELL",
        "contribution": "Contribution",
        "withdrawal": "Withdrawal",
        "into": "into {account}",
        "from": "from {account}",
        "fx": "FX",
        "drift": "Drift",
        "drift_note": "sum of |weight − target|; 0 = on target",
        "value": "Value",
        "costs_line": "fees {fees}, taxes {taxes}, FX spread {fx}",
        "costs_label": "Costs",
        "cash_left": "Cash left",
        "solver": "Solver",
        "optimal": "proven optimal",
        "heuristic": "best found, at most {gap} from optimal",
        "time_limit": "stopped at its time limit; best found, at most {gap} from optimal",
        "seconds": "{ms} ms",
        "warning": "Warning",
        "stale_note": "* stale price: refresh quotes before placing these orders",
    },
    "ko": {
        "orders": "주문 (매도 먼저, 그다음 매수)",
        "no_orders": "주문 없음: 현재 포트폴리오가 목표에 가장 가깝습니다.",
        "account": "계좌",
        "ticker": "종목코드",
        "name": "종목명",
        "side": "구분",
        "quantity": "수량",
        "price": "가격",
        "amount": "금액",
        "costs": "비용",
        "currency": "통화",
        "target": "목표",
        "weights": "종목별 비중 (전체 계좌)",
        "before": "이전",
        "after": "이후",
        "cash": "현금",
        "BUY": "매수",
        "SELL": "매도",
        "contribution": "추가 입금",
        "withdrawal": "출금",
        "into": "{account} 계좌로",
        "from": "{account} 계좌에서",
        "fx": "환전",
        "drift": "괴리",
        "drift_note": "|비중 − 목표|의 합; 0 = 목표와 일치",
        "value": "평가액",
        "costs_line": "수수료 {fees}, 세금 {taxes}, 환전 비용 {fx}",
        "costs_label": "비용",
        "cash_left": "남는 현금",
        "solver": "계산 상태",
        "optimal": "최적 (증명됨)",
        "heuristic": "찾은 최선안, 최적과의 차이 최대 {gap}",
        "time_limit": "시간 한도에서 멈춤; 찾은 최선안, 최적과의 차이 최대 {gap}",
        "seconds": "{ms} ms",
        "warning": "경고",
        "stale_note": "* 오래된 가격: 시세를 새로 고친 뒤 주문하세요",
    },
}


def default_lang(environ: Mapping[str, str] | None = None) -> Lang:
    """``ko`` when the locale asks for Korean (``LANG=ko_KR.UTF-8``, ``LC_ALL``...), else ``en``.
    The first of LC_ALL, LC_MESSAGES, LANG that is set decides, as gettext does."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def width(text: str) -> int:
    """Columns a terminal gives ``text``: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def number(amount: float, currency: str) -> str:
    """An amount with the currency's usual decimals (KRW none, USD two)."""
    digits = DECIMALS.get(currency, 2)
    return f"{amount:,.{digits}f}"


def money(amount: float, currency: str) -> str:
    return f"{number(amount, currency)} {currency}"


def quantity(q: float) -> str:
    return f"{q:,.0f}" if float(q).is_integer() else f"{q:,.6f}".rstrip("0")


def percent(fraction: float) -> str:
    return f"{fraction:.2%}"


def solver_words(solver: SolverReport, lang: Lang = "en") -> str:
    """The solver status as a sentence: ``proven optimal`` or ``best found, at most 0.03% from
    optimal`` (the gap is in drift units, fractions of the portfolio)."""
    text = TEXT[lang]
    if solver.status is SolverStatus.OPTIMAL:
        return text["optimal"]
    key = "time_limit" if solver.status is SolverStatus.TIME_LIMIT else "heuristic"
    return text[key].format(gap=f"{solver.gap:.2%}")


def sells_first(orders: Sequence[Order]) -> list[Order]:
    """Sells before buys (the sales pay for the buys); otherwise in the planner's order."""
    return sorted(orders, key=lambda o: o.side is not Side.SELL)


def render_plan(
    plan: Plan,
    portfolio: Portfolio | None = None,
    *,
    stale: Sequence[str] = (),
    lang: Lang = "en",
    width: int | None = None,
    stale_note: str | None = None,
) -> RenderableType:
    """The plan as rich renderables (tables and summary lines) for a console ``width`` wide.
    ``stale_note`` replaces the generic line explaining the stale mark (the workbook's refresh
    says how old and how many)."""
    from rich import box
    from rich.cells import cell_len
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    text = TEXT[lang]
    s = plan.summary
    base = s.base_currency
    targets: Mapping[str, float] = portfolio.targets if portfolio else {}
    names = {h.ticker: h.name for h in portfolio.holdings if h.name} if portfolio else {}
    stale_set = set(stale)
    parts: list[RenderableType] = []

    def stale_mark(ticker: str) -> Text:
        return Text(STALE_MARK, style="bold yellow") if ticker in stale_set else Text("")

    if plan.orders:
        rows: list[list[str | Text]] = []
        for o in sells_first(plan.orders):
            side = Text(text[o.side.value], style="red" if o.side is Side.SELL else "green")
            row: list[str | Text] = [
                o.account,
                o.ticker,
                o.name or names.get(o.ticker) or "",
                side,
                quantity(o.quantity),
                Text.assemble(
                    number(o.price, o.currency),
                    (STALE_MARK, "bold yellow") if o.ticker in stale_set else "",
                ),
                number(o.amount, o.currency),
                number(o.fees + o.taxes, o.currency),
                o.currency,
            ]
            rows.append(row)
        orders = Table(
            title=text["orders"], title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
        )
        keys = ["account", "ticker", "name", "side", "quantity", "price", "amount", "costs"]
        keys += ["currency"]
        widths = [
            max(cell_len(text[key]), *(cell_len(str(r[c])) for r in rows))
            for c, key in enumerate(keys)
        ]
        # The name is the one column that gives way on a narrow terminal: it gets what the
        # others (never cut) and the gaps between columns leave.
        others = sum(w for key, w in zip(keys, widths, strict=True) if key != "name")
        room = (width or PIPE_WIDTH) - others - 3 * (len(keys) - 1) - 2  # gaps 3, edges 1
        for key, w in zip(keys, widths, strict=True):
            if key == "name":
                orders.add_column(
                    text[key],
                    width=max(6, min(w, NAME_WIDTH, room)),
                    no_wrap=True,
                    overflow="ellipsis",
                )
            else:
                numeric = key in ("quantity", "price", "amount", "costs")
                orders.add_column(text[key], justify="right" if numeric else "left", width=w)
        for row in rows:
            orders.add_row(*row)
        parts.append(orders)
    else:
        parts.append(Text(text["no_orders"]))

    tickers = [t for t in dict.fromkeys([*s.weights_before, *s.weights_after, *targets])]
    tickers = [t for t in tickers if t != CASH] + [CASH]
    weights = Table(
        title=text["weights"], title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    weights.add_column(text["ticker"])
    weights.add_column(text["before"], justify="right")
    weights.add_column("", justify="center")
    weights.add_column(text["after"], justify="right")
    weights.add_column(text["target"], justify="right")
    for t in tickers:
        before, after = s.weights_before.get(t, 0.0), s.weights_after.get(t, 0.0)
        target = targets.get(t)
        cells: list[str | Text] = [
            Text.assemble(text["cash"] if t == CASH else t, stale_mark(t)),
            percent(before),
            "→",
            Text(percent(after), style=_closer_style(before, after, target)),
            percent(target) if target is not None else "",
        ]
        weights.add_row(*cells)
    parts.append(weights)

    lines = Table.grid(padding=(0, 2))
    lines.add_column(style="bold")
    lines.add_column()
    if portfolio is not None:
        for label, line in _contributions(portfolio, text):
            lines.add_row(label, line)
    for c in plan.conversions:
        lines.add_row(
            text["fx"],
            f"{c.account}: {money(c.sell_amount, c.sell_currency)} → "
            f"{money(c.buy_amount, c.buy_currency)}",
        )
    lines.add_row(
        text["drift"],
        Text.assemble(
            f"{percent(s.drift_before)} → {percent(s.drift_after)}  ",
            (f"({text['drift_note']})", "dim"),
        ),
    )
    lines.add_row(text["value"], f"{money(s.value_before, base)} → {money(s.value_after, base)}")
    lines.add_row(
        text["costs_label"],
        text["costs_line"].format(
            fees=money(s.fees_total, base),
            taxes=money(s.taxes_total, base),
            fx=money(s.fx_cost_total, base),
        ),
    )
    for account, cash in s.cash_after.items():
        left = ", ".join(money(v, c) for c, v in cash.items())
        lines.add_row(text["cash_left"], f"{account}: {left}")
    solver = s.solver
    status_style = "green" if solver.status is SolverStatus.OPTIMAL else "yellow"
    lines.add_row(
        text["solver"],
        Text.assemble(
            (solver_words(solver, lang), status_style),
            f" ({text['seconds'].format(ms=f'{solver.seconds * 1000:.0f}')})",
        ),
    )
    if stale_set:
        note = f"{STALE_MARK} {stale_note}" if stale_note else text["stale_note"]
        lines.add_row(Text(text["warning"], style="bold yellow"), note)
    for warning in plan.warnings:
        lines.add_row(Text(text["warning"], style="bold yellow"), warning)
    parts.append(lines)
    return Group(*parts)


def _closer_style(before: float, after: float, target: float | None) -> str:
    """Green when the trade brought the weight closer to its target, none otherwise."""
    if target is None or abs(after - target) >= abs(before - target) - 1e-12:
        return ""
    return "green"


def _contributions(portfolio: Portfolio, text: Mapping[str, str]) -> list[tuple[str, str]]:
    settings = portfolio.settings
    account = settings.contribution_account or (
        portfolio.accounts[0].id if portfolio.accounts else ""
    )
    out = []
    for currency, amount in settings.contribution.items():
        if amount > 0:
            out.append(
                (
                    text["contribution"],
                    f"{money(amount, currency)} {text['into'].format(account=account)}",
                )
            )
        elif amount < 0:
            out.append(
                (
                    text["withdrawal"],
                    f"{money(-amount, currency)} {text['from'].format(account=account)}",
                )
            )
    return out


def console(file: IO[str] | None = None, *, width: int | None = None) -> Console:
    """A rich console: colours on a terminal only; a pipe or file gets plain text."""
    from rich.console import Console

    stream = file if file is not None else sys.stdout
    terminal = stream.isatty()
    if width is None and not terminal:
        width = int(os.environ.get("COLUMNS", PIPE_WIDTH))
    return Console(
        file=stream,
        width=width,
        force_terminal=terminal,
        no_color=not terminal,
        color_system="auto" if terminal else None,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )


def print_plan(
    plan: Plan,
    portfolio: Portfolio | None = None,
    *,
    stale: Sequence[str] = (),
    lang: str = "en",
    file: IO[str] | None = None,
    stale_note: str | None = None,
) -> None:
    """Print the plan to ``file`` (stdout): coloured on a terminal, plain when piped."""
    stream = file if file is not None else sys.stdout
    if stream.isatty():
        out = console(stream)
        shown = render_plan(
            plan, portfolio, stale=stale, lang=_lang(lang), width=out.width, stale_note=stale_note
        )
        out.print(shown)
        return
    width = int(os.environ.get("COLUMNS", PIPE_WIDTH))
    text = format_plan(plan, portfolio, stale=stale, lang=lang, width=width, stale_note=stale_note)
    stream.write(text + "\n")


def format_plan(
    plan: Plan,
    portfolio: Portfolio | None = None,
    *,
    stale: Sequence[str] = (),
    lang: str = "en",
    width: int = 100,
    stale_note: str | None = None,
) -> str:
    """The plan as plain text (no escape codes) at a fixed width: tests, logs, files."""
    buffer = io.StringIO()
    shown = render_plan(
        plan, portfolio, stale=stale, lang=_lang(lang), width=width, stale_note=stale_note
    )
    console(buffer, width=width).print(shown)
    # rich pads every line to the table's width; a file gets no trailing blanks.
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()).strip("\n")


def _lang(lang: str) -> Lang:
    return "ko" if lang == "ko" else "en"
