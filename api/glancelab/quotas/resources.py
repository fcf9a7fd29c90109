"""GET /v2/info/usage and the admin limits API /v2/quotas[/{project_id}]."""

from __future__ import annotations

import falcon

from glancelab import errors
from glancelab.web.body import read_json
from glancelab.runtime import Runtime
from glancelab.identity import access
from glancelab.quotas import service as quotas


class Usage:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ctx = req.context.auth
        access.authorize(ctx, "get_usage")
        resp.media = quotas.usage_document(self.rt.quotas, ctx.project_id)


def project_view(rt: Runtime, project_id: str) -> dict:
    limits, usage = quotas.limits_for(rt.quotas, project_id), quotas.usage_for(project_id)
    return {"project_id": project_id, "enforced": rt.quotas.unified,
            "limits": limits, "usage": usage,
            "user_storage_quota": rt.quotas.user_storage_quota}


class QuotaCollection:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        access.authorize(req.context.auth, "list_limits")
        resp.media = {"projects": [project_view(self.rt, p) for p in quotas.projects_with_limits()],
                      "defaults": dict(self.rt.quotas.defaults)}


class ProjectQuota:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req, resp, project_id: str) -> None:
        access.authorize(req.context.auth, "get_limits")
        resp.media = project_view(self.rt, project_id)

    def on_put(self, req, resp, project_id: str) -> None:
        access.authorize(req.context.auth, "set_limits")
        body = read_json(req, self.rt.settings.max_request_body_size)
        if not isinstance(body, dict) or not body:
            raise errors.bad_request("Send a JSON object such as {\"image_size_total\": 1024} "
                                     "(MiB; -1 is unlimited, null restores the default).")
        quotas.set_limits(project_id, body)
        resp.media = project_view(self.rt, project_id)

    def on_delete(self, req, resp, project_id: str) -> None:
        access.authorize(req.context.auth, "delete_limits")
        quotas.set_limits(project_id, {resource: None for resource in quotas.RESOURCES})
        resp.status = falcon.HTTP_204


def add_routes(app: falcon.App, rt: Runtime) -> None:
    for path, resource in (
            ("/v2/info/usage", Usage(rt)),
            ("/v2/quotas", QuotaCollection(rt)),
            ("/v2/quotas/{project_id}", ProjectQuota(rt)),
    ):
        app.add_route(path, resource)
