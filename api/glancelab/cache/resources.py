"""/v2/cache and /v2/cache/{image_id} (admin)."""

from __future__ import annotations

import falcon

from glancelab.web.body import accepted
from glancelab.runtime import Runtime
from glancelab.cache import service as cache


class CacheCollection:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = cache.list_cache(self.rt, req.context.auth)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        cache.clear(self.rt, req.context.auth, req.get_header("x-image-cache-clear-target"))
        resp.status = falcon.HTTP_204


class CacheClean:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        cache.clean(self.rt, req.context.auth)
        resp.status = falcon.HTTP_200
        resp.text = ""


class CachePrune:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = cache.prune(self.rt, req.context.auth)


class CachedImageResource:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_put(self, req, resp, image_id: str) -> None:
        cache.queue_image(self.rt, req.context.auth, image_id)
        accepted(resp)

    def on_delete(self, req, resp, image_id: str) -> None:
        cache.delete_cached(self.rt, req.context.auth, image_id)
        resp.status = falcon.HTTP_204


class CachedNodes:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_get(self, req, resp, image_id: str) -> None:
        resp.media = cache.cached_nodes(self.rt, req.context.auth, image_id)


def add_routes(app: falcon.App, rt: Runtime) -> None:
    for path, resource in (
            ("/v2/cache", CacheCollection(rt)),
            ("/v2/cache/clean", CacheClean(rt)),
            ("/v2/cache/prune", CachePrune(rt)),
            ("/v2/cache/{image_id}", CachedImageResource(rt)),
            ("/v2/cache/nodes/{image_id}", CachedNodes(rt)),
    ):
        app.add_route(path, resource)
