"""The dashboard's HTTP mechanics: a bounded thread per connection, a deadline per request, a stop no client can hold.

BoundedHTTPServer is the standard library's HTTPServer with a thread per
connection up to Limits.max_connections (the rest get a 503 at once), an idle
limit and a deadline for each request, and hang_up_all() for a stop. What a
request is answered with is not its business: it calls answer(method, target,
authorization) and writes the Response with the security headers every page needs.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer

from .responses import Response, error

log = logging.getLogger("akker.dashboard")

# Nothing on a page may come from elsewhere: a barn has no reliable internet.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
    " frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
POLL_S = 0.05  # how soon serve_forever notices a stop and a request past its deadline
BACKLOG = 128  # connections the kernel queues before accepting: a page load opens several at once


@dataclass(frozen=True)
class Limits:
    """What one client may cost: a farm's few browsers never come near these, a stuck or hostile client does."""

    max_connections: int = 32  # each is a thread; beyond this a connection gets 503 and Retry-After
    # One address may hold no more than this, so that one stuck or hostile client cannot take every place;
    # a browser opens up to 6 per site, a reverse proxy speaks for everyone behind it.
    max_per_client: int = 10
    idle_s: float = 10.0  # a client that sends or reads nothing for this long is dropped
    request_deadline_s: float = 30.0  # a whole request, read, answered and written, or cut off: stops tricklers
    stop_wait_s: float = 3.0  # at stop, what requests still running get once their clients are hung up on


_BUSY_BODY = b'{"error":"too many connections: try again in a moment","status":503}'
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)

Answer = Callable[[str, str, str | None], Response]  # (method, target, Authorization header) -> Response


class _Handler(BaseHTTPRequestHandler):
    server: BoundedHTTPServer
    server_version = "akker-dashboard"
    sys_version = ""

    def setup(self) -> None:
        self.timeout = self.server.limits.idle_s  # the socket's timeout: no byte for this long ends the request
        super().setup()

    def _any(self) -> None:
        self._respond(self.server.answer(self.command, self.path, self.headers.get("Authorization")))

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


class BoundedHTTPServer(HTTPServer):
    """HTTPServer with a bounded thread per connection, and every connection's deadline watched.

    Not ThreadingHTTPServer: that starts a thread for every connection without
    limit and, at close, joins them all however long their clients take.
    """

    request_queue_size = BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        answer: Answer,
        family: socket.AddressFamily,
        limits: Limits,
    ) -> None:
        self.address_family = family
        self.answer = answer
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _Connection] = {}
        super().__init__(address, _Handler)

    def process_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        with self._lock:
            theirs = sum(1 for c in self._open.values() if c.client == client_address[0])
        if theirs >= self.limits.max_per_client or not self._slots.acquire(blocking=False):
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
        log.debug("dashboard: no place for another connection, %s refused", client_address[0])
        request.setblocking(False)
        with contextlib.suppress(OSError):
            request.recv(65536)  # what the client sent already: closing on unread bytes would reset the 503
        with contextlib.suppress(OSError):
            request.send(_BUSY)
        self.shutdown_request(request)

    def service_actions(self) -> None:
        """Run by serve_forever every POLL_S: hang up on requests past their deadline."""
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
