"""Version discovery and the published JSON Schemas (the health check: health/resources.py)."""

from __future__ import annotations

import falcon

from glancelab import errors
from glancelab.images import schemas
from glancelab.runtime import Runtime

CURRENT_MINOR = 18
# The versions that brought the cache API (2.14 the cache, 2.16 its nodes, 2.18 clean and
# prune): as Glance, announced only where the cache is on; elsewhere 2.17 is CURRENT.
CACHE_MINORS = (14, 16, 18)


def version_document(base_url: str, cache_enabled: bool) -> dict:
    minors = [minor for minor in range(CURRENT_MINOR, -1, -1)
              if cache_enabled or minor not in CACHE_MINORS]
    return {"versions": [{
        "id": f"v2.{minor}",
        "status": "CURRENT" if minor == minors[0] else "SUPPORTED",
        "links": [{"rel": "self", "href": f"{base_url}/v2/"}],
    } for minor in minors]}


class VersionsResource:
    def __init__(self, rt: Runtime, status: str):
        self.rt = rt
        self.status = status

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        base = self.rt.settings.public_endpoint or req.prefix
        resp.status = self.status
        resp.media = version_document(base, self.rt.cache is not None)


class SchemaResource:
    def __init__(self, rt: Runtime):
        formats = (rt.settings.disk_formats, rt.settings.container_formats)
        self.documents = {
            "image": schemas.image_schema(*formats),
            "images": schemas.images_schema(*formats),
            "member": schemas.member_schema(),
            "members": schemas.members_schema(),
            "task": schemas.task_schema(),
            "tasks": schemas.tasks_schema(),
        }

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        if name not in self.documents:
            raise errors.not_found(f"No schema named {name}.")
        resp.media = self.documents[name]


def add_routes(app: falcon.App, rt: Runtime) -> None:
    for path, resource in (
            ("/", VersionsResource(rt, falcon.HTTP_300)),
            ("/versions", VersionsResource(rt, falcon.HTTP_200)),
            ("/v2/schemas/{name}", SchemaResource(rt)),
    ):
        app.add_route(path, resource)
