"""The dashboard's web server: the pages, their static files and the JSON API, read-only on the store.

DashboardServer runs the standard library's HTTPServer in a thread, with a
thread per connection up to Limits.max_connections (the rest get a 503), an
idle limit and a deadline for each request: start() binds and serves, stop()
hangs up on every client still connected and waits a few seconds at most, so
no client can hold a shutdown. App maps a method and a URL to a Response
through one route table and knows nothing of sockets. Every request opens the store read-only
(gateway.bridge.store.connect_readonly) and closes it again: the bridge may write
meanwhile, and nothing here can write. Errors are small JSON objects, never a
traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from gateway.bridge import store
from gateway.bridge.registry import NODE_NAME_RULE, valid_node_name
from gateway.farm import queries
from gateway.farm.alerts import AlertConfig, default_config

from . import api
from .auth import REALM, BasicAuth, PasswordHash

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
# Nothing on a page may come from elsewhere: a barn has no reliable internet.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
    " frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_POLL_S = 0.05  # how soon serve_forever notices stop() and a request past its deadline
BACKLOG = 128  # connections the kernel queues before accepting: a page load opens several at once


@dataclass(frozen=True)
class Limits:
    """What one client may cost: a farm's few browsers never come near these, a stuck or hostile client does."""

    max_connections: int = 32  # each is a thread; beyond this a connection gets 503 and Retry-After
    idle_s: float = 10.0  # a client that sends or reads nothing for this long is dropped
    request_deadline_s: float = 30.0  # a whole request, read, answered and written, or cut off: stops tricklers
    stop_wait_s: float = 3.0  # at stop, what requests still running get once their clients are hung up on


_BUSY_BODY = b'{"error":"too many connections: try again in a moment","status":503}'
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


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
        if not valid_node_name(name):
            return error(400, f"bad node name: {NODE_NAME_RULE}")
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
    server_version = "akker-dashboard"
    sys_version = ""

    def setup(self) -> None:
        self.timeout = self.server.limits.idle_s  # the socket's timeout: no byte for this long ends the request
        super().setup()

    def _any(self) -> None:
        self._respond(self.server.app_handle(self.command, self.path, self.headers.get("Authorization")))

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _any

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


@dataclass
class _Connection:
    sock: socket.socket
    client: str
    deadline: float
    thread: threading.Thread
    cut: bool = False


def _hang_up(sock: socket.socket) -> None:
    """End a connection another thread is blocked on: its recv returns EOF, its send fails at once."""
    with contextlib.suppress(OSError):  # the client already went
        sock.shutdown(socket.SHUT_RDWR)


class _Server(HTTPServer):
    """HTTPServer with a bounded thread per connection, and every connection's deadline watched.

    Not ThreadingHTTPServer: that starts a thread for every connection without
    limit and, at close, joins them all however long their clients take.
    """

    request_queue_size = BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        app: App,
        family: socket.AddressFamily,
        limits: Limits,
        auth: BasicAuth | None,
    ) -> None:
        self.address_family = family
        self.app = app
        self.limits = limits
        self.auth = auth
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _Connection] = {}
        super().__init__(address, _Handler)

    def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request, client_address)
            return
        thread = threading.Thread(
            target=self._serve, args=(request, client_address), name="akker-dashboard-request", daemon=True
        )
        deadline = time.monotonic() + self.limits.request_deadline_s
        with self._lock:
            self._open[request] = _Connection(request, client_address[0], deadline, thread)
        thread.start()

    def _serve(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            with self._lock:
                del self._open[request]
            self.shutdown_request(request)
            self._slots.release()

    def _refuse(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        """Answer 503 without a thread and without waiting: a busy client must not slow the accept loop."""
        log.debug("dashboard: %d connections open, %s refused", self.limits.max_connections, client_address[0])
        request.setblocking(False)
        with contextlib.suppress(OSError):
            request.recv(65536)  # what the client sent already: closing on unread bytes would reset the 503
        with contextlib.suppress(OSError):
            request.send(_BUSY)
        self.shutdown_request(request)

    def service_actions(self) -> None:
        """Run by serve_forever every _POLL_S: hang up on requests past their deadline."""
        now = time.monotonic()
        with self._lock:
            late = [c for c in self._open.values() if not c.cut and c.deadline <= now]
        for c in late:
            c.cut = True
            log.debug("dashboard: %s took over %g s: cut off", c.client, self.limits.request_deadline_s)
            _hang_up(c.sock)

    def hang_up_all(self, wait_s: float) -> int:
        """Hang up on every client; wait up to wait_s for their threads; return how many are still running."""
        with self._lock:
            open_now = list(self._open.values())
        for c in open_now:
            c.cut = True
            _hang_up(c.sock)
        until = time.monotonic() + wait_s
        for c in open_now:
            c.thread.join(max(0.0, until - time.monotonic()))
        return sum(c.thread.is_alive() for c in open_now)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A client that goes away is normal (a tab closed, a phone out of Wi-Fi): one debug line, no traceback."""
        err = sys.exc_info()[1]
        if isinstance(err, OSError):
            log.debug("dashboard: %s went away (%s)", client_address[0], err.strerror or type(err).__name__)
        else:
            log.error(
                "dashboard: request from %s failed: %r",
                client_address[0],
                err,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )

    def app_handle(self, method: str, target: str, authorization: str | None = None) -> Response:
        if self.auth is not None and not self.auth.allows(authorization):
            return error(401, "this dashboard needs its password: log in (any user name)", {"WWW-Authenticate": REALM})
        try:
            return self.app.handle(method, target)
        except Exception:
            log.exception("dashboard: %s %s failed", method, target)
            return error(500, "internal error: see the dashboard's log")


class DashboardServer:
    """The dashboard on host:port (port 0: any free port; url says which), until stop().

    Nothing happens in the constructor; start() binds the socket and serves in a thread.
    With password (auth.load_password_file), every request must carry it (HTTP Basic).
    """

    def __init__(
        self,
        db_path: Path,
        host: str = "127.0.0.1",
        port: int = 8080,
        alerts_config: AlertConfig | None = None,
        now: Callable[[], datetime] = utc_now,
        limits: Limits | None = None,
        password: PasswordHash | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.auth = BasicAuth(password) if password is not None else None  # every request needs it
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
        self._server = _Server((self.host, self.port), self.app, family, self.limits, self.auth)
        self._bound_port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(_POLL_S,), name="akker-dashboard", daemon=True
        )
        self._thread.start()
        log.info("dashboard: serving %s on %s", self.db_path, self.url)

    def stop(self) -> None:
        """Stop serving within a few seconds, whatever the clients do: they are hung up on, not waited for."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()  # the accept loop ends within _POLL_S
        server.server_close()  # the port is closed: no new clients
        if thread is not None:
            thread.join()
        left = server.hang_up_all(self.limits.stop_wait_s)
        if left:  # stuck in a read of the store: daemon threads, so they do not hold the process
            log.warning("dashboard: %d requests still running at stop, left to end on their own", left)

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
