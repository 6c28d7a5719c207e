"""The bridge's structured logs: one line per event, key=value text or JSON, on stderr.

Messages are written as `event key=value ...` so that a text line can be grepped
and a JSON line (log_format = "json") carries the same fields. Keys and
passwords are never passed to a logger.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        t = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = f"{t} {record.levelname.lower():7} {record.name} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        t = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        out = {"time": t, "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _Text())
    root = logging.getLogger("akker")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
