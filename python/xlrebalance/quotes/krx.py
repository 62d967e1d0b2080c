"""KRX official end-of-day closes and Korean names through pykrx (needs a KRX login).

Since 2025-12 data.krx.co.kr answers only logged-in sessions. pykrx logs in *when it is
imported* if ``KRX_ID``/``KRX_PW`` are set, over a plain ``requests`` session without timeouts,
and prints the login ID and progress to stdout. So this module:

- imports pykrx lazily, only when credentials exist, with the credentials hidden from the
  environment during the import and stdout captured (nothing pykrx prints reaches the user);
- logs in itself with pykrx's ``login_krx`` over a session that caps timeouts, counts requests
  and (with ``XLREBALANCE_KRX_URL``) sends every KRX URL to one base URL, path and query kept;
- hands that session to pykrx as its auth session, and re-logs in before it expires;
- calls pykrx's two whole-market tables (all stocks incl. KOSPI/KOSDAQ market ids, all ETFs):
  two requests for any number of tickers.

Without credentials the source is not built (``krx_source()`` returns None) and one notice line
goes to stderr the first time KRX prices would have been used.

Credentials come from ``KRX_ID``/``KRX_PW`` or, when the optional ``keyring`` package is
installed, from the OS keyring (service ``xlrebalance``, entries ``KRX_ID`` and ``KRX_PW``).
They are never logged, printed or stored.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from xlrebalance.errors import NetworkUnreachable, QuoteError
from xlrebalance.quotes.calendar import KRX, SEOUL
from xlrebalance.quotes.net import Counter, RetryPolicy, Transient, probe, rewrite_url
from xlrebalance.quotes.types import Progress, Quote, QuoteStatus, failure

KRX_ENV = "XLREBALANCE_KRX_URL"
KRX_URL = "https://data.krx.co.kr/"
KEYRING_SERVICE = "xlrebalance"
SESSION_LIFETIME = timedelta(minutes=50)  # KRX sessions last an hour; renew early
MARKET_SUFFIX = {"STK": ".KS", "KSQ": ".KQ"}  # KONEX has no Yahoo symbol

_PYKRX_LOCK = threading.Lock()  # pykrx keeps one global auth session
_notice_lock = threading.Lock()
_noticed = False

NO_CREDENTIALS = (
    "xlrebalance: KRX official closes skipped (no KRX login: set KRX_ID and KRX_PW, or store "
    "them in the OS keyring); Korean prices come from Yahoo, about 20 minutes delayed"
)


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)


def find_credentials(
    environ: Mapping[str, str] | None = None,
    keyring_get: Callable[[str, str], str | None] | None = None,
) -> Credentials | None:
    """``KRX_ID``/``KRX_PW`` from the environment, else from the OS keyring, else None."""
    env = os.environ if environ is None else environ
    user, password = env.get("KRX_ID", ""), env.get("KRX_PW", "")
    if user and password:
        return Credentials(user, password)
    getter = keyring_get if keyring_get is not None else _keyring_getter()
    if getter is None:
        return None
    try:
        user = user or (getter(KEYRING_SERVICE, "KRX_ID") or "")
        password = password or (getter(KEYRING_SERVICE, "KRX_PW") or "")
    except Exception:  # a locked or absent keyring backend means "no credentials"
        return None
    return Credentials(user, password) if user and password else None


def _keyring_getter() -> Callable[[str, str], str | None] | None:
    try:
        keyring = importlib.import_module("keyring")  # optional: pip install keyring
    except ImportError:
        return None
    get: Callable[[str, str], str | None] = keyring.get_password
    return get


def notice_once(message: str = NO_CREDENTIALS) -> bool:
    """Print ``message`` on stderr once per process; True if it was printed now."""
    global _noticed
    with _notice_lock:
        if _noticed:
            return False
        _noticed = True
    print(message, file=sys.stderr)
    return True


class LoginFailed(QuoteError):
    """KRX refused the login (wrong ID or password, or a password change is due)."""


@contextlib.contextmanager
def _quiet_import_env() -> Any:
    """Hide the credentials while pykrx imports (its import logs in) and swallow its prints."""
    saved = {k: os.environ.pop(k) for k in ("KRX_ID", "KRX_PW") if k in os.environ}
    os.environ.setdefault("MPLBACKEND", "Agg")  # pykrx imports matplotlib.pyplot
    try:
        # pykrx's import also raises a DeprecationWarning (importlib.resources.path) that
        # would reach the user's stderr: it is not theirs to act on.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.environ.update(saved)


def _pykrx() -> Any:
    try:
        with _quiet_import_env():
            from pykrx.website.comm import auth
            from pykrx.website.krx.etx import core as etx_core
            from pykrx.website.krx.market import core as market_core
    except ImportError as exc:
        raise QuoteError("the KRX source needs pykrx: pip install 'xlrebalance[quotes]'") from exc
    return auth, market_core, etx_core


@dataclass
class KrxSource:
    """Official closes of the latest KRX session that has ended, with Korean names."""

    credentials: Credentials
    base_url: str | None = None
    timeout: float = 10.0
    connect_timeout: float = 1.5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    name: str = "krx"
    requests: Counter = field(default_factory=Counter)
    _session: Any = field(default=None, repr=False)
    _logged_in_at: float = 0.0

    def __post_init__(self) -> None:
        if self.base_url is None:
            self.base_url = os.environ.get(KRX_ENV) or None

    def fetch(
        self, symbols: Sequence[str], *, progress: Progress | None = None
    ) -> Mapping[str, Quote]:
        codes = list(dict.fromkeys(symbols))
        if not codes:
            return {}
        # Before pykrx (and pandas) load: without a network, say so at once.
        why = probe(rewrite_url(KRX_URL, self.base_url), self.connect_timeout)
        if why is not None:
            raise NetworkUnreachable(why)
        with _PYKRX_LOCK:
            try:
                out = self._fetch(codes)
            except Exception as exc:
                detail = _describe(exc)
                out = {c: failure(c, self.name, QuoteStatus.ERROR, detail) for c in codes}
        if progress:
            progress(len(codes))
        return out

    def fetch_profiles(
        self, symbols: Sequence[str], *, progress: Progress | None = None
    ) -> dict[str, Mapping[str, Any] | str]:
        """What each KRX ETF holds, from its portfolio deposit file (PDF): one request for the
        ETF list (code -> ISIN), then one per ETF, on the latest session's file. Answered in
        the shape of Yahoo's ``topHoldings`` so one parser reads both; a code that is not an
        ETF answers ``{}`` (no holdings), an error its one-line description."""
        codes = list(dict.fromkeys(symbols))
        if not codes:
            return {}
        out: dict[str, Mapping[str, Any] | str] = {}
        with _PYKRX_LOCK:
            try:
                # Before the time budget: the first call in a year builds its calendar.
                stamp = KRX.last_session_day(self.clock()).strftime("%Y%m%d")
                auth, _, etx_core = _pykrx()
                deadline = self.retry.deadline()
                self._login(auth, deadline)
                listing = self._call(etx_core.ETF_전종목기본종목().fetch, deadline)
                isin = {
                    str(r.get("ISU_SRT_CD", "")).strip(): str(r.get("ISU_CD", "")).strip()
                    for r in listing.to_dict("records")
                }
                for code in codes:
                    if code not in isin:
                        out[code] = {}
                    else:
                        rows = self._call(
                            partial(etx_core.PDF().fetch, stamp, isin[code]), deadline
                        )
                        out[code] = {"topHoldings": _pdf_holdings(rows.to_dict("records"))}
                    if progress:
                        progress(1)
            except Exception as exc:
                detail = _describe(exc)
                out.update({c: detail for c in codes if c not in out})
        return out

    # -- internals ------------------------------------------------------------------------

    def _fetch(self, codes: list[str]) -> dict[str, Quote]:
        # Before the time budget starts: the first call in a year builds its trading calendar.
        day = KRX.last_session_day(self.clock())
        auth, market_core, etx_core = _pykrx()
        deadline = self.retry.deadline()
        self._login(auth, deadline)
        rows: dict[str, tuple[Mapping[str, Any], str]] = {}
        # A closure the calendar lacks comes back without prices: step back a session.
        for _ in range(5):
            stamp = day.strftime("%Y%m%d")
            stocks = self._call(partial(market_core.전종목시세().fetch, stamp, "ALL"), deadline)
            rows = _priced(stocks, "stock")
            if rows:
                break
            day = _previous_session(day)
        if not rows:
            raise QuoteError("KRX returned no closing prices for the last five sessions")
        etf_error = ""
        if any(code not in rows for code in codes):
            # ETFs are in a table of their own: ask only when a code was not a stock.
            stamp = day.strftime("%Y%m%d")
            try:
                etfs = self._call(partial(etx_core.전종목시세_ETF().fetch, stamp), deadline)
                rows.update({k: v for k, v in _priced(etfs, "etf").items() if k not in rows})
            except Exception as exc:
                etf_error = _describe(exc)
        session = KRX.session(day)  # its own hours (a late opening moves the close too)
        closed = (session[1] if session else datetime.combine(day, KRX.close, SEOUL)).astimezone(
            UTC
        )
        fetched = datetime.now(UTC)
        out: dict[str, Quote] = {}
        for code in codes:
            found = rows.get(code)
            if found is None:
                status = QuoteStatus.ERROR if etf_error else QuoteStatus.MISSING
                out[code] = failure(code, self.name, status, etf_error or "not listed on KRX")
                continue
            record, kind = found
            market_id = "STK" if kind == "etf" else str(record.get("MKT_ID", ""))
            suffix = MARKET_SUFFIX.get(market_id)
            out[code] = Quote(
                ticker=code,
                price=_number(record.get("TDD_CLSPRC")),
                currency="KRW",
                time=closed,
                source=self.name,
                status=QuoteStatus.OK,
                market="KR",
                delayed=False,
                name_ko=str(record.get("ISU_ABBRV", "")).strip() or None,
                change=_number(record.get("CMPPREVDD_PRC")),
                symbol=code + suffix if suffix else None,
                fetched=fetched,
            )
        return out

    def _call(self, fn: Callable[[], Any], deadline: float) -> Any:
        def attempt(left: float) -> Any:
            with contextlib.redirect_stdout(io.StringIO()):
                return fn()

        return self.retry.run(attempt, deadline=deadline, is_transient=_is_transient)

    def _login(self, auth: Any, deadline: float) -> None:
        if self._session is not None and time.monotonic() - self._logged_in_at < (
            SESSION_LIFETIME.total_seconds()
        ):
            auth.set_auth_session(self._krx_session(auth))
            return
        session = _redirecting_session(self)

        def attempt(left: float) -> bool:
            with contextlib.redirect_stdout(io.StringIO()):
                return bool(
                    auth.login_krx(self.credentials.user, self.credentials.password, session)
                )

        if not self.retry.run(attempt, deadline=deadline, is_transient=_is_transient):
            raise LoginFailed("KRX refused the login (check KRX_ID and KRX_PW)")
        self._session = session
        self._logged_in_at = time.monotonic()
        auth.set_auth_session(self._krx_session(auth))

    def _krx_session(self, auth: Any) -> Any:
        # pykrx sends its cookie dict as an explicit Cookie header; fill it from our jar.
        cookies = {
            c.name: {
                "value": c.value,
                "domain": c.domain,
                "path": c.path,
                "secure": c.secure,
                "expires": c.expires or 0,
            }
            for c in self._session.cookies
        }
        now = time.time()
        return auth.KRXSession(
            session=self._session,
            login_time=now,
            expiry_time=now + 3600,
            is_authenticated=True,
            cookies=cookies,
        )


def _priced(frame: Any, kind: str) -> dict[str, tuple[Mapping[str, Any], str]]:
    rows: dict[str, tuple[Mapping[str, Any], str]] = {}
    for record in frame.to_dict("records"):
        price = _number(record.get("TDD_CLSPRC"))
        if price is not None and price > 0:
            rows[str(record.get("ISU_SRT_CD", "")).strip()] = (record, kind)
    return rows


def _pdf_holdings(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A PDF's rows as ``topHoldings``: weight from KRX's ratio (percent), or, where KRX leaves
    it 0 (funds of foreign shares), from each row's value over the file's total; cash rows
    count in the total but are not holdings."""
    rows = []
    total = 0.0  # the whole file, cash included: a weight is of the fund
    for r in records:
        code = str(r.get("COMPST_ISU_CD", "")).strip()
        name = str(r.get("COMPST_ISU_NM", "")).strip()
        value = _number(r.get("VALU_AMT"))
        total += value or 0.0
        if not code or name in ("원화예금", "현금", "설정현금액"):
            continue
        rows.append((code, name, _number(r.get("COMPST_RTO")), value))
    use_ratio = any(ratio for _, _, ratio, _ in rows)
    weighted: list[tuple[float, str, str]] = []
    for code, name, ratio, value in rows:
        share = (value or 0.0) / total if total else 0.0
        weight = (ratio or 0.0) / 100 if use_ratio else share
        if weight > 0:
            # KRX mixes short codes and ISINs (KR7005930003 is 005930).
            short = code[3:9] if len(code) == 12 and code.startswith("KR7") else code
            weighted.append((weight, short, name))
    weighted.sort(key=lambda row: -row[0])
    holdings = [{"symbol": c, "holdingName": n, "holdingPercent": w} for w, c, n in weighted]
    return {"holdings": holdings, "sectorWeightings": []}


