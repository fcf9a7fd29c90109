"""/stage, /import, /v2/info/import and /v2/tasks."""

from __future__ import annotations

import falcon

from glancelab import errors
from glancelab.web.body import accepted, read_json
from glancelab.runtime import Runtime
from glancelab.imports import service as imports
from glancelab.imports import tasks
from glancelab.images.receive import IMAGE_SIZE_HEADER


class ImageStage:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_put(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        media_type = (req.content_type or "application/octet-stream").split(";")[0].strip()
        if media_type.lower() != "application/octet-stream":
            raise errors.UnsupportedMedia(f"Unsupported Content-Type {media_type}: staged data "
                                          "is sent as application/octet-stream.")
        imports.stage(self.rt, req.context.auth, image_id, req.stream, req.content_length,
                      req.get_header(IMAGE_SIZE_HEADER))
        resp.status = falcon.HTTP_204


class ImageImport:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_post(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        body = read_json(req, self.rt.settings.max_request_body_size)
        imports.start_import(self.rt, req.context.auth, image_id, body)
        accepted(resp)


class ImportInfo:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = imports.info(self.rt)


class TasksCollection:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = tasks.list_tasks(req.context.auth, dict(req.params),
                                      self.rt.settings.api_limit_max)


class TaskItem:
    def on_get(self, req: falcon.Request, resp: falcon.Response, task_id: str) -> None:
        resp.media = tasks.task_view(tasks.get_task(req.context.auth, task_id))


class ImageTasks:
    def on_get(self, req: falcon.Request, resp: falcon.Response, image_id: str) -> None:
        resp.media = tasks.image_tasks(req.context.auth, image_id)


def add_routes(app: falcon.App, rt: Runtime) -> None:
    for path, resource in (
            ("/v2/images/{image_id}/stage", ImageStage(rt)),
            ("/v2/images/{image_id}/import", ImageImport(rt)),
            ("/v2/images/{image_id}/tasks", ImageTasks()),
            ("/v2/info/import", ImportInfo(rt)),
            ("/v2/tasks", TasksCollection(rt)),
            ("/v2/tasks/{task_id}", TaskItem()),
    ):
        app.add_route(path, resource)
