"""Metadata definitions: namespaces and the properties, objects, tags and resource types in them.

Everyone with a reader role sees public namespaces and their own project's private ones;
only admins create, change or delete (Glance's secure-RBAC defaults). A protected
namespace cannot be deleted until protected is set to false.
"""

from __future__ import annotations


import peewee

from glancelab import errors
from glancelab.metadefs import schemas as metadef_schemas
from glancelab.identity.context import RequestContext
from glancelab.db import database, pages
from glancelab.db.models import (MetadefNamespace, MetadefObject, MetadefProperty,
                                  MetadefResourceType, MetadefResourceTypeAssociation,
                                  MetadefTag, utcnow)
from glancelab.identity import access
from glancelab.images.views import isotime

BASE = "/v2/metadefs/namespaces"
SORT_KEYS = ("created_at", "updated_at", "namespace", "display_name")


def _validate(kind: str, body) -> dict:
    problem = metadef_schemas.first_error(kind, body)
    if problem:
        raise errors.bad_request(problem)
    return body


def _stamps(row) -> dict:
    return {"created_at": isotime(row.created_at), "updated_at": isotime(row.updated_at)}


# -- views ----------------------------------------------------------------------------------

def association_view(row: MetadefResourceTypeAssociation) -> dict:
    view = {"name": row.resource_type.name, **_stamps(row)}
    for key in ("prefix", "properties_target"):
        if getattr(row, key):
            view[key] = getattr(row, key)
    return view


def property_view(row: MetadefProperty) -> dict:
    return {"name": row.name, **row.definition}


def object_view(ns: MetadefNamespace, row: MetadefObject) -> dict:
    view = {"name": row.name, "required": row.required,
            "properties": row.properties, **_stamps(row),
            "self": f"{BASE}/{ns.namespace}/objects/{row.name}",
            "schema": "/v2/schemas/metadefs/object"}
    if row.description:
        view["description"] = row.description
    return view


def tag_view(row: MetadefTag) -> dict:
    return {"name": row.name, **_stamps(row)}


def namespace_view(ns: MetadefNamespace, full: bool) -> dict:
    view = {"namespace": ns.namespace, "visibility": ns.visibility, "protected": ns.protected,
            **_stamps(ns), "self": f"{BASE}/{ns.namespace}",
            "schema": "/v2/schemas/metadefs/namespace"}
    for key in ("display_name", "description", "owner"):
        if getattr(ns, key):
            view[key] = getattr(ns, key)
    associations = [association_view(a) for a in _associations(ns)]
    if associations:
        view["resource_type_associations"] = associations
    if full:
        properties = {p.name: p.definition for p in
                      MetadefProperty.select().where(MetadefProperty.namespace == ns)
                      .order_by(MetadefProperty.name)}
        objects = [object_view(ns, o) for o in
                   MetadefObject.select().where(MetadefObject.namespace == ns)
                   .order_by(MetadefObject.name)]
        tags = [{"name": t.name} for t in
                MetadefTag.select().where(MetadefTag.namespace == ns).order_by(MetadefTag.name)]
        for key, value in (("properties", properties), ("objects", objects), ("tags", tags)):
            if value:
                view[key] = value
    return view


def _associations(ns: MetadefNamespace):
    return (MetadefResourceTypeAssociation.select(MetadefResourceTypeAssociation,
                                                  MetadefResourceType)
            .join(MetadefResourceType)
            .where(MetadefResourceTypeAssociation.namespace == ns)
            .order_by(MetadefResourceType.name))


# -- namespaces ------------------------------------------------------------------------------

def _visible(ctx: RequestContext):
    query = MetadefNamespace.select()
    if not ctx.is_admin:
        query = query.where((MetadefNamespace.visibility == "public") |
                            (MetadefNamespace.owner == ctx.project_id))
    return query


def namespace_target(ns: MetadefNamespace) -> dict:
    return {"project_id": ns.owner, "visibility": ns.visibility, "namespace": ns.namespace}


