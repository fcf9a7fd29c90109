"""Who is asking: the identity of one request, as keystonemiddleware would pass it."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class RequestContext:
    request_id: str
    project_id: str | None
    user_id: str | None
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def can_write(self) -> bool:
        # Secure-RBAC: members (and admins) change things, readers only read.
        return self.is_admin or "member" in self.roles

    @property
    def can_read(self) -> bool:
        return self.can_write or "reader" in self.roles
