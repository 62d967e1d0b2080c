"""Stopping a running backtest: a token the progress callback checks between rebalances.

On the command line Ctrl-C does it (KeyboardInterrupt). Inside Excel there is no Ctrl-C: the
ribbon's RunPython waits for Python with Excel's input blocked, so neither a second button nor
a cell can be clicked or typed while a backtest runs. What still reaches a running Python is the
keyboard's state: :func:`escape_key` watches Esc (Windows: ``GetAsyncKeyState`` while a window
of Excel's process is in front; macOS: the CoreGraphics key state). A watcher thread polls the
sources every 50 ms so a short press is not missed between two progress calls; the progress
callback then raises :class:`BacktestStopped`, which the runner turns into a partial result
naming the policies that did not run.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

StopCheck = Callable[[], bool]
"""True once the user asked to stop."""


class BacktestStopped(Exception):
    """The user asked the running backtest to stop."""


class StopSignal:
    """Polls ``checks`` on a daemon thread; :meth:`raise_if_requested` is for the loop."""

    def __init__(self, checks: Sequence[StopCheck], interval: float = 0.05) -> None:
        self._checks = list(checks)
        self._interval = interval
        self._stopped = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StopSignal:
        if self._checks:
            self._thread = threading.Thread(target=self._watch, name="backtest-stop", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=1)

    def _watch(self) -> None:
        while not self._done.wait(self._interval):
            for check in self._checks:
                try:
                    if check():
                        self._stopped.set()
                        return
                except Exception:  # a broken source must not end the run; the others remain
                    self._checks.remove(check)
                    break

    @property
    def watching(self) -> bool:
        """Whether anything can ask for a stop (a key, a file...)."""
        return bool(self._checks)

    @property
    def requested(self) -> bool:
        return self._stopped.is_set()

    def request(self) -> None:
        self._stopped.set()

    def raise_if_requested(self) -> None:
        if self._stopped.is_set():
            raise BacktestStopped


def escape_key(excel_hwnd: int | None) -> StopCheck | None:
    """Esc pressed (Windows: while Excel's process owns the window in front), or None where
    the key state cannot be read."""
    if sys.platform == "win32":
        return _windows_escape(excel_hwnd)
    if sys.platform == "darwin":
        return _mac_escape()
    return None


def _windows_escape(excel_hwnd: int | None) -> StopCheck | None:  # pragma: no cover - Windows
    try:
        user32: Any = ctypes.WinDLL("user32")  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        return None
    vk_escape = 0x1B

    def process_of(hwnd: int) -> int:
        pid = ctypes.c_ulong()
        user32.GetWindowThreadProcessId(ctypes.c_void_p(hwnd), ctypes.byref(pid))
        return pid.value

    excel = process_of(excel_hwnd) if excel_hwnd else 0
    user32.GetAsyncKeyState(vk_escape)  # forget a press from before the run (the low bit)

    def pressed() -> bool:
        # High bit: down now; low bit: pressed since the last call (so a tap between polls).
        state = int(user32.GetAsyncKeyState(vk_escape)) & 0xFFFF
        if not state & 0x8001:
            return False
        return not excel or process_of(int(user32.GetForegroundWindow() or 0)) == excel

    return pressed


def _mac_escape() -> StopCheck | None:  # pragma: no cover - macOS
    try:
        graphics: Any = ctypes.cdll.LoadLibrary(
            "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics"
        )
    except OSError:
        return None
    graphics.CGEventSourceKeyState.restype = ctypes.c_bool
    graphics.CGEventSourceKeyState.argtypes = [ctypes.c_int32, ctypes.c_uint16]
    combined_session, kvk_escape = 0, 0x35

    def pressed() -> bool:
        return bool(graphics.CGEventSourceKeyState(combined_session, kvk_escape))

    return pressed
