"""web-download: which URLs an import may fetch ([import_filtering_opts]) and fetching them.

Every URL is checked before any connection is made, and so is every redirect target:
a permitted URL must not be able to bounce the service to a forbidden host or port.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import socket
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
        """Raise UriRefused naming the rule a URL breaks.

        Hosts are compared by address, not spelling: the URL's host and every configured
        host are resolved, so 127.1, 2130706433, 0x7f000001 or [::ffff:127.0.0.1] cannot
        pass for something other than 127.0.0.1.
        """
        shown = redacted(url)
        try:
            parsed = urllib.parse.urlsplit(url)
            scheme, host = parsed.scheme.lower(), (parsed.hostname or "").lower()
            port = parsed.port or DEFAULT_PORTS.get(scheme)
        except ValueError:
            raise UriRefused(f"{shown} is not a valid URL (host or port)") from None
        if scheme not in DEFAULT_PORTS or not host:
            raise UriRefused(f"{shown} is not an http(s) URL with a host")
        for kind, value, allowed, denied in (
                ("scheme", scheme, self.allowed_schemes, self.disallowed_schemes),
                ("port", port, self.allowed_ports, self.disallowed_ports)):
            if (allowed and value not in allowed) or (not allowed and value in denied):
                raise self._refused(kind, value, shown)
        if self.allowed_hosts or self.disallowed_hosts:
            addresses = _addresses(host)
            if not addresses:
                raise UriRefused(f"host {host} of {shown} does not resolve")
            if self.allowed_hosts:
                permitted = _names_and_addresses(self.allowed_hosts)
                if host not in permitted and not addresses <= permitted:
                    raise self._refused("host", host, shown)
            else:
                denied = _names_and_addresses(self.disallowed_hosts)
                if host in denied or addresses & denied:
                    raise self._refused("host", host, shown)

    @staticmethod
    def _refused(kind: str, value, shown: str) -> UriRefused:
        return UriRefused(f"{kind} {value} of {shown} is not allowed by "
                          f"[import_filtering_opts] {kind}s; ask an operator to allow it or "
                          "use another URL")


def _addresses(host: str) -> set[str]:
    """Every address a host name or address spelling stands for, IPv4-mapped unwrapped."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None)
    except (OSError, UnicodeError):
        return set()
    found = set()
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        mapped = getattr(address, "ipv4_mapped", None)
        found.add(str(mapped or address))
    return found


def _names_and_addresses(hosts) -> set[str]:
    entries = {host.lower() for host in hosts}
    for host in list(entries):
        entries |= _addresses(host)
    return entries


def redacted(url: str) -> str:
    """A URL as tasks and logs may show it: no user:password, no query (signed URLs keep
    their signature there)."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        return "(an invalid URL)"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path,
                                    "***" if parts.query else "", ""))


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
        raise FetchFailed(f"{redacted(url)} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise FetchFailed(f"cannot read {redacted(url)}: {getattr(exc, 'reason', exc)}") \
            from None
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
