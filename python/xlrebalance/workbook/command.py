"""``xlrebalance workbook build|new`` and ``xlrebalance refresh``."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from xlrebalance.errors import XlRebalanceError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
OTHER_SPREADSHEETS = (".csv", ".tsv", ".xls", ".xlsb", ".ods", ".numbers")


def add_commands(commands: Any) -> None:
    """Register the workbook subcommands on the CLI's subparsers."""
    wb = commands.add_parser("workbook", help="build or start a rebalance workbook")
    sub = wb.add_subparsers(dest="workbook_command", required=True)
    build = sub.add_parser(
        "build", help="build rebalance.xlsm (and its Run main file) from the package templates"
    )
    build.add_argument(
        "--out", default=None,
        help="where to write (default: rebalance.xlsm in the checkout, else in this folder; "
        "only if it does not exist)",
    )  # fmt: skip
    build.add_argument(
        "--force",
        action="store_true",
        help="replace a workbook that holds data of yours (kept as <name>.bak)",
    )
    build.set_defaults(handler=_build)
    new = sub.add_parser("new", help="start a new workbook from an example")
    new.add_argument("path", help="the .xlsm to create (must not exist)")
    new.add_argument(
        "--lang",
        choices=("en", "ko"),
        default="en",
        help="language of the sheets, labels and notes",
    )
    new.add_argument(
        "--example", choices=("seed", "equal-weight", "empty"), default="empty",
        help="portfolio to start from (the package's templates/examples; empty: headers only)",
    )  # fmt: skip
    new.set_defaults(handler=_new)
    refresh = commands.add_parser(
        "refresh", help="headless refresh of a workbook: prices, Orders and a History row"
    )
    refresh.add_argument("book", metavar="BOOK", help="the workbook (.xlsm or .xlsx)")
    refresh.add_argument(
        "--offline", action="store_true", help="use the prices on the sheet (no quote fetch)"
    )
    refresh.add_argument(
        "--out",
        default=None,
        help="write the result here and leave BOOK untouched (default: update BOOK in place)",
    )
    refresh.add_argument(
        "--accept-jumps",
        action="store_true",
        help="use prices that jumped implausibly far from the last ones (after a split)",
    )
    refresh.add_argument(
        "--backtest",
        action="store_true",
        help="also run the Backtest sheet (its row 3) into the same save; offline with "
        "--offline (cached history or the sheet's prices CSV)",
    )
    refresh.set_defaults(handler=_refresh)


def _build(args: argparse.Namespace) -> int:
    """Build rebalance.xlsm. Replacing a file takes ``--out`` naming it, and a file with the
    user's data in it (see :mod:`.userdata`) also ``--force``; its old bytes then stay in
    ``<name>.bak``. Run from any folder, a bare ``build`` never replaces anything."""
    import tempfile

    from xlrebalance.workbook.build import build_workbook, checkout_root, write_run_main
    from xlrebalance.workbook.package import backup_path, check_target
    from xlrebalance.workbook.userdata import user_data

    root = checkout_root() or Path.cwd()
    out = Path(args.out) if args.out else root / "rebalance.xlsm"
    check_target(out)
    backup = False
    if out.exists():
        if not args.out:
            raise XlRebalanceError(
                f"{out} exists: to build over it, name it: xlrebalance workbook build --out {out}"
            )
        with tempfile.TemporaryDirectory() as folder:
            pristine = build_workbook(Path(folder) / out.name, lang="en", example="seed")
            found = user_data(out, pristine)
        if found and not args.force:
            raise XlRebalanceError(
                f"{out} holds data of yours ({'; '.join(found[:3])}): nothing was written. "
                f"Build elsewhere, or replace it with --force (the old file is kept as "
                f"{backup_path(out).name})"
            )
        backup = bool(found)
    build_workbook(out, lang="en", example="seed", backup=backup)
    kept = f" (previous version kept as {backup_path(out).name})" if backup else ""
    print(f"built {out}{kept}")
    companion = write_run_main(out, overwrite=True)
    if companion:
        print(f"built {companion} (xlwings' Run main)")
    return 0


def _new(args: argparse.Namespace) -> int:
    from xlrebalance.workbook.build import build_workbook, run_main_path, write_run_main

    path = Path(args.path)
    if path.suffix.lower() != ".xlsm":
        raise XlRebalanceError(f"{path}: a workbook with macros must end in .xlsm")
    build_workbook(path, lang=args.lang, example=args.example, overwrite=False)
    print(f"created {path}")
    companion = write_run_main(path, overwrite=False)
    if companion:
        print(f"created {companion} (what xlwings' Run main button runs)")
    elif not path.stem.isidentifier():
        print(
            f"note: xlwings' Run main needs a workbook name that is a Python name (letters, "
            f"digits, _); {path.name} is not, so no {run_main_path(path).name} was written",
            file=sys.stderr,
        )
    return 0


