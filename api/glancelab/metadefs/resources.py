"""/v2/metadefs/...: metadata definition namespaces and what they hold."""

from __future__ import annotations

import falcon

from glancelab import errors
from glancelab.metadefs import schemas as metadef_schemas
from glancelab.db.models import MetadefObject, MetadefProperty, MetadefTag
from glancelab.web.body import read_json
from glancelab.runtime import Runtime
from glancelab.metadefs import service as metadefs


class _Resource:
    def __init__(self, rt: Runtime):
        self.rt = rt

    def body(self, req: falcon.Request):
        return read_json(req, self.rt.settings.max_request_body_size)


def _created(resp: falcon.Response, media: dict) -> None:
    resp.status = falcon.HTTP_201
    resp.media = media


class Namespaces(_Resource):
    def on_get(self, req, resp):
        resp.media = metadefs.list_namespaces(req.context.auth, dict(req.params),
                                              self.rt.settings.api_limit_max)

    def on_post(self, req, resp):
        ns = metadefs.create_namespace(req.context.auth, self.body(req))
        resp.location = f"{metadefs.BASE}/{ns.namespace}"
        _created(resp, metadefs.namespace_view(ns, full=True))


class Namespace(_Resource):
    def on_get(self, req, resp, namespace):
        resp.media = metadefs.namespace_view(metadefs.get_namespace(req.context.auth, namespace),
                                             full=True)

    def on_put(self, req, resp, namespace):
        ns = metadefs.update_namespace(req.context.auth, namespace, self.body(req))
        resp.media = metadefs.namespace_view(ns, full=True)

    def on_delete(self, req, resp, namespace):
        metadefs.delete_namespace(req.context.auth, namespace)
        resp.status = falcon.HTTP_204


class Objects(_Resource):
    def on_get(self, req, resp, namespace):
        resp.media = metadefs.list_objects(req.context.auth, namespace)

    def on_post(self, req, resp, namespace):
        _created(resp, metadefs.create_object(req.context.auth, namespace, self.body(req)))

    def on_delete(self, req, resp, namespace):
        metadefs.delete_contents(req.context.auth, namespace, MetadefObject)
        resp.status = falcon.HTTP_204


class Object(_Resource):
    def on_get(self, req, resp, namespace, name):
        resp.media = metadefs.get_object(req.context.auth, namespace, name)

    def on_put(self, req, resp, namespace, name):
        resp.media = metadefs.update_object(req.context.auth, namespace, name, self.body(req))

    def on_delete(self, req, resp, namespace, name):
        metadefs.delete_child(req.context.auth, namespace, MetadefObject, name, "object")
        resp.status = falcon.HTTP_204


class Properties(_Resource):
    def on_get(self, req, resp, namespace):
        resp.media = metadefs.list_properties(req.context.auth, namespace)

    def on_post(self, req, resp, namespace):
        _created(resp, metadefs.create_property(req.context.auth, namespace, self.body(req)))

    def on_delete(self, req, resp, namespace):
        metadefs.delete_contents(req.context.auth, namespace, MetadefProperty)
        resp.status = falcon.HTTP_204


class Property(_Resource):
    def on_get(self, req, resp, namespace, name):
        resp.media = metadefs.get_property(req.context.auth, namespace, name)

    def on_put(self, req, resp, namespace, name):
        resp.media = metadefs.update_property(req.context.auth, namespace, name, self.body(req))

    def on_delete(self, req, resp, namespace, name):
        metadefs.delete_child(req.context.auth, namespace, MetadefProperty, name, "property")
        resp.status = falcon.HTTP_204


class Tags(_Resource):
    def on_get(self, req, resp, namespace):
        resp.media = metadefs.list_tags(req.context.auth, namespace)

    def on_post(self, req, resp, namespace):
        append = (req.get_header("X-Openstack-Append") or "").lower() == "true"
        _created(resp, metadefs.create_tags(req.context.auth, namespace, self.body(req), append))

    def on_delete(self, req, resp, namespace):
        metadefs.delete_contents(req.context.auth, namespace, MetadefTag)
        resp.status = falcon.HTTP_204


class Tag(_Resource):
    def on_get(self, req, resp, namespace, name):
        resp.media = metadefs.get_tag(req.context.auth, namespace, name)

    def on_post(self, req, resp, namespace, name):
        _created(resp, metadefs.create_tag(req.context.auth, namespace, name))

    def on_put(self, req, resp, namespace, name):
        resp.media = metadefs.update_tag(req.context.auth, namespace, name, self.body(req))

    def on_delete(self, req, resp, namespace, name):
        metadefs.delete_child(req.context.auth, namespace, MetadefTag, name, "tag")
        resp.status = falcon.HTTP_204


class Associations(_Resource):
    def on_get(self, req, resp, namespace):
        resp.media = metadefs.list_associations(req.context.auth, namespace)

    def on_post(self, req, resp, namespace):
        _created(resp, metadefs.create_association(req.context.auth, namespace, self.body(req)))


class Association(_Resource):
    def on_delete(self, req, resp, namespace, name):
        metadefs.delete_association(req.context.auth, namespace, name)
        resp.status = falcon.HTTP_204


class ResourceTypes(_Resource):
    def on_get(self, req, resp):
        resp.media = metadefs.list_resource_types(req.context.auth)


class Schemas:
    def on_get(self, req, resp, name):
        if name not in metadef_schemas.PUBLISHED:
            raise errors.not_found(f"No schema named metadefs/{name}.")
        resp.media = metadef_schemas.PUBLISHED[name]()


def add_routes(app: falcon.App, rt: Runtime) -> None:
    ns = "/v2/metadefs/namespaces/{namespace}"
    for path, resource in (
            ("/v2/metadefs/namespaces", Namespaces(rt)), (ns, Namespace(rt)),
            (f"{ns}/objects", Objects(rt)), (f"{ns}/objects/{{name}}", Object(rt)),
            (f"{ns}/properties", Properties(rt)), (f"{ns}/properties/{{name}}", Property(rt)),
            (f"{ns}/tags", Tags(rt)), (f"{ns}/tags/{{name}}", Tag(rt)),
            (f"{ns}/resource_types", Associations(rt)),
            (f"{ns}/resource_types/{{name}}", Association(rt)),
            ("/v2/metadefs/resource_types", ResourceTypes(rt)),
            ("/v2/schemas/metadefs/{name}", Schemas())):
        app.add_route(path, resource)
