"""``xlrebalance backtest PORTFOLIO|BOOK``: policies side by side on daily history."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from xlrebalance.errors import PortfolioError, XlRebalanceError

if TYPE_CHECKING:  # the simulation needs numpy: imported by the handler, not by --help
    from xlrebalance.backtest.history import PriceHistory
    from xlrebalance.backtest.policy import Policy
    from xlrebalance.backtest.simulate import Market, PolicyResult
    from xlrebalance.model import Portfolio

DEFAULT_SPECS = ("none", "monthly", "quarterly", "monthly+band:10%", "5/25", "user")
"""The policies compared when none is named."""


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "backtest", help="backtest rebalancing policies on daily history with real costs"
    )
    p.add_argument("file", help="portfolio JSON document or workbook (.xlsx, .xlsm)")
    p.add_argument(
        "--start",
        default=None,
        help="first day (YYYY-MM-DD; default: the --prices file's first day, else 2010-01-01)",
    )
    p.add_argument("--end", default=None, help="last day (YYYY-MM-DD, default: latest)")
    p.add_argument(
        "--policy",
        action="append",
        default=None,
        help="a policy (repeatable): none, monthly, quarterly[:last], semiannual, annual, "
        "band:10%%, band:abs=5%%,rel=25%%, 5/25, monthly+band:10%%, "
        "contribute:1000000KRW[@monthly], user[@monthly] "
        # argparse formats help with %: the defaults' own % signs are doubled.
        f"(default: {' '.join(DEFAULT_SPECS).replace('%', '%%')})",
    )
    p.add_argument("--prices", default=None, help="CSV of daily closes: date + one column each")
    p.add_argument("--offline", action="store_true", help="use only the cache or --prices")
    p.add_argument(
        "--dividends",
        choices=("reinvest", "cash"),
        default="reinvest",
        help="Yahoo history: adjusted closes (reinvest, default) or dividends paid to cash",
    )
    p.add_argument("--capital", type=float, default=None, help="starting value, base currency")
    p.add_argument(
        "--risk-free", default="0", help="annual rate for Sharpe: 0.03 or 3%% (default 0)"
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="plan each rebalance without the planner's search (faster on large books, "
        "more drift; see docs/backtest.md)",
    )
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument(
        "--write",
        action="store_true",
        help="also fill the workbook's Backtest sheet (added if missing); BOOK is saved with a "
        ".bak of the previous version",
    )
    p.add_argument("--out", default=None, help="with --write: save here and leave BOOK untouched")
    p.set_defaults(handler=run)


def _day(text: str | None, flag: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PortfolioError(flag, f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def _distinct(policies: list[Policy]) -> list[Policy]:
    """Each policy once: the JSON keys the daily values by name, so a second ``monthly`` would
    hide the first."""
    seen: dict[str, Policy] = {}
    for policy in policies:
        if policy.name in seen:
            print(f"xlrebalance: --policy {policy.name} given twice: run once", file=sys.stderr)
        seen.setdefault(policy.name, policy)
    return list(seen.values())


def risk_free_rate(text: str) -> float:
    """``--risk-free``: a fraction (0.03) or a percentage (3%). A bare number of 1 or more is
    refused: ``3`` is far more likely 3% than 300% a year."""
    body = text.strip()
    percent = body.endswith("%")
    try:
        value = float(body.rstrip("%").strip())
    except ValueError:
        raise PortfolioError("--risk-free", f"{text!r} is not a rate (0.03 or 3%)") from None
    if percent:
        value /= 100
    elif math.isfinite(value) and abs(value) >= 1:
        raise PortfolioError(
            "--risk-free",
            f"{text} would be {value:.0%} a year: write a fraction (0.03) or a percentage (3%)",
        )
    if not math.isfinite(value) or value <= -1 or value >= 1:
        raise PortfolioError(
            "--risk-free", f"expected a yearly rate between -100% and 100%, got {text}"
        )
    return value


def load_book(path: str) -> Portfolio:
    from xlrebalance.workbook import command as workbook_commands

    if workbook_commands.is_workbook(path):
        from xlrebalance.workbook.book import OpenpyxlBook
        from xlrebalance.workbook.reader import read_input

        portfolio: Portfolio = read_input(OpenpyxlBook.open(path), offline=False).portfolio
        return portfolio
    workbook_commands.check_plan_input(path)
    from xlrebalance.document import load_portfolio

    return load_portfolio(path, offline=False)


def load_history(
    portfolio: Portfolio,
    *,
    prices: str | None,
    offline: bool,
    start: date | None,
    end: date | None,
    dividends: str,
) -> tuple[PriceHistory, str]:
    """The price history and a line saying where it came from."""
    from xlrebalance.backtest.history import read_prices_csv, split_fx

    currencies = [c for c in portfolio.currencies() if c != portfolio.base_currency]
    if prices is not None:
        history = _zero_padded(read_prices_csv(prices), portfolio, Path(prices).name)
        history = split_fx(history, portfolio.base_currency, currencies)
        _check_fx_columns(history, portfolio, prices)
        held = {h.ticker for h in portfolio.holdings}
        extra = [t for t in history.tickers if t not in held]
        if extra:  # often a misspelt header, whose ticker is then reported as left out
            note = f"{Path(prices).name}: columns not in the portfolio, ignored: {', '.join(extra)}"
            history = replace(history, notes=(*history.notes, note))
        return history, f"{Path(prices).name} (closes as given; no dividends added)"
    from xlrebalance.backtest.prices import yahoo_history

    history = yahoo_history(portfolio, start, end, offline=offline, dividends=dividends)
    how = (
        "adjusted closes: dividends reinvested" if dividends == "reinvest" else "dividends to cash"
    )
    return history, f"Yahoo daily history via the quote cache ({how})"


def too_few_days(history: PriceHistory, start: date | None, end: date | None) -> PortfolioError:
    """The error for a range with fewer than two days of prices, naming what the prices cover."""
    from xlrebalance.backtest.history import day_text

    span = (
        f"{day_text(history.dates[0])} .. {day_text(history.dates[-1])}"
        if len(history.dates)
        else "nothing"
    )
    asked = f"from {start or 'the first day'} to {end or 'the last day'}"
    flag = "--start" if start is not None else "--end" if end is not None else "--prices"
    return PortfolioError(
        flag,
        f"fewer than two days of prices {asked} (the prices cover {span}); a backtest "
        "needs at least two",
    )


def _zero_padded(history: PriceHistory, portfolio: Portfolio, name: str) -> PriceHistory:
    """Korean codes whose leading zeros a spreadsheet dropped (69500 for 069500), read as the
    portfolio's codes; the notes say so."""
    from xlrebalance.model import Market

    korean = {h.ticker for h in portfolio.holdings if h.market is Market.KR}
    renamed: dict[str, str] = {}
    for ticker in history.tickers:
        padded = ticker.zfill(6)
        if ticker.isdigit() and padded in korean and padded not in history.tickers:
            renamed[ticker] = padded
    if not renamed:
        return history
    note = f"{name}: read " + ", ".join(f"{a} as {b}" for a, b in renamed.items())
    note += " (leading zeros dropped by a spreadsheet)"
    return replace(
        history,
        tickers=tuple(renamed.get(t, t) for t in history.tickers),
        notes=(*history.notes, note),
    )


