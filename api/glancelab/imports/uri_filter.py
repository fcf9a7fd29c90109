"""Which URLs web-download may fetch: Glance's [import_filtering_opts], and its host's safety.

Glance's rules, as of its SSRF fix (bug 2138602): a non-empty allow list decides, otherwise
the deny list does; a host is normalised first (shorthand spellings such as 127.1,
2130706433 or 0x7f000001 are refused, never guessed at) and names are compared as names.
glancelab adds, beyond Glance's empty default lists:
- list entries may also be CIDR ranges (10.0.0.0/8), matched against addresses;
- a deny entry that is an address also stops a name that resolves to it;
- whatever the lists say, an address that is unspecified, loopback, link-local (the cloud's
  metadata address), multicast, reserved or private is refused unless an allowed_hosts
  entry names that very host (its name, its address or a range holding it);
- a check answers the addresses it approved, and the fetch connects to one of those, never
  resolving the name again (a name that answers differently the second time gains nothing).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
import urllib.parse

from glancelab.conf import Config

DEFAULT_PORTS = {"http": 80, "https": 443}

# Digits, dots and hex parts only: spellings inet_aton would read as an address.
_SHORTHAND = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?")


class UriRefused(Exception):
    """The URL (or a redirect target) does not pass the filter."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A URL that passed, with the addresses it may be fetched from."""
    scheme: str
    host: str  # a lower-case name, or an address's standard form
    port: int
    addresses: tuple[str, ...]
    path: str  # path and query, as sent in the request line
    credentials: tuple[str, str] | None  # user:password@ of the URL, sent as Basic auth

    @property
    def is_name(self) -> bool:
        return self.host not in self.addresses

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


@dataclasses.dataclass(frozen=True)
class HostList:
    names: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, entries) -> "HostList":
        names, networks = set(), []
        for entry in entries:
            text = str(entry).strip().strip("[]").lower().rstrip(".")
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if text:
                    names.add(text)
        return cls(frozenset(names), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.names or self.networks)

    def holds_address(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip.version == net.version and ip in net for net in self.networks)

    def names_host(self, host: str, literal: bool) -> bool:
        """True when an entry stands for this very host: its name, or (for an address
        written in the URL) a range holding it."""
        return self.holds_address(host) if literal else host in self.names


@dataclasses.dataclass(frozen=True)
class UriFilter:
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

    def check(self, url: str) -> Target:
        """The URL's target, or UriRefused naming the rule it breaks and what to do."""
        shown = redacted(url)
        try:
            parsed = urllib.parse.urlsplit(url)
            scheme = parsed.scheme.lower()
            raw_host = (parsed.hostname or "").lower()
            port = parsed.port or DEFAULT_PORTS.get(scheme)
            credentials = ((urllib.parse.unquote(parsed.username or ""),
                            urllib.parse.unquote(parsed.password or ""))
                           if parsed.username is not None else None)
        except ValueError:
            raise UriRefused(f"{shown} is not a valid URL (host or port)") from None
        if scheme not in DEFAULT_PORTS or not raw_host:
            raise UriRefused(f"{shown} is not an http(s) URL with a host")
        for kind, value, allowed, denied in (
                ("scheme", scheme, self.allowed_schemes, self.disallowed_schemes),
                ("port", port, self.allowed_ports, self.disallowed_ports)):
            if allowed and value not in allowed:
                raise _refused(kind, value, shown, "allowed")
            if not allowed and value in denied:
                raise _refused(kind, value, shown, "disallowed")
        host, literal = _normalised(raw_host, shown)
        allow, deny = HostList.parse(self.allowed_hosts), HostList.parse(self.disallowed_hosts)
        named_by_allow = allow.names_host(host, literal)
        if allow and not named_by_allow:  # refused before any name is looked up
            raise _refused("host", host, shown, "allowed")
        addresses = (host,) if literal else _resolve(host)
        if not addresses:
            raise UriRefused(f"host {host} of {shown} does not resolve")
        if not allow and ((not literal and host in deny.names)
                          or any(deny.holds_address(address) for address in addresses)):
            raise _refused("host", host, shown, "disallowed")
        if not named_by_allow:
            for address in addresses:
                kind = internal_kind(address)
                if kind:
                    raise UriRefused(
                        f"host {host} of {shown} is {_with_article(kind)} address ({address}); "
                        "web-download never fetches from such addresses unless "
                        "[import_filtering_opts] allowed_hosts names this host")
        path = urllib.parse.urlunsplit(("", "", parsed.path or "/", parsed.query, ""))
        return Target(scheme, host, port, addresses, path, credentials)


def _refused(kind: str, value, shown: str, which: str) -> UriRefused:
    return UriRefused(f"{kind} {value} of {shown} is not allowed by [import_filtering_opts] "
                      f"{which}_{kind}s; ask an operator to allow it or use another URL")


def _with_article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _normalised(host: str, shown: str) -> tuple[str, bool]:
    """(standard form, is an address literal); shorthand numeric spellings are refused."""
    bare = host.strip("[]").rstrip(".")
    try:
        address = ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        if _SHORTHAND.fullmatch(bare):
            raise UriRefused(f"host {host} of {shown} is not an address in standard form; "
                             "write it as four decimal numbers (or IPv6 in brackets)") from None
        return bare, False
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address), True


def _resolve(name: str) -> tuple[str, ...]:
    """Every address a name has now, IPv4-mapped addresses unwrapped, in resolver order."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return ()
    found: dict[str, None] = {}
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        found[str(getattr(address, "ipv4_mapped", None) or address)] = None
    return tuple(found)


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not global


def internal_kind(address: str) -> str | None:
    """What makes an address one web-download must not reach by default, or None."""
    ip = ipaddress.ip_address(address)
    for kind, test in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("reserved", ip.is_reserved),
                       ("private", ip.is_private or (ip.version == 4 and ip in _SHARED))):
        if test:
            return kind
    if not ip.is_global:  # the rest of IANA's special ranges (NAT64, documentation, ...)
        return "non-global"
    return None


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
