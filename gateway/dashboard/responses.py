"""What every answer of the dashboard is: a Response, and the small JSON bodies the API and its errors use.

Shared by the routes (app.py) and the HTTP server (http_server.py), so that
neither imports the other. Errors are small JSON objects, never a traceback.
"""

from __future__ import annotations

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


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message, "status": status}, status, headers)
