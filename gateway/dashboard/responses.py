"""What every answer of the dashboard is: a Response, and the small JSON bodies the API and its errors use.

Shared by the routes (app.py) and the HTTP server (http_server.py), so that
neither imports the other. Errors are small JSON objects for /api/ and a page
with a way back for everything a browser shows, never a traceback.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

_JSON = "application/json"


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_response(obj: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    return Response(status, _JSON, body, {"Cache-Control": "no-store", **(headers or {})})


def error(
    status: int, message: str, headers: dict[str, str] | None = None, code: str = "error", arg: str | None = None
) -> Response:
    """A JSON error; `code` names its kind ("unknown_node", "bad_days", ...) and `arg` the value it is about,
    so a page can word it in the reader's language."""
    body: dict[str, object] = {"error": message, "status": status, "code": code}
    if arg is not None:
        body["arg"] = arg
    return json_response(body, status, headers)


def error_page(status: int, message: str, code: str, arg: str = "") -> Response:
    """The error as a page a person can leave: the message (common.js translates it by code) and a way back."""
    body = _ERROR_PAGE.format(
        status=status, message=html.escape(message), code=html.escape(code), arg=html.escape(arg, quote=True)
    )
    return Response(status, "text/html; charset=utf-8", body.encode(), {"Cache-Control": "no-store"})


_ERROR_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Akker · {status}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/dashboard.css">
</head>
<body>
<header class="top">
  <h1 data-i18n="error_title">Something is not right</h1>
  <span class="lang" id="lang"></span>
</header>
<main>
  <p class="hint" id="error" data-code="{code}" data-arg="{arg}">{message}</p>
  <p><a href="/" id="back" data-i18n="back_to_overview">Back to the field overview</a></p>
</main>
<script src="/static/i18n.js"></script>
<script src="/static/common.js"></script>
<script src="/static/error.js"></script>
</body>
</html>
"""
