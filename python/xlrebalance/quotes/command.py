"""``xlrebalance quote TICKER... [--json] [--offline]``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC
from typing import TYPE_CHECKING, Any, TextIO

from xlrebalance.jsonout import dumps

if TYPE_CHECKING:
    from xlrebalance.quotes.types import Quote

PROGRESS_MIN = 20
"""Lists at least this long get a progress bar on stderr (when stderr is a terminal)."""


def add_commands(commands: Any) -> None:
    """Register the ``quote`` subcommand on an ``argparse`` subparsers object."""
    p = commands.add_parser(
        "quote",
        help="show live quotes (US tickers, 6-digit KRX codes, FX pairs such as USDKRW)",
        description="Quotes from the cache when fresh, else from Yahoo (and KRX with a login).",
    )
    p.add_argument(
        "tickers",
        nargs="+",
        metavar="TICKER",
        help="US symbol (AAPL), 6-character KRX code (005930; 5930 works too) or FX pair "
        "(USDKRW); several at once are fetched in one batch",
    )
    p.add_argument("--json", action="store_true", help="print the quotes as JSON")
    p.add_argument("--offline", action="store_true", help="use the quote cache only (no network)")
    p.add_argument(
        "--accept-jumps",
        action="store_true",
        help="use prices that jumped implausibly far from the last good price (after a split)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from xlrebalance.quotes.prices import quote
    from xlrebalance.quotes.sanity import SanityPolicy

    tickers: list[str] = args.tickers
    bar = ProgressBar(sys.stderr) if len(tickers) >= PROGRESS_MIN and sys.stderr.isatty() else None
    try:
        quotes = quote(
            tickers,
            offline=args.offline,
            progress=bar,
            sanity=SanityPolicy(accept_jumps=args.accept_jumps),
        )
    finally:
        if bar is not None:
            bar.finish()
    if args.json:
        print(dumps([quote_to_dict(q) for q in quotes]))
    else:
        print(format_quotes(quotes))
    return 0 if all(q.price is not None for q in quotes) else 1


class ProgressBar:
    """A rich progress bar (``quotes ━━━━━━━━━━╺━━━━━━ 120/700 0:00:03``) on a terminal
    stream; the caller only makes one when the stream is a terminal."""

    def __init__(self, stream: TextIO, width: int | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("quotes"),
            BarColumn(bar_width=width),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream, highlight=False),
        )
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        """``progress(done, total)`` as the quote engine calls it (from worker threads)."""
        if total <= 0:
            return
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("quotes", total=total, completed=done)
        self.progress.update(self.task, completed=done, total=total)

    def finish(self) -> None:
        if self.task is not None:
            self.progress.stop()


def quote_to_dict(q: Quote) -> dict[str, Any]:
    return {
        "ticker": q.ticker,
        "market": q.market,
        "price": q.price,
        "currency": q.currency,
        "time": q.time.isoformat() if q.time else None,
        "source": q.source,
        "status": q.status.value,
        "delayed": q.delayed,
        "name": q.name,
        "name_ko": q.name_ko,
        "change": q.change,
        "symbol": q.symbol,
        "fetched": q.fetched.isoformat() if q.fetched else None,
        "detail": q.detail or None,
    }


def format_quotes(quotes: list[Quote]) -> str:
    from xlrebalance.quotes.types import QuoteStatus

    header = ("ticker", "price", "ccy", "time (UTC)", "source", "status", "name")
    rows = [header]
    for q in quotes:
        price = "" if q.price is None else f"{q.price:,.4f}".rstrip("0").rstrip(".")
        when = q.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if q.time else ""
        status = q.status.value + (" (delayed)" if q.delayed and q.price is not None else "")
        name = q.display_name or ""
        if q.status is not QuoteStatus.OK and q.detail:
            name = f"{name} -- {q.detail}" if name else q.detail
        rows.append((q.ticker, price, q.currency or "", when, q.source, status, name))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1])]
        cells += [c.ljust(w) for c, w in zip(r[2:-1], widths[2:], strict=True)]
        lines.append("  ".join([*cells, r[-1]]).rstrip())
    return "\n".join(lines)
