"""The dashboard on a host and port: the routes (app.py) served by the bounded HTTP server (http_server.py).

DashboardServer puts the parts together: start() binds and serves in a
thread, stop() hangs up on every client still connected and waits a few
seconds at most, so no client can hold a shutdown. With a password, every
request must carry it before App sees it; an App that fails answers a JSON 500.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from gateway.farm.alert_config import AlertConfig, default_config

from .app import App
from .auth import REALM, BasicAuth, PasswordHash
from .clock import utc_now
from .http_server import POLL_S, BoundedHTTPServer, Limits
from .responses import Response, error

__all__ = ["DashboardServer", "Limits"]  # Limits too: a caller that sets limits imports both from here

log = logging.getLogger("akker.dashboard")


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
        self._server: BoundedHTTPServer | None = None
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
        self._server = BoundedHTTPServer((self.host, self.port), self._answer, family, self.limits)
        self._bound_port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_S,), name="akker-dashboard", daemon=True
        )
        self._thread.start()
        log.info("dashboard: serving %s on %s", self.db_path, self.url)

    def stop(self) -> None:
        """Stop serving within a few seconds, whatever the clients do: they are hung up on, not waited for."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()  # the accept loop ends within POLL_S
        server.server_close()  # the port is closed: no new clients
        if thread is not None:
            thread.join()
        left = server.hang_up_all(self.limits.stop_wait_s)
        if left:  # stuck in a read of the store: daemon threads, so they do not hold the process
            log.warning("dashboard: %d requests still running at stop, left to end on their own", left)
        self.app.close()

    def __enter__(self) -> DashboardServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, method: str, target: str, authorization: str | None = None) -> Response:
        """Runs on a request's thread: the password first, then the App; a failing App is a 500, not a traceback."""
        if self.auth is not None and not self.auth.allows(authorization):
            return error(401, "this dashboard needs its password: log in (any user name)", {"WWW-Authenticate": REALM})
        try:
            return self.app.handle(method, target)
        except Exception:
            log.exception("dashboard: %s %s failed", method, target)
            return error(500, "internal error: see the dashboard's log")
