"""Who is asking: the identity of one request, as keystonemiddleware passes it on."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glancelab.identity.policy import Policy


@dataclasses.dataclass(frozen=True)
class RequestContext:
    request_id: str
    project_id: str | None
    user_id: str | None
    roles: frozenset[str]
    # The process's policy engine; None only for internal callers (the metadef loader).
    policy: Policy | None = dataclasses.field(default=None, compare=False, repr=False)
    # Glance's context.is_admin: the context_is_admin rule, decided once per request.
    is_admin: bool = dataclasses.field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "is_admin", self.allows("context_is_admin", {}))

    @property
    def credentials(self) -> dict:
        return {"roles": sorted(self.roles), "project_id": self.project_id,
                "user_id": self.user_id}

    def allows(self, rule: str, target: dict) -> bool:
        if self.policy is None:
            return "admin" in self.roles
        return self.policy.allows(rule, target, self.credentials)
