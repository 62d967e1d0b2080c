"""Real storage servers on 127.0.0.1 for the sync tests: moto's S3 server, wsgidav (WebDAV)
under cheroot, and a fault-injecting HTTP proxy that can sit in front of either."""

from __future__ import annotations

import http.client
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

S3_BUCKET = "xlrebalance-sync"
DAV_USER, DAV_PASSWORD = "alice", "wonderland-7"


@contextmanager
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def webdav_server(root: Path) -> Iterator[str]:
    from cheroot import wsgi
    from wsgidav.wsgidav_app import WsgiDAVApp

    app = WsgiDAVApp(
        {
            "provider_mapping": {"/": str(root)},
            "verbose": 0,
            "logging": {"enable": False},
            "http_authenticator": {
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "simple_dc": {"user_mapping": {"*": {DAV_USER: {"password": DAV_PASSWORD}}}},
            "lock_storage": True,
        }
    )
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=8)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}"
    finally:
        server.stop()


@dataclass
class Faults:
    """What the proxy does to the next requests: ``error`` answers 500 (or a given
    status), ``stall`` waits that many seconds first, ``hang_put`` stops reading the body of a
    PUT whose path contains the text (and sets ``hung``)."""

    error: int | None = None
    stall: float = 0.0
    hang_put: str | None = None
    hung: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    requests: int = 0


class _Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True
    upstream: str
    faults: Faults


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Proxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _relay(self) -> None:
        faults = self.server.faults
        faults.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        if faults.hang_put and self.command == "PUT" and faults.hang_put in self.path:
            self.rfile.read(min(length, 100))  # part of the body, then nothing more
            faults.hung.set()
            faults.release.wait(30)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else None
        if faults.stall:
            time.sleep(faults.stall)
        if faults.error is not None:
            payload = b"injected failure"
            try:
                self.send_response(faults.error)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            return
        host = self.server.upstream.split("://", 1)[1]
        conn = http.client.HTTPConnection(host, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            headers["Host"] = host
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout under test)
        finally:
            conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay
    do_PROPFIND = do_MKCOL = do_LOCK = do_UNLOCK = do_MOVE = do_COPY = do_OPTIONS = _relay


@contextmanager
def fault_proxy(upstream: str) -> Iterator[tuple[str, Faults]]:
    server = _Proxy(("127.0.0.1", 0), _Handler)
    server.upstream = upstream
    server.faults = Faults()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.faults
    finally:
        server.faults.release.set()
        server.shutdown()
        server.server_close()
