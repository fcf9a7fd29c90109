"""/v2/info/stores, /v2/info/stores/detail and /v2/stores/{store_id}/{image_id}."""

from __future__ import annotations

import falcon

from glancelab.runtime import Runtime
from glancelab.multistore import service as stores


class StoresInfo:
    def __init__(self, rt: Runtime, detail: bool):
        self.rt = rt
        self.detail = detail

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = stores.list_stores(self.rt, req.context.auth, self.detail)


class StoreImage:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def on_delete(self, req, resp, store_id: str, image_id: str) -> None:
        stores.delete_from_store(self.rt, req.context.auth, store_id, image_id)
        resp.status = falcon.HTTP_204


def add_routes(app: falcon.App, rt: Runtime) -> None:
    for path, resource in (
            ("/v2/info/stores", StoresInfo(rt, detail=False)),
            ("/v2/info/stores/detail", StoresInfo(rt, detail=True)),
            ("/v2/stores/{store_id}/{image_id}", StoreImage(rt)),
    ):
        app.add_route(path, resource)
