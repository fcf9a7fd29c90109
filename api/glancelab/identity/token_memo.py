"""The identity auth_token gave a token, remembered so its next requests skip the middleware.

keystonemiddleware validates a token once and then answers from its token cache, yet every
request still passes through webob and the middleware's header work: on a GET of one image
that costs more than the app itself. This memo keeps, per token, the identity headers
auth_token set, for no longer than auth_token's own cache would trust it
(`token_cache_time`) and never past the token's expiry. A request whose token is in the
memo gets the client's identity headers removed and the remembered ones set, exactly as
auth_token would have done; anything unusual (a service token, a bound token, a token not
yet seen) goes through auth_token itself.
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import threading
import time

# Bounded so memory stays flat however many tokens a node sees.
DEFAULT_SIZE = 1024


def auth_header_keys() -> frozenset[str]:
    """The environ keys auth_token removes from every request and sets on a valid one."""
    from keystonemiddleware.auth_token import _request
    names = _request._AuthTokenRequest.blank("/")._all_auth_headers()
    return frozenset("HTTP_" + name.upper().replace("-", "_") for name in names)


class TokenMemo:
    def __init__(self, ttl: float, size: int = DEFAULT_SIZE, clock=time.monotonic,
                 header_keys: frozenset[str] | None = None):
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self.header_keys = header_keys if header_keys is not None else auth_header_keys()
        self._entries: collections.OrderedDict[bytes, tuple[float, dict]] = \
            collections.OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.size > 0

    def recall(self, environ: dict) -> bool:
        """Give environ the identity remembered for its token; False when there is none."""
        key = self._key(environ)
        if key is None:
            return False
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if entry[0] <= now:
                del self._entries[key]
                return False
            self._entries.move_to_end(key)
        for name in self.header_keys:
            environ.pop(name, None)
        environ.update(entry[1])
        return True

    def remember(self, environ: dict) -> None:
        """Keep the identity auth_token just confirmed for this request's token."""
        key = self._key(environ)
        if key is None or environ.get("HTTP_X_IDENTITY_STATUS") != "Confirmed":
            return
        info = environ.get("keystone.token_info") or {}
        token = info.get("token", {})
        if token.get("bind"):  # bound tokens are checked against each request
            return
        lifetime = min(self.ttl, _seconds_left(token.get("expires_at")))
        if lifetime <= 0:
            return
        headers = {name: environ[name] for name in self.header_keys if name in environ}
        with self._lock:
            self._entries[key] = (self.clock() + lifetime, headers)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def _key(self, environ: dict) -> bytes | None:
        if not self.enabled or "HTTP_X_SERVICE_TOKEN" in environ:
            return None
        token = environ.get("HTTP_X_AUTH_TOKEN")
        return hashlib.sha256(token.encode()).digest() if token else None


def _seconds_left(expires_at: str | None) -> float:
    """Seconds until a Keystone v3 expires_at; 0 when it cannot be read (do not remember)."""
    if not expires_at:
        return 0.0
    try:
        expires = datetime.datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=datetime.timezone.utc)
    return (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
