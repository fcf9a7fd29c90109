"""Who uses the dashboard: a Keystone login kept server-side, or nobody with a noauth API.

The token never leaves this process: the browser holds only a random session id, in an
HttpOnly, SameSite=Strict cookie. Every form carries the session's CSRF token. Logging out
revokes the token in Keystone and forgets the session.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import threading
import time

COOKIE = "glancelab_dashboard"
# a session outlives neither its token nor this long without use
IDLE_SECONDS = 3600


class LoginRefused(Exception):
    """Keystone said no (wrong password, unknown project)."""


class IdentityUnavailable(Exception):
    """Keystone did not answer."""


@dataclasses.dataclass
class Session:
    token: str | None
    user: str
    project: str
    project_id: str | None
    roles: list[str]
    csrf: str
    expires_at: float
    last_used: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token} if self.token else {}

    def csrf_matches(self, offered: str | None) -> bool:
        return bool(offered) and hmac.compare_digest(self.csrf, offered)


class Sessions:
    """Sessions by id, in this process only (the dashboard runs as one process)."""

    def __init__(self):
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, session: Session) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._by_id[session_id] = session
        return session_id

    def find(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._by_id.get(session_id)
            now = time.monotonic()
            if session and (time.time() >= session.expires_at
                            or now - session.last_used > IDLE_SECONDS):
                del self._by_id[session_id]
                return None
            if session:
                session.last_used = now
            return session

    def close(self, session_id: str | None) -> Session | None:
        with self._lock:
            return self._by_id.pop(session_id or "", None)


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def anonymous() -> Session:
    """The one identity of a noauth API: no login, no token."""
    return Session(token=None, user="", project="", project_id=None, roles=["admin"],
                   csrf=new_csrf(), expires_at=float("inf"))


class Keystone:
    """Password logins against one Keystone (keystoneauth, as Horizon uses)."""

    def __init__(self, auth_url: str):
        self.auth_url = auth_url.rstrip("/")

    def login(self, user: str, password: str, project: str, domain: str) -> Session:
        from keystoneauth1 import exceptions, session
        from keystoneauth1.identity import v3
        auth = v3.Password(auth_url=self.auth_url, username=user, password=password,
                           user_domain_name=domain, project_name=project,
                           project_domain_name=domain)
        try:
            access = auth.get_access(session.Session(timeout=30))
        except (exceptions.Unauthorized, exceptions.NotFound, exceptions.BadRequest) as exc:
            raise LoginRefused(str(exc)) from None
        except exceptions.ClientException as exc:  # no answer, 5xx
            raise IdentityUnavailable(str(exc)) from None
        return Session(token=access.auth_token, user=user, project=project,
                       project_id=access.project_id, roles=list(access.role_names),
                       csrf=new_csrf(), expires_at=access.expires.timestamp())

    def revoke(self, token: str) -> None:
        """The token is no good anywhere after a logout (best effort: the session is gone
        either way)."""
        import requests
        try:
            requests.delete(f"{self.auth_url}/auth/tokens", timeout=10,
                            headers={"X-Auth-Token": token, "X-Subject-Token": token})
        except requests.RequestException:
            pass
