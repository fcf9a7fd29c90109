"""web-download: which URLs an import may fetch ([import_filtering_opts]) and fetching them.

Every URL is checked before any connection is made, and so is every redirect target:
a permitted URL must not be able to bounce the service to a forbidden host or port.
"""

from __future__ import annotations

import dataclasses
import http.client
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterator

from glancelab.conf import Config

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_REDIRECTS = 5
CHUNK = 1024 * 1024


class UriRefused(Exception):
    """The URL (or a redirect target) does not pass [import_filtering_opts]."""


class FetchFailed(Exception):
    """The URL passed the filter but could not be read."""


@dataclasses.dataclass(frozen=True)
class UriFilter:
    """Glance's rule: a non-empty allow list decides; otherwise the deny list does."""
    allowed_schemes: tuple[str, ...]
    disallowed_schemes: tuple[str, ...]
    allowed_hosts: tuple[str, ...]
    disallowed_hosts: tuple[str, ...]
    allowed_ports: tuple[int, ...]
    disallowed_ports: tuple[int, ...]

    @classmethod
    def from_config(cls, config: Config) -> "UriFilter":
        opts = config.import_filtering_opts
        return cls(tuple(opts.allowed_schemes), tuple(opts.disallowed_schemes),
                   tuple(opts.allowed_hosts), tuple(opts.disallowed_hosts),
                   tuple(opts.allowed_ports), tuple(opts.disallowed_ports))

    def check(self, url: str) -> None:
        """Raise UriRefused naming the rule a URL breaks."""
        parsed = urllib.parse.urlsplit(url)
        scheme, host = parsed.scheme.lower(), (parsed.hostname or "").lower()
        try:
            port = parsed.port or DEFAULT_PORTS.get(scheme)
        except ValueError:
            raise UriRefused(f"{url} has an invalid port") from None
        if scheme not in DEFAULT_PORTS or not host:
            raise UriRefused(f"{url} is not an http(s) URL with a host")
        for kind, value, allowed, denied in (
                ("scheme", scheme, self.allowed_schemes, self.disallowed_schemes),
                ("host", host, self.allowed_hosts, self.disallowed_hosts),
                ("port", port, self.allowed_ports, self.disallowed_ports)):
            if (allowed and value not in allowed) or (not allowed and value in denied):
                raise UriRefused(f"{kind} {value} of {url} is not allowed by "
                                 f"[import_filtering_opts] {kind}s; ask an operator to "
                                 f"allow it or use another URL")


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def __init__(self, uri_filter: UriFilter):
        self.uri_filter = uri_filter

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.uri_filter.check(newurl)  # before the new connection is made
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@dataclasses.dataclass
class Download:
    length: int | None
    chunks: Iterator[bytes]


def fetch(url: str, uri_filter: UriFilter, timeout: float = 30.0) -> Download:
    uri_filter.check(url)
    opener = urllib.request.build_opener(_CheckedRedirects(uri_filter))
    try:
        response = opener.open(urllib.request.Request(url, headers={"User-Agent": "glancelab"}),
                               timeout=timeout)
    except UriRefused:
        raise
    except urllib.error.HTTPError as exc:
        raise FetchFailed(f"{url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise FetchFailed(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from None
    length = response.headers.get("Content-Length")
    return Download(int(length) if length and length.isdigit() else None, _chunks(response))


def _chunks(response) -> Iterator[bytes]:
    try:
        while chunk := response.read(CHUNK):
            yield chunk
    except (OSError, http.client.HTTPException) as exc:
        raise FetchFailed(f"reading the download failed: {exc}") from None
    finally:
        response.close()
