"""The dashboard's web server: the pages, their static files and the JSON API, read-only on the store.

DashboardServer runs the standard library's ThreadingHTTPServer in a thread:
start() binds and serves, stop() shuts down and joins every request thread.
App maps a method and a URL to a Response through one route table and knows
nothing of sockets. Every request opens the store read-only
(gateway.store.connect_readonly) and closes it again: the bridge may write
meanwhile, and nothing here can write. Errors are small JSON objects, never a
traceback.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from gateway import store

from . import api, queries
from .alerts import AlertConfig, default_config

log = logging.getLogger("akker.dashboard")

STATIC_DIR = Path(__file__).parent / "static"
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_TEXT = "text/plain; charset=utf-8"  # LICENSE, and any file without a known suffix
_JSON = "application/json"
_NODE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # gateway/registry.py's rule for node names
# Nothing on a page may come from elsewhere: a barn has no reliable internet.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
    " frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_POLL_S = 0.05  # how soon serve_forever notices stop(): the standard 0.5 s makes every test wait
REQUEST_TIMEOUT_S = 10.0  # a client that sends nothing for this long is dropped, so stop() never waits longer


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_response(obj: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    return Response(status, _JSON, body, {"Cache-Control": "no-store", **(headers or {})})


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message, "status": status}, status, headers)


Handler = Callable[..., Response]


class App:
    """Requests to responses: one route table, the store opened read-only per request, the static files."""

    def __init__(self, db_path: Path, config: AlertConfig, now: Callable[[], datetime]) -> None:
        self.db_path = db_path
        self.config = config
        self.now = now
        self.static = {p.relative_to(STATIC_DIR).as_posix(): p for p in sorted(STATIC_DIR.rglob("*")) if p.is_file()}
        self.routes: tuple[tuple[re.Pattern[str], Handler], ...] = (
            (re.compile(r"/"), self.page_overview),
            (re.compile(r"/node/(?P<name>[^/]*)"), self.page_node),
            (re.compile(r"/api/nodes"), self.api_nodes),
            (re.compile(r"/api/nodes/(?P<name>[^/]*)"), self.api_node),
            (re.compile(r"/api/alerts"), self.api_alerts),
            (re.compile(r"/static/(?P<path>.+)"), self.static_file),
            (re.compile(r"/favicon\.ico"), self.no_icon),
        )

    def handle(self, method: str, target: str) -> Response:
        if method not in ("GET", "HEAD"):
            return error(405, f"{method} is not allowed: the dashboard only reads", {"Allow": "GET, HEAD"})
        url = urlsplit(target)
        try:
            path = unquote(url.path, errors="strict")
        except UnicodeDecodeError:
            return error(400, "bad path: not UTF-8")
        if not path.startswith("/") or "\x00" in path or ".." in path.split("/") or "\\" in path:
            return error(400, "bad path")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        for pattern, handler in self.routes:
            m = pattern.fullmatch(path.rstrip("/") or "/")
            if m:
                return handler(query, **m.groupdict())
        return error(404, "no such page")

    # ------------------------------------------------------------ pages and files

    def page_overview(self, query: dict[str, str]) -> Response:
        return self.static_file(query, "index.html")

    def page_node(self, query: dict[str, str], name: str) -> Response:
        return self._node(name, lambda db: self.static_file(query, "node.html"))

    def no_icon(self, query: dict[str, str]) -> Response:
        """Browsers ask for one on every JSON answer they show; the pages carry their own (an empty one)."""
        return Response(204, _TEXT, b"", {"Cache-Control": "max-age=86400"})

    def static_file(self, query: dict[str, str], path: str) -> Response:
        file = self.static.get(path)
        if file is None:
            return error(404, "no such file")
        return Response(200, _CONTENT_TYPES.get(file.suffix, _TEXT), file.read_bytes(), {"Cache-Control": "no-cache"})

    # ------------------------------------------------------------ the JSON API

    def api_nodes(self, query: dict[str, str]) -> Response:
        now = self.now()
        return self._read(
            lambda db: json_response(api.overview(db, self.config, now)),
            lambda hint: json_response(api.empty_overview(self.config, now, hint)),
        )

    def api_node(self, query: dict[str, str], name: str) -> Response:
        days = query.get("days", str(api.DEFAULT_DAYS))
        if not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= api.MAX_DAYS:
            return error(400, f"days must be a whole number from 1 to {api.MAX_DAYS}")
        return self._node(name, lambda db: json_response(api.node_detail(db, self.config, name, self.now(), int(days))))

    def api_alerts(self, query: dict[str, str]) -> Response:
        now = self.now()
        return self._read(
            lambda db: json_response(api.alerts(db, self.config, now)),
            lambda hint: json_response({**api.alerts(None, self.config, now), "hint": hint}),
        )

    # ------------------------------------------------------------ the store

    def _node(self, name: str, then: Callable[[sqlite3.Connection], Response]) -> Response:
        """then(db) for a node the pages can show; 400 for a name no node can have, 404 for an unknown one."""
        if not _NODE_NAME.fullmatch(name):
            return error(400, "bad node name: 1 to 64 letters, digits, - or _")
        unknown = error(404, f"no node named {name!r}")
        return self._read(lambda db: then(db) if api.known_node(db, self.config, name) else unknown, lambda _: unknown)

    def _read(self, then: Callable[[sqlite3.Connection], Response], unreadable: Callable[[str], Response]) -> Response:
        """then(db) on a read-only connection; unreadable(hint) when there is no store to read."""
        try:
            db = store.connect_readonly(self.db_path)
        except FileNotFoundError:
            return unreadable(f"no database at {self.db_path} yet: run `akker gateway run` or `akker sim` on it")
        except sqlite3.DatabaseError as err:  # a folder, a file this user may not read
            return self._unreadable(err, unreadable)
        try:
            return then(db)
        except sqlite3.DatabaseError as err:
            return self._unreadable(err, unreadable)
        finally:
            db.close()

    def _unreadable(self, err: Exception, unreadable: Callable[[str], Response]) -> Response:
        log.warning("dashboard: cannot read %s: %s", self.db_path, err)
        return unreadable(f"{self.db_path} cannot be read as a bridge database ({err})")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT_S
    server_version = "akker-dashboard"
    sys_version = ""

    def do_GET(self) -> None:
        self._respond(self.server.app_handle("GET", self.path))

    def do_HEAD(self) -> None:
        self._respond(self.server.app_handle("HEAD", self.path))

    def _other(self) -> None:
        self._respond(self.server.app_handle(self.command, self.path))

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests too get a small JSON error (the standard one is an HTML page)."""
        self.close_connection = True
        self._respond(error(code, message or "bad request"))

    def _respond(self, r: Response) -> None:
        self.send_response(r.status)
        for name, value in {**_SECURITY_HEADERS, **r.headers, "Content-Type": r.content_type}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(r.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(r.body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("dashboard: %s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # stop() joins request threads (block_on_close): nothing is left running
    block_on_close = True

    def __init__(self, address: tuple[str, int], app: App, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.app = app
        super().__init__(address, _Handler)

    def app_handle(self, method: str, target: str) -> Response:
        try:
            return self.app.handle(method, target)
        except Exception:
            log.exception("dashboard: %s %s failed", method, target)
            return error(500, "internal error: see the dashboard's log")


class DashboardServer:
    """The dashboard on host:port (port 0: any free port; url says which), until stop().

    Nothing happens in the constructor; start() binds the socket and serves in a thread.
    """

    def __init__(
        self,
        db_path: Path,
        host: str = "127.0.0.1",
        port: int = 8080,
        alerts_config: AlertConfig | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.db_path = Path(db_path)
        self.host = host
        self.port = port
        self.app = App(self.db_path, alerts_config or default_config(), now)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    @property
    def url(self) -> str:
        """The base URL, with the port actually bound once started."""
        port = self.port if self._bound_port is None else self._bound_port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}/"

    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._server = _Server((self.host, self.port), self.app, family)
        self._bound_port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(_POLL_S,), name="akker-dashboard", daemon=True
        )
        self._thread.start()
        log.info("dashboard: serving %s on %s", self.db_path, self.url)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> DashboardServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def latest_record_clock(db_path: Path) -> Callable[[], datetime]:
    """A clock that reads the newest record's reception time (the wall clock for an empty store).

    For a simulated farm, whose records carry virtual times: the dashboard then
    shows it as it was when the simulation ended, however long ago that was.
    """

    def now() -> datetime:
        try:
            db = store.connect_readonly(db_path)
        except FileNotFoundError:
            return utc_now()
        try:
            latest = queries.latest_received_at(db) if queries.has_store(db) else None
        except sqlite3.DatabaseError:
            latest = None
        finally:
            db.close()
        return latest or utc_now()

    return now