def get_namespace(ctx: RequestContext, name: str,
                  rule: str = "get_metadef_namespace") -> MetadefNamespace:
    ns = _visible(ctx).where(MetadefNamespace.namespace == name).first()
    if ns is None or not ctx.allows("get_metadef_namespace", namespace_target(ns)):
        raise errors.not_found(f"Metadata definition namespace={name} was not found.")
    if rule != "get_metadef_namespace":
        access.authorize(ctx, rule, namespace_target(ns))
    return ns


def list_namespaces(ctx: RequestContext, params: dict, limit_max: int) -> dict:
    access.authorize(ctx, "get_metadef_namespaces")
    query = _visible(ctx)
    if params.get("visibility"):
        query = query.where(MetadefNamespace.visibility == params["visibility"])
    if params.get("resource_types"):
        wanted = [n.strip() for n in params["resource_types"].split(",") if n.strip()]
        query = query.where(MetadefNamespace.id.in_(
            MetadefResourceTypeAssociation.select(MetadefResourceTypeAssociation.namespace)
            .join(MetadefResourceType).where(MetadefResourceType.name.in_(wanted))))
    sort_key = params.get("sort_key", "created_at")
    sort_dir = params.get("sort_dir", "desc")
    if sort_key not in SORT_KEYS or sort_dir not in ("asc", "desc"):
        raise errors.bad_request(f"sort_key must be one of {', '.join(SORT_KEYS)} and sort_dir "
                                 "asc or desc.")
    field = getattr(MetadefNamespace, sort_key)
    sorting = pages.Sorting(((field, sort_dir), (MetadefNamespace.id, sort_dir)))
    limit = pages.limit_of(params.get("limit"), limit_max, limit_max)
    marker = pages.anchor(_visible(ctx), MetadefNamespace.namespace, params.get("marker"),
                          "namespace")
    rows, more = pages.read(query, sorting, limit, marker)
    return {"namespaces": [namespace_view(ns, full=False) for ns in rows],
            **pages.links(BASE, params, rows[-1].namespace if rows else None, more),
            "schema": "/v2/schemas/metadefs/namespaces"}


def create_namespace(ctx: RequestContext, body, owner: str | None = None) -> MetadefNamespace:
    access.authorize(ctx, "add_metadef_namespace")
    body = _validate("namespace", body)
    try:
        with database.atomic():
            ns = MetadefNamespace.create(
                namespace=body["namespace"], display_name=body.get("display_name"),
                description=body.get("description"),
                visibility=body.get("visibility", "private"),
                protected=body.get("protected", False),
                owner=body.get("owner") or owner or ctx.project_id)
            for name, definition in (body.get("properties") or {}).items():
                _insert_property(ns, {**definition, "name": name})
            for item in body.get("objects") or []:
                _insert_object(ns, item)
            for item in body.get("tags") or []:
                MetadefTag.create(namespace=ns, name=item["name"])
            for item in body.get("resource_type_associations") or []:
                _insert_association(ns, item)
    except peewee.IntegrityError:
        raise errors.conflict(f"Metadata definition namespace={body['namespace']} (or a "
                              "property, object or tag in it) already exists.") from None
    return ns


def update_namespace(ctx: RequestContext, name: str, body) -> MetadefNamespace:
    ns = get_namespace(ctx, name, "modify_metadef_namespace")
    body = _validate("namespace", body)
    ns.namespace = body["namespace"]
    for key in ("display_name", "description"):
        setattr(ns, key, body.get(key))
    ns.visibility = body.get("visibility", ns.visibility)
    ns.protected = body.get("protected", ns.protected)
    ns.owner = body.get("owner", ns.owner)
    ns.updated_at = utcnow()
    try:
        ns.save()
    except peewee.IntegrityError:
        raise errors.conflict(f"Metadata definition namespace={ns.namespace} already "
                              "exists.") from None
    return ns


def delete_namespace(ctx: RequestContext, name: str) -> None:
    ns = get_namespace(ctx, name, "delete_metadef_namespace")
    if ns.protected:
        raise errors.forbidden(f"Namespace {name} is protected and cannot be deleted; set "
                               "protected to false first.")
    ns.delete_instance(recursive=True)


