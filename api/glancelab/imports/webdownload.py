"""web-download: fetch a URL that passed the filter, from the very address that was checked.

Redirects are followed here, not by a library: each hop's URL is checked (imports.uri_filter)
before its connection is made, and the connection goes to an address that check approved,
with the name kept for the Host header and TLS. Credentials in the URL (user:password@) are
sent as Basic auth to the URL's own origin only, never to a redirect target elsewhere.
A transfer must keep up a minimum rate and end before a deadline, so a source that trickles
cannot hold an import thread for long.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import socket
import ssl
import time
import urllib.parse
from typing import Callable, Iterator

from glancelab.conf import Config
from glancelab.imports.uri_filter import Target, UriFilter, redacted

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 1024 * 1024


class FetchFailed(Exception):
    """The URL passed the filter but could not be read (in time)."""


@dataclasses.dataclass(frozen=True)
class Pace:
    """How slow a source may be: [glancelab] web_download_* options."""
    min_rate: int  # bytes per second, over each window
    window: float  # seconds; also the longest wait for any one answer
    deadline: float  # seconds for the whole transfer

    @classmethod
    def from_config(cls, config: Config) -> "Pace":
        opts = config.glancelab
        return cls(opts.web_download_min_rate, opts.web_download_rate_window,
                   opts.web_download_deadline)


@dataclasses.dataclass
class Download:
    length: int | None
    chunks: Iterator[bytes]
    close: Callable[[], None] = lambda: None  # for a download given up before it is read


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to an approved address; the Host header still names the URL's host."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.addresses[0]

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout,
                         context=ssl.create_default_context())
        self.address = target.addresses[0]

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        # The certificate must name the URL's host (its name, or the address written).
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch(url: str, uri_filter: UriFilter, pace: Pace) -> Download:
    """Open the URL (following checked redirects) and stream its body at a bounded pace."""
    started = time.monotonic()
    first = uri_filter.check(url)
    target = first
    for _hop in range(MAX_REDIRECTS + 1):
        connection = (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(
            target, pace.window)
        headers = {"User-Agent": "glancelab", "Accept-Encoding": "identity"}
        if target.credentials and target.origin == first.origin:
            token = base64.b64encode(":".join(target.credentials).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            connection.request("GET", target.path, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise FetchFailed(f"cannot read {redacted(url)}: {_reason(exc)}") from None
        location = response.getheader("Location")
        if response.status in REDIRECTS and location:
            response.close()
            connection.close()
            url = urllib.parse.urljoin(url, location)
            target = uri_filter.check(url)  # before the next connection is made
            if target.origin == first.origin and first.credentials and not target.credentials:
                target = dataclasses.replace(target, credentials=first.credentials)
            continue
        if response.status >= 300:
            response.close()
            connection.close()
            raise FetchFailed(f"{redacted(url)} answered {response.status} {response.reason}")
        length = response.getheader("Content-Length")

        def close(response=response, connection=connection) -> None:
            response.close()
            connection.close()
        return Download(int(length) if length and length.isdigit() else None,
                        _paced(response, connection, pace, started), close)
    raise FetchFailed(f"{redacted(url)} redirected more than {MAX_REDIRECTS} times")


def _paced(response, connection, pace: Pace, started: float) -> Iterator[bytes]:
    window_start, window_bytes = time.monotonic(), 0
    try:
        while True:
            try:
                chunk = response.read1(CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise FetchFailed(f"reading the download failed: {_reason(exc)}") from None
            if not chunk:
                return
            yield chunk
            now = time.monotonic()
            if now - started > pace.deadline:
                raise FetchFailed(f"the download took longer than {pace.deadline:.0f} s "
                                  "([glancelab] web_download_deadline); use a faster source")
            window_bytes += len(chunk)
            if now - window_start >= pace.window:
                rate = window_bytes / (now - window_start)
                if rate < pace.min_rate:
                    raise FetchFailed(
                        f"the source sent {rate:.0f} bytes/s, below the "
                        f"{pace.min_rate} bytes/s [glancelab] web_download_min_rate asks "
                        "for; use a faster source")
                window_start, window_bytes = now, 0
    finally:
        response.close()
        connection.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "no answer in time"
    return str(getattr(exc, "reason", None) or exc) or type(exc).__name__
