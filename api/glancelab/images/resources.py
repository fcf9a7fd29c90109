"""/v2/images, /v2/images/{id}, actions and tags."""

from __future__ import annotations

import falcon

from glancelab import errors
from glancelab.web.body import accepted, read_json
from glancelab.web.errors import answering_domain_errors
from glancelab.runtime import Runtime
from glancelab.identity import access
from glancelab.images import service as images
from glancelab.images import listing
from glancelab.images import locations
from glancelab.images import patch
from glancelab.images import stage_host
from glancelab.images import views


class ImagesCollection:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = listing.list_images(self.rt, req.context.auth, dict(req.params))
        page["images"] = views.render_images(page["images"], self.rt, req.context.auth)
        resp.media = page

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req, self.rt.settings.max_request_body_size)
        image = images.create_image(self.rt, req.context.auth, body)
        resp.status = falcon.HTTP_201
        resp.location = f"/v2/images/{image.id}"
        if self.rt.stores.multistore:
            resp.set_header("OpenStack-image-store-ids", ",".join(self.rt.stores.stores))
        if self.rt.imports.methods:
            resp.set_header("OpenStack-image-import-methods", ",".join(self.rt.imports.methods))
        resp.media = views.render_image(image, self.rt, req.context.auth)


class ImageItem:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        resp.media = views.render_image(access.get_visible_image(req.context.auth, image_id),
                                        self.rt, req.context.auth)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        media_type = (req.content_type or "").split(";")[0].strip().lower()
        if media_type not in patch.PATCH_MEDIA_TYPES:
            raise errors.UnsupportedMedia(f"Unsupported Content-Type {media_type or '(none)'}: "
                                          f"use {patch.PATCH_MEDIA_TYPES[0]}.",
                                     headers={"Accept-Patch": ", ".join(patch.PATCH_MEDIA_TYPES)})
        document = read_json(req, self.rt.settings.max_request_body_size)
        image = images.update_image(self.rt, req.context.auth, image_id, document)
        resp.media = views.render_image(image, self.rt, req.context.auth)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        images.delete_image(self.rt, req.context.auth, image_id)
        resp.status = falcon.HTTP_204


class ImageAction:
    def on_post(self, req: falcon.Request, resp: falcon.Response, image_id: str,
                action: str) -> None:
        if action not in ("deactivate", "reactivate"):
            raise errors.not_found(f"No action named {action}; use deactivate or reactivate.")
        images.set_active_state(req.context.auth, image_id, deactivate=action == "deactivate")
        resp.status = falcon.HTTP_204


class ImageTag:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_put(self, req: falcon.Request, resp: falcon.Response, image_id: str, tag: str) -> None:
        images.add_tag(self.rt, req.context.auth, image_id, tag)
        resp.status = falcon.HTTP_204

    def on_delete(self, req: falcon.Request, resp: falcon.Response, image_id: str,
                  tag: str) -> None:
        images.delete_tag(req.context.auth, image_id, tag)
        resp.status = falcon.HTTP_204


class ImageLocations:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        resp.media = locations.list_locations(req.context.auth, image_id)

    def on_post(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        body = read_json(req, self.rt.settings.max_request_body_size)
        locations.add_location(self.rt, req.context.auth, image_id, body)
        accepted(resp)


def add_routes(app: falcon.App, rt: Runtime) -> None:
    for path, resource in (
            ("/v2/images", ImagesCollection(rt)),
            ("/v2/images/{image_id}", ImageItem(rt)),
            ("/v2/images/{image_id}/actions/{action}", ImageAction()),
            ("/v2/images/{image_id}/locations", ImageLocations(rt)),
            ("/v2/images/{image_id}/tags/{tag}", ImageTag(rt)),
    ):
        app.add_route(path, resource)
    # an import or delete of data staged on another node is replayed there
    app.add_error_handler(stage_host.StagedElsewhere,
                          answering_domain_errors(stage_host.forward))