def _refresh(args: argparse.Namespace) -> int:
    from xlrebalance.macros import NO_NETWORK, refresh
    from xlrebalance.workbook.book import OpenpyxlBook
    from xlrebalance.workbook.package import (
        Fingerprint,
        check_target,
        remove_leftovers,
        save_workbook,
        workbook_lock,
    )
    from xlrebalance.workbook.preserve import describe

    source = Path(args.book)
    target = Path(args.out) if args.out else source
    check_target(target)
    if target.suffix.lower() != source.suffix.lower():
        raise XlRebalanceError(f"--out must keep the workbook's type ({source.suffix})")
    backtest_problem: str | None = None
    # One run at a time per target, for the whole read-plan-write cycle; the fingerprint
    # catches writers that do not take the lock (Excel, a sync client, an older version).
    with workbook_lock(target):
        leftovers = remove_leftovers(target)
        read = Fingerprint.of(source)
        book = OpenpyxlBook.open(source, owned_only=True)
        if args.backtest:
            from xlrebalance.backtest.macro import fill_on_refresh, require_sheet

            require_sheet(book)
        result = refresh(book, offline=args.offline, accept_jumps=args.accept_jumps)
        if args.backtest:  # offline too once the refresh found no network
            offline = args.offline or any(n.startswith(NO_NETWORK) for n in result.notes)
            folder = source.resolve().parent
            backtest_problem = fill_on_refresh(
                book, result.portfolio, offline=offline, folder=folder, stream=sys.stderr
            )
        same = target == source or (target.exists() and target.samefile(source))
        lost = save_workbook(
            book.workbook,
            target,
            source=source,
            expect=read if same else None,
            foreign=book.foreign,
        )
    if leftovers:
        print(
            f"xlrebalance: removed {leftovers} temp file(s) an interrupted run left beside "
            f"{target.name}",
            file=sys.stderr,
        )
    for line in (*result.refused, *result.notes):
        print(f"xlrebalance: {line}", file=sys.stderr)
    from xlrebalance.report import default_lang, print_plan

    lang = default_lang()  # the terminal's language; the workbook keeps its own
    print_plan(
        result.plan,
        result.portfolio,
        stale=result.staleness.tickers,
        lang=lang,
        stale_note=result.staleness.message(lang),
    )
    print(
        f"\nwrote {target}"
        + (
            f" (previous version kept as {target.name}.bak)"
            if target.with_name(target.name + ".bak").exists()
            else ""
        )
    )
    if lost:
        print(
            f"xlrebalance: warning: {target.name} lacks objects of {source.name} this tool "
            f"cannot keep: {describe(lost)}. {source.name} is unchanged.",
            file=sys.stderr,
        )
    if args.backtest and backtest_problem:
        print(f"xlrebalance: backtest not filled: {backtest_problem}", file=sys.stderr)
        return 2
    return 0


def is_workbook(path: str) -> bool:
    return Path(path).suffix.lower() in WORKBOOK_SUFFIXES


def check_plan_input(path: str) -> None:
    """A spreadsheet ``plan`` cannot read gets told what it can, not "not valid JSON"."""
    suffix = Path(path).suffix.lower()
    if suffix in OTHER_SPREADSHEETS:
        raise XlRebalanceError(
            f"{path}: plan reads a portfolio JSON document (docs/portfolio-format.md) or a "
            f"workbook ({', '.join(WORKBOOK_SUFFIXES)}), not a {suffix} file: save it from "
            "Excel as .xlsx or .xlsm, or start one with: xlrebalance workbook new BOOK.xlsm"
        )


def load_workbook_input(path: str, *, offline: bool = True) -> Any:
    """The validated input of a workbook (for ``xlrebalance plan BOOK.xlsm``). Online, a
    blank price is allowed: the quotes fill it before planning."""
    from xlrebalance.workbook.book import OpenpyxlBook
    from xlrebalance.workbook.reader import read_input

    return read_input(OpenpyxlBook.open(path, owned_only=True), offline=offline)


def load_workbook_portfolio(path: str, *, offline: bool = True) -> Any:
    return load_workbook_input(path, offline=offline).portfolio


def no_network_note(path: str, inp: Any, why: str) -> str:
    """One line for ``plan`` without a network: the sheet's price times, or the file's."""
    if inp is not None:
        from xlrebalance.macros import no_network_note as sheet_note

        return str(sheet_note(inp, why))
    return f"no network: using the prices in {path} ({why})"


__all__ = [
    "add_commands",
    "check_plan_input",
    "is_workbook",
    "load_workbook_input",
    "load_workbook_portfolio",
    "no_network_note",
    "shutil",
]
