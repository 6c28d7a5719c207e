"""The HTTP webhook sink: POST each record's JSON; 2xx confirms it, anything else is retried.

Retries with backoff come from the delivery worker. A 4xx answer other than
408 or 429 means the server will never take that record: it is counted as
refused, logged, and skipped for this sink (it stays in the store), so one bad
record cannot block the webhook for good.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from urllib.parse import urlsplit

from gateway.bridge.sinks import SinkDown
from gateway.bridge.store import Record
from gateway.secrets_io import mask_url

log = logging.getLogger("akker.webhook")

TIMEOUT_S = 10.0
_RETRY_4XX = (408, 429)


class WebhookSink:
    name = "webhook"
    on_ready = None  # never down for long enough to matter: the worker's backoff suffices
    on_down = None  # no connection between records: trouble shows when one is posted, raised from deliver()

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout_s: float = TIMEOUT_S) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL {mask_url(url)!r} must start with http:// or https://")
        try:
            ok = bool(urlsplit(url).hostname) and (urlsplit(url).port or 1) > 0
        except ValueError:  # a port that is not a number in 0..65535
            ok = False
        if not ok:
            raise ValueError(
                f"webhook URL {mask_url(url)!r}: give a host and a port 1..65535, e.g. https://example.org/hook"
            )
        self.url = url
        self.headers = {"Content-Type": "application/json", "User-Agent": "akker-bridge", **(headers or {})}
        self.timeout_s = timeout_s
        self.refused = 0

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def _post(self, record: Record) -> int:
        body = json.dumps(record.message(), separators=(",", ":")).encode()
        request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    def deliver(self, records: Sequence[Record]) -> Sequence[int]:
        done: list[int] = []
        for record in records:
            try:
                status = self._post(record)
            except (urllib.error.URLError, OSError) as err:
                if done:
                    return done
                raise SinkDown(f"POST {_safe(self.url)}: {getattr(err, 'reason', err)}") from None
            if 200 <= status < 300:
                done.append(record.id)
            elif 400 <= status < 500 and status not in _RETRY_4XX:
                self.refused += 1
                log.error("webhook refused node=%s fcnt=%d status=%d: skipped", record.node, record.fcnt, status)
                done.append(record.id)
            else:
                if done:
                    return done
                raise SinkDown(f"POST {_safe(self.url)} answered {status}")
        return done


def _safe(url: str) -> str:
    """The URL without credentials or query (tokens often travel there), for logs."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
