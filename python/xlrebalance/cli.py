"""The ``xlrebalance`` command.

Start-up matters (``--help``, a cached ``quote``): this module and the command modules it
registers import only the standard library at module level; the planner (numpy, scipy, highspy),
openpyxl, yfinance and rich are imported by the handler that uses them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from xlrebalance import __version__
from xlrebalance.backtest import command as backtest_commands
from xlrebalance.errors import XlRebalanceError
from xlrebalance.exposure import command as exposure_commands
from xlrebalance.jsonout import dumps
from xlrebalance.quotes import command as quote_commands
from xlrebalance.sync import command as sync_commands
from xlrebalance.workbook import command as workbook_commands

LANGS = ("en", "ko")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every default that says something: not ``None`` (the help text names what
    happens instead) and not ``False`` of an on/off flag."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """Every (sub)command's parser shows its defaults in ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="xlrebalance",
        description="Exact, cost-aware rebalancing orders for US and Korean portfolios.",
    )
    parser.add_argument("--version", action="version", version=f"xlrebalance {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=ArgumentParser
    )
    p = commands.add_parser(
        "plan",
        help="compute orders for a portfolio document or workbook",
        description="Compute exact, cost-aware orders. Prices and FX rates are fetched "
        "(cache first) unless --offline; the plan is printed as a table, or as JSON.",
    )
    p.add_argument(
        "file",
        help="portfolio JSON document (see docs/portfolio-format.md) or workbook (.xlsx, .xlsm)",
    )
    # A shell glob (examples/*.json) gives several files: said plainly, not "unrecognized".
    p.add_argument("more_files", nargs="*", help=argparse.SUPPRESS)
    p.add_argument(
        "--offline", action="store_true", help="use the prices and FX rates in the file only"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the plan as JSON (docs/portfolio-format.md) instead of a table",
    )
    p.add_argument(
        "--lang",
        choices=LANGS,
        default=None,
        help="language of the table's headings (default: ko when LANG/LC_ALL is Korean, else en)",
    )
    p.add_argument("--accept-jumps", action="store_true", help="use prices that jumped far")
    p.set_defaults(handler=_plan)
    # Each feature registers its own subcommands (a function add_commands(commands)).
    quote_commands.add_commands(commands)
    workbook_commands.add_commands(commands)
    backtest_commands.add_commands(commands)
    sync_commands.add_commands(commands)
    exposure_commands.add_commands(commands)
    return parser


def _plan(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from xlrebalance.document import load_portfolio, plan_to_dict
    from xlrebalance.exposure.command import format_realised, realised_to_dict, with_exposure_checks
    from xlrebalance.planner import plan
    from xlrebalance.pnl import pnl_report
    from xlrebalance.quotes import fill_prices

    if args.more_files:
        files = [args.file, *args.more_files]
        print(
            f"xlrebalance: error: plan takes one portfolio file, got {len(files)} "
            f"({', '.join(files)}); run it once per file",
            file=sys.stderr,
        )
        return 2
    inp = None
    if workbook_commands.is_workbook(args.file):
        inp = workbook_commands.load_workbook_input(args.file, offline=args.offline)
        portfolio = inp.portfolio
    else:
        workbook_commands.check_plan_input(args.file)
        portfolio = load_portfolio(args.file, offline=args.offline)
    notes: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    if not args.offline:
        from xlrebalance.quotes.sanity import SanityPolicy

        sanity = SanityPolicy(accept_jumps=args.accept_jumps)
        bar = None
        if len(portfolio.tickers()) >= quote_commands.PROGRESS_MIN and sys.stderr.isatty():
            bar = quote_commands.ProgressBar(sys.stderr)
        try:
            portfolio, quotes = fill_prices(portfolio, sanity=sanity, progress=bar)
        finally:
            if bar is not None:
                bar.finish()
        stale = quotes.stale
        for line in quotes.refused:
            print(f"xlrebalance: {line}", file=sys.stderr)
        note = quotes.note()
        if quotes.unreachable:  # one line: every price is the file's (or the cache's)
            note = workbook_commands.no_network_note(args.file, inp, quotes.unreachable)
        if note:
            print(f"xlrebalance: {note}", file=sys.stderr)
            notes = (note,)
    # A plan from stale prices says so in its own output too, for programs reading --json.
    result = plan(portfolio)
    result = replace(result, warnings=result.warnings + notes)
    result = with_exposure_checks(portfolio, result, offline=args.offline)
    if args.json:
        doc = plan_to_dict(result)
        doc["realised"] = realised_to_dict(pnl_report(portfolio, result))
        print(dumps(doc))
    else:
        from xlrebalance.report import default_lang, print_plan

        print_plan(result, portfolio, stale=stale, lang=args.lang or default_lang())
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
    except BrokenPipeError:
        # The reader went away (`xlrebalance plan ... | head`): nothing left to say. Point
        # stdout at nothing so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
