"""The ``xlrebalance`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace

from xlrebalance import __version__
from xlrebalance.document import load_portfolio, plan_to_dict
from xlrebalance.errors import XlRebalanceError
from xlrebalance.exposure import command as exposure_commands
from xlrebalance.exposure.command import format_realised, realised_to_dict, with_exposure_checks
from xlrebalance.planner import plan
from xlrebalance.pnl import pnl_report
from xlrebalance.quotes import command as quote_commands
from xlrebalance.quotes import fill_prices
from xlrebalance.report import format_plan
from xlrebalance.workbook import command as workbook_commands


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xlrebalance",
        description="Exact, cost-aware rebalancing orders for US and Korean portfolios.",
    )
    parser.add_argument("--version", action="version", version=f"xlrebalance {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("plan", help="compute orders for a portfolio document or workbook")
    p.add_argument(
        "file",
        help="portfolio JSON document (see docs/portfolio-format.md) or workbook (.xlsx, .xlsm)",
    )
    p.add_argument(
        "--offline", action="store_true", help="use the prices and FX rates in the file only"
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(handler=_plan)
    # Each feature registers its own subcommands (a function add_commands(commands)).
    quote_commands.add_commands(commands)
    workbook_commands.add_commands(commands)
    exposure_commands.add_commands(commands)
    return parser


def _plan(args: argparse.Namespace) -> int:
    if workbook_commands.is_workbook(args.file):
        portfolio = workbook_commands.load_workbook_portfolio(args.file)
    else:
        workbook_commands.check_plan_input(args.file)
        portfolio = load_portfolio(args.file, offline=args.offline)
    notes: tuple[str, ...] = ()
    if not args.offline:
        portfolio, quotes = fill_prices(portfolio)
        if note := quotes.note():
            print(f"xlrebalance: {note}", file=sys.stderr)
            notes = (note,)
    # A plan from stale prices says so in its own output too, for programs reading --json.
    result = plan(portfolio)
    result = replace(result, warnings=result.warnings + notes)
    result = with_exposure_checks(portfolio, result, offline=args.offline)
    if args.json:
        doc = plan_to_dict(result)
        doc["realised"] = realised_to_dict(pnl_report(portfolio, result))
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(format_plan(result))
        if realised := format_realised(pnl_report(portfolio, result)):
            print(realised)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except XlRebalanceError as exc:
        print(f"xlrebalance: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xlrebalance: interrupted", file=sys.stderr)
        return 130
