"""A small HTTP client for the glancelab CLI: JSON calls and streamed uploads."""

from __future__ import annotations

import http.client
import json
import sys
import time
from typing import BinaryIO
from urllib.parse import urlparse

CHUNK = 1024 * 1024


class ApiError(Exception):
    pass


class ApiClient:
    def __init__(self, url: str, headers: dict[str, str] | None = None):
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https"):
            raise ApiError(f"{url} is not an http(s) URL")
        self.parsed = parsed
        self.headers = {"Accept": "application/json", **(headers or {})}

    def _connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.parsed.scheme == "https" else http.client.HTTPConnection
        return cls(self.parsed.hostname, self.parsed.port, timeout=300)

    def call(self, method: str, path: str, body=None, expect=(200,)) -> dict:
        connection = self._connection()
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = dict(self.headers)
            if payload is not None:
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            raise ApiError(f"cannot reach the API at {self.parsed.netloc}: {exc}; is "
                           "`glancelab serve` running?") from exc
        finally:
            connection.close()
        if response.status not in expect:
            raise ApiError(_error_text(response.status, data))
        return json.loads(data) if data else {}

    def upload(self, image_id: str, source: BinaryIO, size: int, progress: bool) -> None:
        connection = self._connection()
        headers = {**self.headers, "Content-Type": "application/octet-stream",
                   "Content-Length": str(size)}
        try:
            connection.putrequest("PUT", f"/v2/images/{image_id}/file")
            for key, value in headers.items():
                connection.putheader(key, value)
            connection.endheaders()
            sent, started, shown = 0, time.monotonic(), 0.0
            while chunk := source.read(CHUNK):
                connection.send(chunk)
                sent += len(chunk)
                if progress and (time.monotonic() - shown > 0.5 or sent == size):
                    shown = time.monotonic()
                    _show_progress(sent, size, shown - started)
            if progress:
                sys.stderr.write("\n")
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            raise ApiError(f"upload interrupted: {exc}") from exc
        finally:
            connection.close()
        if response.status != 204:
            raise ApiError(_error_text(response.status, data))


def _show_progress(sent: int, size: int, elapsed: float) -> None:
    percent = 100 * sent / size if size else 100
    rate = sent / elapsed / 1e6 if elapsed > 0 else 0
    bar = "#" * int(percent / 4)
    sys.stderr.write(f"\r[{bar:<25}] {percent:5.1f}%  {sent / 1e6:,.1f} MB  {rate:,.0f} MB/s")
    sys.stderr.flush()


def _error_text(status: int, data: bytes) -> str:
    try:
        return f"{status}: {json.loads(data)['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{status}: {data.decode(errors='replace').strip()}"
