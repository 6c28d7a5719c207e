"""The dashboard's routes: a method and a URL to a Response, for the pages, their static files and the JSON API.

App knows nothing of sockets (http_server.py serves it). Every request opens
the store read-only (gateway.bridge.store.connect_readonly) and closes it
again: the bridge may write meanwhile, and nothing here can write.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from gateway.bridge import store
from gateway.bridge.log_limit import LogLimit
from gateway.bridge.registry import NODE_NAME_RULE, valid_node_name
from gateway.farm.alert_config import AlertConfig, known_timezone

from . import api
from .responses import Response, error, error_page, json_response

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

Handler = Callable[..., Response]


class App:
    """Requests to responses: one route table, the store opened read-only per request, the static files."""

    def __init__(self, db_path: Path, config: AlertConfig, now: Callable[[], datetime]) -> None:
        self.db_path = db_path
        self.config = config
        self.now = now
        self._warnings = LogLimit(log)
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

    def close(self) -> None:
        """Write the summary of warnings still being counted, so none lands in the log after the dashboard stopped."""
        self._warnings.close()

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
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        response = self._route(path, query)
        if response.status >= 400 and not path.startswith("/api/"):
            return self._as_page(response)
        return response

    def _route(self, path: str, query: dict[str, str]) -> Response:
        for pattern, handler in self.routes:
            m = pattern.fullmatch(path.rstrip("/") or "/")
            if m:
                return handler(query, **m.groupdict())
        return error(404, "no such page", code="no_page")

    @staticmethod
    def _as_page(response: Response) -> Response:
        """A browser's error: the same message as a page with a way back (JSON stays for /api/)."""
        if not response.content_type.startswith("application/json"):
            return response
        body = json.loads(response.body)
        page = error_page(response.status, str(body["error"]), str(body.get("code", "error")), str(body.get("arg", "")))
        return Response(page.status, page.content_type, page.body, {**response.headers, **page.headers})

    # ------------------------------------------------------------ pages and files

    def page_overview(self, query: dict[str, str]) -> Response:
        return self.static_file(query, "index.html")

    def page_node(self, query: dict[str, str], name: str) -> Response:
        bad = _bad_days(query)
        if bad:
            return bad
        return self._node(name, lambda db: self.static_file(query, "node.html"))

    def no_icon(self, query: dict[str, str]) -> Response:
        """Browsers ask for one on every JSON answer they show; the pages carry their own (an empty one)."""
        return Response(204, _TEXT, b"", {"Cache-Control": "max-age=86400"})

    def static_file(self, query: dict[str, str], path: str) -> Response:
        file = self.static.get(path)
        if file is None:
            return error(404, "no such file", code="no_page")
        return Response(200, _CONTENT_TYPES.get(file.suffix, _TEXT), file.read_bytes(), {"Cache-Control": "no-cache"})

    # ------------------------------------------------------------ the JSON API

    def api_nodes(self, query: dict[str, str]) -> Response:
        now, zone = self.now(), query.get("tz")
        if zone is not None and not known_timezone(zone):
            return _bad_zone(zone)
        return self._read(
            lambda db: json_response(api.overview(db, self.config, now, zone)),
            lambda hint: json_response(api.empty_overview(self.config, now, hint, zone)),
        )

    def api_node(self, query: dict[str, str], name: str) -> Response:
        zone = query.get("tz")
        if zone is not None and not known_timezone(zone):
            return _bad_zone(zone)
        bad = _bad_days(query)
        if bad:
            return bad
        days = int(query.get("days", api.DEFAULT_DAYS))
        return self._node(
            name, lambda db: json_response(api.node_detail(db, self.config, name, self.now(), days, zone))
        )

    def api_alerts(self, query: dict[str, str]) -> Response:
        now, zone = self.now(), query.get("tz")
        if zone is not None and not known_timezone(zone):
            return _bad_zone(zone)
        return self._read(
            lambda db: json_response(api.alerts(db, self.config, now, zone)),
            lambda hint: json_response({**api.alerts(None, self.config, now, zone), "hint": hint}),
        )

    # ------------------------------------------------------------ the store

    def _node(self, name: str, then: Callable[[sqlite3.Connection], Response]) -> Response:
        """then(db) for a node the pages can show; 400 for a name no node can have, 404 for an unknown one."""
        if not valid_node_name(name):
            return error(400, f"bad node name: {NODE_NAME_RULE}", code="bad_name")
        unknown = error(404, f"no node named {name!r}", code="unknown_node", arg=name)
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
        # Every page and API call asks again: a store that stays unreadable is one summary per interval.
        self._warnings.warning("dashboard_store_unreadable", "db=%s detail=%r", self.db_path, str(err))
        return unreadable(f"{self.db_path} cannot be read as a bridge database ({err})")


def _bad_days(query: dict[str, str]) -> Response | None:
    """A 400 for a `days` that is not a whole number of days the charts can span (never silently replaced)."""
    days = query.get("days")
    if days is None or (days.isascii() and days.isdigit() and 1 <= int(days) <= api.MAX_DAYS):
        return None
    return error(400, f"days must be a whole number from 1 to {api.MAX_DAYS}", code="bad_days", arg=days)


def _bad_zone(zone: str) -> Response:
    return error(400, "tz must be a time zone name such as Europe/Amsterdam", code="bad_tz", arg=zone)
