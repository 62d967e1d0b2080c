"""Local stand-ins for Yahoo Finance and data.krx.co.kr, serving recorded payloads.

Each runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 in a thread. The Yahoo one is reached
as ``yahoo.localhost`` (which resolves to 127.0.0.1 without DNS) so that yfinance's own cookie
handling, which keeps only cookies of a domain containing "yahoo", behaves as against Yahoo.

Faults are queued per path prefix and consumed one request at a time: ``429``, ``500``,
``garbage`` (not JSON), ``drop`` (close the connection without an answer), ``slow`` (sleep
before answering), ``401`` (Yahoo's "Invalid Crumb"), ``429-retry-after`` (a 429 whose
``Retry-After`` is the fault's seconds).
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from xlrebalance.quotes.net import RetryPolicy

# Saturday 2026-03-07 12:00 UTC: both markets closed, Friday's closes are the latest prices.
WEEKEND = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.01, max_delay=0.05, budget=5.0)

DATA = Path(__file__).resolve().parents[1] / "data" / "quotes"

Answer = tuple[int, dict[str, str], bytes]


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def as_json(status: int, payload: object, headers: dict[str, str] | None = None) -> Answer:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json;charset=utf-8", **(headers or {})}, body


@dataclass
class Fault:
    prefix: str
    kind: str
    seconds: float = 0.0


class FakeServer:
    """An HTTP server on 127.0.0.1 answering with ``app(method, path, query, form, cookies)``."""

    host = "127.0.0.1"

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.log: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per answer, no Nagle: avoids 40 ms delayed-ACK stalls per request.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail(self, prefix: str, kind: str, times: int = 1, seconds: float = 0.0) -> None:
        with self._lock:
            self.faults.extend(Fault(prefix, kind, seconds) for _ in range(times))

    def paths(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [p for _, p in self.log if p.startswith(prefix)]

    def app(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
        cookies: dict[str, str],
    ) -> Answer:
        raise NotImplementedError

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if path.startswith(fault.prefix):
                    return self.faults.pop(i)
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        with self._lock:
            self.log.append((method, parts.path))
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(parts.path)
        if fault is not None:
            if fault.kind == "drop":
                handler.close_connection = True
                return
            if fault.kind == "slow":
                time.sleep(fault.seconds)
            elif fault.kind == "429-retry-after":
                wait = {"Retry-After": f"{fault.seconds:g}", "Content-Type": "text/html"}
                self._send(handler, 429, wait, b"Too Many Requests\r\n")
                return
            else:
                self._send(handler, *_fault_answer(fault.kind))
                return
        cookies = {}
        for item in (handler.headers.get("Cookie") or "").split(";"):
            name, _, value = item.strip().partition("=")
            if name:
                cookies[name] = value
        try:
            answer = self.app(method, parts.path, parse_qs(parts.query), parse_qs(raw), cookies)
        except BrokenPipeError:
            return
        self._send(handler, *answer)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        try:
            handler.send_response(status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _fault_answer(kind: str) -> Answer:
    if kind == "429":
        return 429, {"Content-Type": "text/html"}, b"Too Many Requests\r\n"
    if kind == "500":
        return 500, {"Content-Type": "text/html"}, b"<html>Internal Server Error</html>"
    if kind == "garbage":
        return 200, {"Content-Type": "application/json"}, b'{"quoteResponse": {"result": [{"sym'
    if kind == "401":
        return as_json(401, load("yahoo_v7_invalid_crumb.json"))
    raise ValueError(f"unknown fault {kind!r}")


# -- Yahoo -----------------------------------------------------------------------------------


class FakeYahoo(FakeServer):
    """fc.yahoo.com (cookie), getcrumb, the consent page, v7 quote and v8 chart."""

    host = "yahoo.localhost"

    def __init__(
        self,
        items: dict[str, dict[str, Any]] | None = None,
        latency: float = 0.0,
        profiles: dict[str, dict[str, Any]] | None = None,
    ):
        super().__init__(latency)
        # quoteSummary results by symbol (fund holdings, company profiles)
        self.profiles = profiles if profiles is not None else load("yahoo_v10_quotesummary.json")
        if items is None:
            items = {i["symbol"]: i for i in load("yahoo_v7_quote.json")["quoteResponse"]["result"]}
        self.items = items
        self.chart_template = load("yahoo_v8_chart_AAPL.json")
        self.crumb = "Xq2b7fK.Qh3"
        self.crumbs_seen: list[str] = []
        self.batches: list[list[str]] = []

    def app(self, method, path, query, form, cookies):  # type: ignore[no-untyped-def]
        if path == "/":
            # fc.yahoo.com answers 404 and sets the A3 cookie.
            expires = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 86400))
            cookie = f"A3=d=AQABBFAKE&S=AQAAAFAKE; Expires={expires}; Path=/; SameSite=None"
            return 404, {"Set-Cookie": cookie, "Content-Type": "text/html"}, b"<html>404</html>"
        if path == "/v1/test/getcrumb":
            return 200, {"Content-Type": "text/plain"}, self.crumb.encode()
        if path == "/consent":
            return 200, {"Content-Type": "text/html"}, b"<html><body>no form</body></html>"
        crumb = (query.get("crumb") or [""])[0]
        with self._lock:
            self.crumbs_seen.append(crumb)
        if path == "/v7/finance/quote":
            symbols = ",".join(query.get("symbols", [])).split(",")
            with self._lock:
                self.batches.append(symbols)
            found = [self.items[s] for s in symbols if s in self.items]
            return as_json(200, {"quoteResponse": {"result": found, "error": None}})
        if path.startswith("/v10/finance/quoteSummary/"):
            symbol = path.rsplit("/", 1)[1]
            result = self.profiles.get(symbol)
            if result is None:
                why = f"Quote not found for symbol: {symbol}"
                error = {"code": "Not Found", "description": why}
                return as_json(404, {"quoteSummary": {"result": None, "error": error}})
            return as_json(200, {"quoteSummary": {"result": [result], "error": None}})
        if path.startswith("/v8/finance/chart/"):
            symbol = path.rsplit("/", 1)[1]
            item = self.items.get(symbol)
            if item is None:
                return as_json(404, load("yahoo_v8_chart_not_found.json"))
            return as_json(200, self._chart(item))
        return 404, {"Content-Type": "text/html"}, b"<html>not found</html>"

    def _chart(self, item: dict[str, Any]) -> dict[str, Any]:
        chart = copy.deepcopy(self.chart_template)
        meta = chart["chart"]["result"][0]["meta"]
        meta.update(
            symbol=item["symbol"],
            currency=item["currency"],
            exchangeName=item["exchange"],
            regularMarketPrice=item["regularMarketPrice"],
            regularMarketTime=item["regularMarketTime"],
            chartPreviousClose=item["regularMarketPreviousClose"],
            longName=item.get("longName"),
            shortName=item.get("shortName"),
        )
        return chart


# -- KRX -------------------------------------------------------------------------------------


class FakeKrx(FakeServer):
    """The KRX login flow and getJsonData.cmd for the all-stocks and all-ETFs tables."""

    def __init__(
        self,
        user: str = "investor",
        password: str = "s3cret!",
        stocks: dict[str, Any] | None = None,
        etfs: dict[str, Any] | None = None,
        latency: float = 0.0,
    ) -> None:
        super().__init__(latency)
        self.user, self.password = user, password
        self.stocks = stocks if stocks is not None else load("krx_MDCSTAT01501.json")
        self.etfs = etfs if etfs is not None else load("krx_MDCSTAT04301.json")
        self.sessions: set[str] = set()
        self.logged_in: set[str] = set()
        self.dates: list[str] = []
        self.empty_dates: set[str] = set()
        self.on_data: Callable[[str], None] | None = None

    def app(self, method, path, query, form, cookies):  # type: ignore[no-untyped-def]
        session = cookies.get("JSESSIONID", "")
        if path == "/contents/MDC/COMS/client/MDCCOMS001.cmd":
            new = f"S{len(self.sessions) + 1:04d}.mdc"
            self.sessions.add(new)
            return (
                200,
                {"Set-Cookie": f"JSESSIONID={new}; Path=/", "Content-Type": "text/html"},
                b"<html/>",
            )
        if path == "/contents/MDC/COMS/client/view/login.jsp":
            return 200, {"Content-Type": "text/html"}, b"<html>login</html>"
        if path == "/contents/MDC/COMS/client/MDCCOMS001D1.cmd":
            ok = form.get("mbrId") == [self.user] and form.get("pw") == [self.password]
            if ok and session in self.sessions:
                self.logged_in.add(session)
                return as_json(200, load("krx_login_ok.json"))
            return as_json(200, load("krx_login_denied.json"))
        if path == "/comm/bldAttendant/getJsonData.cmd":
            if session not in self.logged_in:
                return 400, {"Content-Type": "text/html"}, b"LOGOUT"
            bld = (form.get("bld") or [""])[0]
            day = (form.get("trdDd") or [""])[0]
            self.dates.append(day)
            if bld.endswith("MDCSTAT01501"):
                if day in self.empty_dates:
                    return as_json(
                        200, {"OutBlock_1": [], "CURRENT_DATETIME": "2026.03.06 PM 05:48:34"}
                    )
                return as_json(200, self.stocks)
            if bld.endswith("MDCSTAT04301"):
                return as_json(200, self.etfs)
            if bld.endswith("MDCSTAT04601"):  # the ETF list: code -> ISIN
                return as_json(200, load("krx_MDCSTAT04601.json"))
            if bld.endswith("MDCSTAT05001"):  # one ETF's portfolio deposit file
                isin = (form.get("isuCd") or [""])[0]
                code = isin[3:9] if isin.startswith("KR7") else isin
                try:
                    return as_json(200, load(f"krx_MDCSTAT05001_{code}.json"))
                except FileNotFoundError:
                    return as_json(200, {"output": [], "CURRENT_DATETIME": ""})
        return 404, {"Content-Type": "text/html"}, b"<html>not found</html>"


@contextlib.contextmanager
def blackhole() -> Iterator[str]:
    """A port on 127.0.0.1 that drops connection attempts, like a firewall without a network:
    its one-slot accept queue is full, so the kernel ignores further handshakes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        filler.close()
        server.close()
