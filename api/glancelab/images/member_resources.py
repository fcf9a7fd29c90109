"""/v2/images/{id}/members and /v2/images/{id}/members/{member_id}."""

from __future__ import annotations

import falcon

from glancelab.web.body import read_json
from glancelab.runtime import Runtime
from glancelab.images import members
from glancelab.images import views


class MembersCollection:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        rows = members.list_members(req.context.auth, image_id)
        resp.media = {"members": [views.member_view(m) for m in rows],
                      "schema": "/v2/schemas/members"}

    def on_post(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        body = read_json(req, self.rt.settings.max_request_body_size)
        member = members.add_member(req.context.auth, image_id, body,
                                    self.rt.quotas.image_member_quota)
        resp.media = views.member_view(member)


class MemberItem:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req, resp, image_id: str, member_id: str) -> None:
        resp.media = views.member_view(members.get_member(req.context.auth, image_id, member_id))

    def on_put(self, req, resp, image_id: str, member_id: str) -> None:
        body = read_json(req, self.rt.settings.max_request_body_size)
        member = members.update_member(req.context.auth, image_id, member_id, body)
        resp.media = views.member_view(member)

    def on_delete(self, req, resp, image_id: str, member_id: str) -> None:
        members.delete_member(req.context.auth, image_id, member_id)
        resp.status = falcon.HTTP_204


def add_routes(app: falcon.App, rt: Runtime) -> None:
    for path, resource in (
            ("/v2/images/{image_id}/members", MembersCollection(rt)),
            ("/v2/images/{image_id}/members/{member_id}", MemberItem(rt)),
    ):
        app.add_route(path, resource)
