"""Falcon middleware: request id, identity and one structured log line per request."""

from __future__ import annotations

import logging
import time
import uuid
from urllib.parse import unquote

import falcon

from glancelab.identity.context import RequestContext
from glancelab.errors import GlanceError

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
    """Builds the RequestContext from keystonemiddleware-style headers.

    auth_strategy = noauth: a request without headers acts as the configured default
    identity; X-Project-Id / X-Tenant-Id, X-User-Id and X-Roles override it.
    auth_strategy = keystone: glancelab sits behind keystonemiddleware and trusts its
    headers only with X-Identity-Status: Confirmed.
    """

    def __init__(self, strategy: str, default_project: str, default_user: str,
                 default_roles: list[str]):
        self.strategy = strategy
        self.default_project = default_project
        self.default_user = default_user
        self.default_roles = frozenset(role.lower() for role in default_roles)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        status = req.get_header("X-Identity-Status")
        if self.strategy == "keystone" or status is not None:
            if (status or "").lower() != "confirmed" and not _is_anonymous_path(req.path):
                raise GlanceError(401, "This server could not verify that you are authorized "
                                       "to access the document you requested.")
        project = _header(req, "X-Project-Id") or _header(req, "X-Tenant-Id")
        user = _header(req, "X-User-Id")
        roles_header = _header(req, "X-Roles")
        if self.strategy == "noauth":
            project = project or self.default_project
            user = user or self.default_user
        if roles_header is not None:
            roles = frozenset(r.strip().lower() for r in roles_header.split(",") if r.strip())
        elif self.strategy == "noauth":
            roles = self.default_roles
        else:
            roles = frozenset()
        req.context.auth = RequestContext(req.context.request_id, project, user, roles)


def _header(req: falcon.Request, name: str) -> str | None:
    # python-glanceclient percent-encodes identity_headers values ("member%2Creader").
    value = req.get_header(name)
    return unquote(value) if value is not None else None


def _is_anonymous_path(path: str) -> bool:
    return path in ("/", "/versions", "/healthcheck")