def _previous_session(day: date) -> date:
    day -= timedelta(days=1)
    while KRX.session(day) is None:
        day -= timedelta(days=1)
    return day


def _number(value: Any) -> float | None:
    """KRX writes numbers as text with thousands separators ("71,200", "-500", "-")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.replace(",", "").strip()
    if not text or text == "-":
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, Transient):
        return True
    try:
        import requests
    except ImportError:  # pragma: no cover - pykrx depends on requests
        return False
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, QuoteError):
        return str(exc)
    if isinstance(exc, KeyError):
        return f"KRX answer lacks {exc}"
    if isinstance(exc, ValueError):
        return "KRX sent something that is not the expected JSON"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"KRX request failed: {text[:160]}"


class _Status(Transient):
    pass


def _redirecting_session(owner: KrxSource) -> Any:
    """A requests session that caps timeouts (pykrx sets none), counts requests, turns 429
    and 5xx into retryable errors and sends every URL to the owner's base URL."""
    import requests

    class RedirectingSession(requests.Session):
        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            given = kwargs.get("timeout")
            kwargs["timeout"] = (
                min(given, owner.timeout) if isinstance(given, int | float) else owner.timeout
            )
            owner.requests.add()
            response = super().request(
                method, rewrite_url(str(url), owner.base_url), *args, **kwargs
            )
            if response.status_code == 429 or response.status_code >= 500:
                raise _Status(f"KRX answered HTTP {response.status_code}")
            return response

    return RedirectingSession()