def delete_contents(ctx: RequestContext, name: str, model) -> None:
    """DELETE .../objects, .../properties or .../tags: all of that kind in the namespace."""
    # Glance guards these with the tags rule for tags and the namespace's own otherwise.
    rule = "delete_metadef_tags" if model is MetadefTag else "delete_metadef_namespace"
    ns = get_namespace(ctx, name, rule)
    if ns.protected:
        raise errors.forbidden(f"Namespace {name} is protected; set protected to false first.")
    model.delete().where(model.namespace == ns).execute()


# -- properties and objects --------------------------------------------------------------

def _insert_property(ns: MetadefNamespace, body: dict) -> MetadefProperty:
    body = _validate("property", body)
    definition = {k: v for k, v in body.items() if k != "name"}
    return MetadefProperty.create(namespace=ns, name=body["name"],
                                  definition=definition)


def _insert_object(ns: MetadefNamespace, body: dict) -> MetadefObject:
    body = _validate("object", body)
    return MetadefObject.create(namespace=ns, name=body["name"],
                                description=body.get("description"),
                                required=body.get("required") or [],
                                properties=body.get("properties") or {})


def _child(model, ns: MetadefNamespace, name: str, what: str):
    row = model.get_or_none(model.namespace == ns, model.name == name)
    if row is None:
        raise errors.not_found(f"Metadata definition {what}={name} was not found in "
                               f"namespace={ns.namespace}.")
    return row


def _create_child(ctx: RequestContext, namespace: str, action: str, insert, body, what: str):
    ns = get_namespace(ctx, namespace, action)
    try:
        with database.atomic():
            return ns, insert(ns, body)
    except peewee.IntegrityError:
        raise errors.conflict(f"A metadata definition {what} named {body.get('name')} already "
                              f"exists in namespace={namespace}.") from None


def create_property(ctx, namespace: str, body) -> dict:
    _, row = _create_child(ctx, namespace, "add_metadef_property", _insert_property, body,
                           "property")
    return property_view(row)


def create_object(ctx, namespace: str, body) -> dict:
    ns, row = _create_child(ctx, namespace, "add_metadef_object", _insert_object, body, "object")
    return object_view(ns, row)


def list_properties(ctx, namespace: str) -> dict:
    ns = get_namespace(ctx, namespace)
    rows = MetadefProperty.select().where(MetadefProperty.namespace == ns).order_by(
        MetadefProperty.name)
    return {"properties": {row.name: row.definition for row in rows}}


def list_objects(ctx, namespace: str) -> dict:
    ns = get_namespace(ctx, namespace)
    rows = MetadefObject.select().where(MetadefObject.namespace == ns).order_by(MetadefObject.name)
    return {"objects": [object_view(ns, row) for row in rows],
            "schema": "/v2/schemas/metadefs/objects"}


def get_property(ctx, namespace: str, name: str) -> dict:
    return property_view(_child(MetadefProperty, get_namespace(ctx, namespace), name, "property"))


def get_object(ctx, namespace: str, name: str) -> dict:
    ns = get_namespace(ctx, namespace)
    return object_view(ns, _child(MetadefObject, ns, name, "object"))


def update_property(ctx, namespace: str, name: str, body) -> dict:
    ns = get_namespace(ctx, namespace, "modify_metadef_property")
    row = _child(MetadefProperty, ns, name, "property")
    body = _validate("property", body)
    row.name = body["name"]
    row.definition = {k: v for k, v in body.items() if k != "name"}
    row.updated_at = utcnow()
    _save_renamed(row, namespace, "property")
    return property_view(row)


def update_object(ctx, namespace: str, name: str, body) -> dict:
    ns = get_namespace(ctx, namespace, "modify_metadef_object")
    row = _child(MetadefObject, ns, name, "object")
    body = _validate("object", body)
    row.name, row.description = body["name"], body.get("description")
    row.required = body.get("required") or []
    row.properties = body.get("properties") or {}
    row.updated_at = utcnow()
    _save_renamed(row, namespace, "object")
    return object_view(ns, row)


def _save_renamed(row, namespace: str, what: str) -> None:
    try:
        row.save()
    except peewee.IntegrityError:
        raise errors.conflict(f"A metadata definition {what} named {row.name} already exists "
                              f"in namespace={namespace}.") from None