def _check_fx_columns(history: PriceHistory, portfolio: Portfolio, prices: str) -> None:
    """Every foreign currency the portfolio holds needs its rate column in the file."""
    base = portfolio.base_currency
    if not set(history.tickers) & set(portfolio.tickers()):
        return  # no ticker of the portfolio at all: prepare says so, the larger problem
    for currency in portfolio.currencies():
        if currency == base or currency in history.fx:
            continue
        held = sorted({h.ticker for h in portfolio.holdings if h.currency == currency})
        raise PortfolioError(
            f"{prices} row 1",
            f"no {currency}{base} column: the portfolio holds {currency}"
            + (f" ({', '.join(held[:5])}{', ...' if len(held) > 5 else ''})" if held else "")
            + f"; add a column {currency}{base} with each day's rate ({base} per {currency})",
        )


class _Progress:
    """One line per policy on stderr, redrawn in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.name = ""
        self.started = 0.0

    def begin(self, name: str) -> None:
        self.name, self.started = name, time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if self.tty and total:
            self.stream.write(f"\rbacktest {self.name}: {100 * done // total:3d}%")
            self.stream.flush()

    def end(self) -> None:
        seconds = time.monotonic() - self.started
        if self.tty:
            self.stream.write(f"\rbacktest {self.name}: done in {seconds:.1f} s\n")
        elif seconds > 2:
            self.stream.write(f"xlrebalance: backtest {self.name} done in {seconds:.1f} s\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from xlrebalance.backtest.policy import parse_policy
    from xlrebalance.backtest.simulate import QUICK, THOROUGH, BacktestConfig, prepare, simulate

    start, end = _day(args.start, "--start"), _day(args.end, "--end")
    if start is None and args.prices is None:
        from xlrebalance.backtest.prices import DEFAULT_START

        start = DEFAULT_START  # a --prices file is used whole unless --start says otherwise
    if start is not None and end is not None and start > end:
        raise PortfolioError("--start", f"{start} is after --end {end}")
    if args.capital is not None and not math.isfinite(args.capital):
        raise PortfolioError("--capital", f"expected a number, got {args.capital}")
    risk_free = risk_free_rate(args.risk_free)
    if args.capital is not None and args.capital <= 0:
        raise PortfolioError("--capital", f"expected a positive amount, got {args.capital:g}")
    policies = _distinct([parse_policy(s) for s in (args.policy or DEFAULT_SPECS)])
    from xlrebalance.workbook import command as workbook_commands

    if (args.write or args.out) and not workbook_commands.is_workbook(args.file):
        raise PortfolioError("--write", f"{args.file} is not a workbook (.xlsx, .xlsm)")
    portfolio = load_book(args.file)
    history, source = load_history(
        portfolio,
        prices=args.prices,
        offline=args.offline,
        start=start,
        end=end,
        dividends=args.dividends,
    )
    sliced = history.between(start, end)
    if len(sliced.dates) < 2:
        raise too_few_days(history, start, end)
    market = prepare(portfolio, sliced, args.capital)
    for policy in policies:  # before any policy runs, not after the ones before it
        if policy.contribution is not None and policy.contribution[1] not in market.currencies:
            raise PortfolioError(
                f"--policy {policy.name}",
                f"{policy.contribution[1]} is not a currency of the portfolio "
                f"({', '.join(market.currencies)})",
            )
    config = BacktestConfig(risk_free=risk_free, planner=QUICK if args.fast else THOROUGH)
    progress = _Progress(sys.stderr)
    results: list[PolicyResult] = []
    interrupted = False
    try:
        for policy in policies:
            progress.begin(policy.name)
            results.append(simulate(market, policy, config, progress))
            progress.end()
    except KeyboardInterrupt:
        interrupted = True
        sys.stderr.write("\n")
    left_out = [p.name for p in policies[len(results) :]]
    doc = result_to_dict(market, results, source, left_out)
    if args.write and results:
        _write_book(args.file, args.out, market, results, source)
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(format_result(doc))
    if interrupted:
        print(
            f"xlrebalance: interrupted; not run: {', '.join(left_out)}",
            file=sys.stderr,
        )
        return 130
    return 0


def _write_book(
    path: str, out: str | None, market: Market, results: list[PolicyResult], source: str
) -> None:
    import datetime as dt

    from xlrebalance.backtest.sheet import BACKTEST_SHEET, layout_sheet, write_results
    from xlrebalance.workbook.book import OpenpyxlBook
    from xlrebalance.workbook.package import check_target, save_workbook

    target = Path(out) if out else Path(path)
    if target.suffix.lower() != Path(path).suffix.lower():
        raise PortfolioError("--out", f"must keep the workbook's type ({Path(path).suffix})")
    check_target(target)
    book = OpenpyxlBook.open(path)
    if BACKTEST_SHEET not in book.sheet_names():
        layout_sheet(book.workbook.create_sheet(BACKTEST_SHEET), "en")
    write_results(book, market, results, source, market.notes, dt.datetime.now())
    save_workbook(book.workbook, target, source=Path(path))
    print(f"xlrebalance: wrote the Backtest sheet of {target}", file=sys.stderr)


def _round(value: float, digits: int = 6) -> float:
    return round(float(value), digits) + 0.0


def policy_to_dict(r: PolicyResult) -> dict[str, Any]:
    perf = r.performance
    years = r.years
    return {
        "policy": r.policy.name,
        "final_value": _round(perf.final_value, 2),
        "contributed": _round(perf.contributed, 2),
        "total_return": _round(perf.total_return),
        "cagr": _round(perf.cagr),
        "volatility": _round(perf.volatility),
        "sharpe": None if perf.sharpe is None else _round(perf.sharpe, 4),
        "max_drawdown": {
            "depth": _round(perf.max_drawdown.depth),
            "peak": perf.max_drawdown.peak,
            "trough": perf.max_drawdown.trough,
            "recovered": perf.max_drawdown.recovered,
        },
        "checks": r.checks,
        "rebalances": r.rebalances,
        "rebalance_days": list(r.rebalance_days),
        "turnover": _round(r.turnover),
        "turnover_per_year": _round(r.turnover / years) if years > 0 else 0.0,
        "traded": _round(r.traded, 2),
        "fees": _round(r.fees, 2),
        "taxes": _round(r.taxes, 2),
        "fx_spread": _round(r.fx_cost, 2),
        "drift_average": _round(float(r.drift.mean())),
        "drift_max": _round(float(r.drift.max())),
        "solver": dict(r.solver),
        "planner_seconds": _round(r.planner_seconds, 3),
        "warnings": list(r.warnings),
    }


def result_to_dict(
    market: Market, results: list[PolicyResult], source: str, left_out: list[str]
) -> dict[str, Any]:
    from xlrebalance.backtest.history import day_text

    dates = market.dates
    return {
        "start": day_text(dates[0]),
        "end": day_text(dates[-1]),
        "years": _round((dates[-1] - dates[0]).astype(int) / 365.25, 4),
        "base_currency": market.portfolio.base_currency,
        "capital": _round(market.capital, 2),
        "prices": source,
        "notes": list(market.notes),
        "not_run": left_out,
        "policies": [policy_to_dict(r) for r in results],
        "series": {
            "dates": [day_text(d) for d in dates],
            "values": {r.policy.name: [_round(v, 2) for v in r.values.tolist()] for r in results},
        },
    }


def _money(value: float) -> str:
    return f"{value:,.0f}"


def format_result(doc: dict[str, Any]) -> str:
    base = doc["base_currency"]
    lines = [
        f"Backtest {doc['start']} .. {doc['end']} ({doc['years']:.1f} years), starting with "
        f"{_money(doc['capital'])} {base}",
        f"prices: {doc['prices']}",
        "",
    ]
    # The policy column fits the longest name (contribute:1000000KRW@monthly is 30 wide).
    width = max([20, *(len(p["policy"]) for p in doc["policies"])])
    header = (
        f"{'policy':<{width}} {'final value':>15} {'CAGR':>7} {'vol':>6} {'max DD':>7} "
        f"{'Sharpe':>6} {'rebal':>5} {'turn/yr':>7} {'fees':>11} {'taxes':>10} {'FX spr':>9} "
        f"{'drift avg/max':>13}"
    )
    lines.append(header)
    for p in doc["policies"]:
        sharpe = "-" if p["sharpe"] is None else f"{p['sharpe']:.2f}"
        lines.append(
            f"{p['policy']:<{width}} {_money(p['final_value']):>15} {p['cagr']:>7.2%} "
            f"{p['volatility']:>6.1%} {p['max_drawdown']['depth']:>7.1%} {sharpe:>6} "
            f"{p['rebalances']:>5} {p['turnover_per_year']:>7.2f} {_money(p['fees']):>11} "
            f"{_money(p['taxes']):>10} {_money(p['fx_spread']):>9} "
            f"{p['drift_average']:>6.3f}/{p['drift_max']:.3f}"
        )
    lines.append("")
    lines.append(f"amounts in {base}; drift = sum of |weight - target|, cash included")
    for p in doc["policies"]:
        dd = p["max_drawdown"]
        if dd["peak"]:
            lines.append(
                f"{p['policy']}: max drawdown {dd['depth']:.1%} from {dd['peak']} to "
                f"{dd['trough']}, "
                + (
                    f"recovered {dd['recovered']}"
                    if dd["recovered"]
                    else "not recovered by the end"
                )
            )
        for w in p["warnings"]:
            lines.append(f"{p['policy']}: warning: {w}")
    if doc["notes"]:
        lines.append("notes:")
        lines.extend(f"  - {n}" for n in doc["notes"])
    if doc["not_run"]:
        lines.append(f"not run (interrupted): {', '.join(doc['not_run'])}")
    return "\n".join(lines)


__all__ = ["Policy", "XlRebalanceError", "add_commands", "run"]
