"""``xlrebalance sync status|pull|push BOOK|FILE [--remote URL]``."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from xlrebalance.errors import XlRebalanceError
from xlrebalance.sync.engine import Local, Outcome, pull, push, status
from xlrebalance.sync.errors import SyncError
from xlrebalance.sync.remote import Options, Remote, open_remote
from xlrebalance.sync.stores import KEYRING_SERVICE, secret

PASSPHRASE_ENV = "XLREBALANCE_SYNC_PASSPHRASE"


def add_commands(commands: Any) -> None:
    """Register ``sync`` on the CLI's subparsers."""
    sync = commands.add_parser(
        "sync", help="sync a workbook or portfolio JSON file with cloud storage"
    )
    sub = sync.add_subparsers(dest="sync_command", required=True)
    for name, text in (
        ("status", "say whether this copy is ahead of, behind or diverged from the remote"),
        ("pull", "merge the remote's changes into this copy (the remote is not changed)"),
        ("push", "merge, then publish this copy's changes to the remote"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("file", help="the workbook (.xlsm, .xlsx) or portfolio JSON file")
        _remote_options(p)
        p.set_defaults(handler=_run, action=name)
    key = sub.add_parser("passphrase", help="store the encryption passphrase in the OS keyring")
    _remote_options(key)
    key.set_defaults(handler=_store_passphrase)


def _remote_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--remote",
        default=None,
        help="file://FOLDER, s3://BUCKET/PATH or webdav://HOST/PATH "
        "(default: sync.remote on the Settings sheet, or the last one used)",
    )
    p.add_argument("--endpoint", default=None, help="S3-compatible endpoint URL (R2, MinIO, ...)")
    p.add_argument(
        "--timeout", type=float, default=20.0, help="seconds per storage request (default 20)"
    )


def passphrase(remote_url: str) -> str | None:
    """From ``XLREBALANCE_SYNC_PASSPHRASE`` or the OS keyring; None: no encryption."""
    return secret(PASSPHRASE_ENV, remote_url.rstrip("/"))


def _run(args: argparse.Namespace) -> int:
    from xlrebalance.workbook.command import is_workbook

    path = Path(args.file)
    if is_workbook(args.file):
        return _run_workbook(args, path)
    from xlrebalance.sync.files import JsonFileCopy

    copy = JsonFileCopy(path)
    url = args.remote or _last_remote(copy)
    return _report(args.action, _do(args, copy, url))


def _run_workbook(args: argparse.Namespace, path: Path) -> int:
    from xlrebalance.sync.book_copy import ENDPOINT_KEY, REMOTE_KEY, WorkbookCopy
    from xlrebalance.workbook.book import OpenpyxlBook
    from xlrebalance.workbook.package import check_target, save_workbook

    if args.action != "status":
        check_target(path)
    book = OpenpyxlBook.open(path)
    copy = WorkbookCopy(book, path.name)
    url = args.remote or copy.setting(REMOTE_KEY)
    args.endpoint = args.endpoint or copy.setting(ENDPOINT_KEY)
    original_save = copy.save

    def save_and_write(state: Any, base: Any) -> None:
        original_save(state, base)  # into the loaded workbook, then one atomic file save
        save_workbook(book.workbook, path, source=path)

    copy.save = save_and_write  # type: ignore[method-assign]
    return _report(args.action, _do(args, copy, url))


def _last_remote(copy: Any) -> str | None:
    try:
        base = copy.load().base
    except XlRebalanceError:
        return None
    return None if base is None else str(base.remote)


def _do(args: argparse.Namespace, copy: Local, url: str | None) -> Outcome:
    if not url:
        raise SyncError(
            f"{copy.name}: no remote: give --remote URL (or, in a workbook, fill sync.remote on "
            "the Settings sheet)"
        )
    remote: Remote = open_remote(url, Options(endpoint=args.endpoint, timeout=args.timeout))
    secret_ = passphrase(remote.url)
    action = {"status": status, "pull": pull, "push": push}[args.action]
    outcome = action(copy, remote, secret_)
    stats = remote.stats
    print(
        f"transfer: {stats.round_trips} round trips, {stats.bytes_sent} bytes sent, "
        f"{stats.bytes_received} bytes received",
        file=sys.stderr,
    )
    return outcome


def _report(action: str, outcome: Outcome) -> int:
    print(f"{outcome.action}: revision {outcome.revision}")
    if outcome.detail:
        print(outcome.detail)
    if action != "status":
        print("this copy " + ("changed" if outcome.changed_local else "unchanged"))
    for line in outcome.conflicts:
        print(f"conflict: {line}")
    for line in outcome.notes:
        print(f"note: {line}")
    return 0


def _store_passphrase(args: argparse.Namespace) -> int:
    if not args.remote:
        raise SyncError("give --remote URL: the passphrase is stored for that remote")
    import keyring

    first = getpass.getpass("passphrase: ")
    if not first or first != getpass.getpass("again: "):
        raise SyncError("the two passphrases differ (or are empty); nothing stored")
    keyring.set_password(KEYRING_SERVICE, f"{PASSPHRASE_ENV}:{args.remote.rstrip('/')}", first)
    print(f"stored in the OS keyring for {args.remote}")
    return 0


__all__ = ["add_commands", "passphrase"]