def delete_child(ctx, namespace: str, model, name: str, what: str) -> None:
    rule = {"property": "remove_metadef_property", "object": "delete_metadef_object",
            "tag": "delete_metadef_tag"}[what]
    ns = get_namespace(ctx, namespace, rule)
    if ns.protected:
        raise errors.forbidden(f"Namespace {namespace} is protected; set protected to false "
                               "first.")
    _child(model, ns, name, what).delete_instance()


# -- tags -----------------------------------------------------------------------------------

def list_tags(ctx, namespace: str) -> dict:
    ns = get_namespace(ctx, namespace)
    rows = MetadefTag.select().where(MetadefTag.namespace == ns).order_by(MetadefTag.name)
    return {"tags": [tag_view(row) for row in rows]}


def get_tag(ctx, namespace: str, name: str) -> dict:
    return tag_view(_child(MetadefTag, get_namespace(ctx, namespace), name, "tag"))


def create_tag(ctx, namespace: str, name: str) -> dict:
    _validate("tag", {"name": name})
    _, row = _create_child(ctx, namespace, "add_metadef_tag",
                           lambda ns, body: MetadefTag.create(namespace=ns, name=body["name"]),
                           {"name": name}, "tag")
    return tag_view(row)


def create_tags(ctx, namespace: str, body, append: bool) -> dict:
    """POST .../tags: replace every tag (or add to them with X-Openstack-Append: true)."""
    ns = get_namespace(ctx, namespace, "add_metadef_tags")
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
        raise errors.bad_request('Request body must be {"tags": [{"name": "..."}]}.')
    for item in body["tags"]:
        _validate("tag", item)
    names = [item["name"] for item in body["tags"]]
    if len(set(names)) != len(names):
        raise errors.conflict("The same tag is listed twice.")
    try:
        with database.atomic():
            if not append:
                MetadefTag.delete().where(MetadefTag.namespace == ns).execute()
            for name in names:
                MetadefTag.create(namespace=ns, name=name)
    except peewee.IntegrityError:
        raise errors.conflict(f"A tag in {names} already exists in namespace={namespace}.") \
            from None
    return {"tags": [{"name": name} for name in names]}


def update_tag(ctx, namespace: str, name: str, body) -> dict:
    ns = get_namespace(ctx, namespace, "modify_metadef_tag")
    row = _child(MetadefTag, ns, name, "tag")
    row.name = _validate("tag", body)["name"]
    row.updated_at = utcnow()
    _save_renamed(row, namespace, "tag")
    return tag_view(row)


# -- resource types -------------------------------------------------------------------------

def list_resource_types(ctx: RequestContext) -> dict:
    access.authorize(ctx, "list_metadef_resource_types")
    rows = MetadefResourceType.select().order_by(MetadefResourceType.name)
    return {"resource_types": [{"name": row.name, **_stamps(row)} for row in rows]}


def _insert_association(ns: MetadefNamespace, body: dict) -> MetadefResourceTypeAssociation:
    body = _validate("resource_type_association", body)
    resource_type, _ = MetadefResourceType.get_or_create(name=body["name"])
    return MetadefResourceTypeAssociation.create(
        namespace=ns, resource_type=resource_type, prefix=body.get("prefix"),
        properties_target=body.get("properties_target"))


def list_associations(ctx, namespace: str) -> dict:
    ns = get_namespace(ctx, namespace)
    return {"resource_type_associations": [association_view(a) for a in _associations(ns)]}


def create_association(ctx, namespace: str, body) -> dict:
    _, row = _create_child(ctx, namespace, "add_metadef_resource_type_association",
                           _insert_association, body, "resource type association")
    return association_view(row)


def delete_association(ctx, namespace: str, name: str) -> None:
    ns = get_namespace(ctx, namespace, "remove_metadef_resource_type_association")
    if ns.protected:
        raise errors.forbidden(f"Namespace {namespace} is protected; set protected to false "
                               "first.")
    deleted = (MetadefResourceTypeAssociation.delete()
               .where(MetadefResourceTypeAssociation.namespace == ns,
                      MetadefResourceTypeAssociation.resource_type.in_(
                          MetadefResourceType.select(MetadefResourceType.id)
                          .where(MetadefResourceType.name == name))).execute())
    if not deleted:
        raise errors.not_found(f"Resource type {name} is not associated with "
                               f"namespace={namespace}.")
