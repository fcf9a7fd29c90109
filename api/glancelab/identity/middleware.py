"""Falcon middleware: request id, identity and one structured log line per request."""

from __future__ import annotations

import logging
import time
import uuid
import urllib.parse
from urllib.parse import unquote

import falcon

from glancelab.errors import Invalid, NotAuthenticated
from glancelab.identity.context import RequestContext
from glancelab.identity.policy import Policy
from glancelab.web.body import check_text

LOG = logging.getLogger("glancelab.access")


class RequestIdMiddleware:
    """Every response carries x-openstack-request-id: req-<uuid4>, errors included."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.request_id = f"req-{uuid.uuid4()}"
        req.context.started = time.perf_counter()
        resp.set_header("x-openstack-request-id", req.context.request_id)

    def process_response(self, req, resp, resource, req_succeeded) -> None:
        resp.set_header("x-openstack-request-id", req.context.request_id)
        auth = getattr(req.context, "auth", None)
        LOG.info("%s %s %s", req.method, req.relative_uri, resp.status_code, extra={
            "request_id": req.context.request_id,
            "method": req.method,
            "path": req.path,
            "status": resp.status_code,
            "duration_ms": round((time.perf_counter() - req.context.started) * 1000, 2),
            "project_id": auth.project_id if auth else None,
            "remote": req.remote_addr,
        })


class IdentityMiddleware:
    """Builds the RequestContext of each request from keystonemiddleware's headers.

    keystone: keystonemiddleware's auth_token (identity/pipeline.py) validated the token and
    replaced every identity header a client sent; X-Identity-Status: Confirmed is required.
    trusted-proxy: a validating proxy in front set them; the same check. noauth: a request
    without headers acts as the configured default identity, and headers override it.
    """

    def __init__(self, strategy: str, policy: Policy, default_project: str,
                 default_user: str, default_roles: list[str]):
        self.strategy = strategy
        self.policy = policy
        self.default_project = default_project
        self.default_user = default_user
        self.default_roles = frozenset(role.lower() for role in default_roles)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        status = req.get_header("X-Identity-Status")
        if self.strategy != "noauth" or status is not None:
            if (status or "").lower() != "confirmed" and not is_anonymous_path(
                    req.path, req.query_string):
                raise NotAuthenticated("This server could not verify that you are authorized "
                                       "to access the document you requested.")
        project = _header(req, "X-Project-Id") or _header(req, "X-Tenant-Id")
        user = _header(req, "X-User-Id")
        roles_header = _header(req, "X-Roles")
        if self.strategy == "noauth":
            project = project or self.default_project
            user = user or self.default_user
        if roles_header is not None:
            # Keystone role names compare case-insensitively, as oslo.policy does.
            roles = frozenset(r.strip().lower() for r in roles_header.split(",") if r.strip())
            if self.strategy != "keystone":
                roles = with_implied(roles)
        elif self.strategy == "noauth":
            roles = with_implied(self.default_roles)
        else:
            roles = frozenset()
        req.context.auth = RequestContext(req.context.request_id, project, user, roles,
                                          policy=self.policy)


# Keystone's default implied roles: a token for admin carries member and reader too.
# Tokens list them already; hand-set headers get them here.
IMPLIED_ROLES = {"admin": ("member", "reader"), "member": ("reader",)}


def with_implied(roles: frozenset[str]) -> frozenset[str]:
    return roles.union(*(IMPLIED_ROLES.get(role, ()) for role in roles))


# Keystone's ids are 64 characters; the columns that keep them hold 255.
MAX_ID_LENGTH = 255


def _header(req: falcon.Request, name: str) -> str | None:
    # python-glanceclient percent-encodes identity_headers values ("member%2Creader").
    value = req.get_header(name)
    if value is None:
        return None
    value = unquote(value)
    check_text(value, f"Header {name}")
    if name != "X-Roles" and len(value) > MAX_ID_LENGTH:
        raise Invalid(f"Header {name} is longer than {MAX_ID_LENGTH} characters.")
    return value


def is_anonymous_path(path: str, query: str = "") -> bool:
    """Version discovery and the health check answer without a token, as in Glance; the
    health check's details (?detailed) are for admins only."""
    path = path.rstrip("/")
    if path == "/healthcheck":
        return not asks_detail(query)
    return path in ("", "/versions")


def asks_detail(query: str) -> bool:
    return "detailed" in urllib.parse.parse_qs(query or "", keep_blank_values=True)
