"""JSON Schemas of the metadata definition API: published under /v2/schemas/metadefs/ and
used to validate request bodies."""

from __future__ import annotations

import functools

import jsonschema

PROPERTY_TYPES = ["array", "boolean", "integer", "number", "object", "string", "null"]
_TEXT = {"type": "string"}
_STAMP = {"type": "string", "readOnly": True, "format": "date-time"}


def property_definition() -> dict:
    """One property: a small JSON Schema with a title (what Horizon shows)."""
    positive = {"type": "integer", "minimum": 0}
    return {
        "type": "object",
        "required": ["title", "type"],
        "properties": {
            "name": {"type": "string", "maxLength": 255},
            "title": _TEXT, "description": _TEXT,
            "type": {"type": "string", "enum": PROPERTY_TYPES},
            "operators": {"type": "array", "items": _TEXT},
            "default": {}, "readonly": {"type": "boolean"},
            "minimum": {"type": "number"}, "maximum": {"type": "number"},
            "maxLength": positive, "minLength": positive, "pattern": {"type": "string",
                                                                        "format": "regex"},
            "enum": {"type": "array"},
            "items": {"type": "object", "properties": {
                "type": {"type": "string", "enum": PROPERTY_TYPES}, "enum": {"type": "array"}}},
            "maxItems": positive, "minItems": positive, "uniqueItems": {"type": "boolean"},
            "additionalItems": {"type": "boolean"},
        },
        "additionalProperties": False,
    }


def _named(definition: dict) -> dict:
    return {**definition, "required": ["name", *definition.get("required", [])]}


def object_schema() -> dict:
    return {
        "name": "object", "type": "object", "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "description": _TEXT,
            "required": {"type": "array", "items": _TEXT},
            "properties": {"type": "object", "additionalProperties": property_definition()},
            "schema": {**_TEXT, "readOnly": True}, "self": {**_TEXT, "readOnly": True},
            "created_at": _STAMP, "updated_at": _STAMP,
        },
        "additionalProperties": False,
    }


def tag_schema() -> dict:
    return {
        "name": "tag", "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255},
                       "created_at": _STAMP, "updated_at": _STAMP},
        "additionalProperties": False,
    }


def association_schema() -> dict:
    return {
        "name": "resource_type_association", "type": "object", "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "prefix": {"type": "string", "maxLength": 80},
            "properties_target": {"type": "string", "maxLength": 80},
            "created_at": _STAMP, "updated_at": _STAMP,
        },
        "additionalProperties": False,
    }


def namespace_schema() -> dict:
    return {
        "name": "namespace", "type": "object", "required": ["namespace"],
        "properties": {
            "namespace": {"type": "string", "minLength": 1, "maxLength": 80},
            "display_name": {"type": "string", "maxLength": 80},
            "description": {"type": "string", "maxLength": 500},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "protected": {"type": "boolean"},
            "owner": {"type": "string", "maxLength": 255},
            "resource_type_associations": {"type": "array", "items": association_schema()},
            "properties": {"type": "object", "additionalProperties": property_definition()},
            "objects": {"type": "array", "items": object_schema()},
            "tags": {"type": "array", "items": tag_schema()},
            "schema": {**_TEXT, "readOnly": True}, "self": {**_TEXT, "readOnly": True},
            "created_at": _STAMP, "updated_at": _STAMP,
        },
        "additionalProperties": False,
    }


def _collection(name: str, item: dict, key: str | None = None) -> dict:
    return {
        "name": name,
        "properties": {key or name: {"type": "array", "items": item},
                       "first": _TEXT, "next": _TEXT, "schema": _TEXT},
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }


def resource_type_schema() -> dict:
    return {"name": "resource_type", "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "maxLength": 80},
                           "created_at": _STAMP, "updated_at": _STAMP}}


PUBLISHED = {
    "namespace": namespace_schema,
    "namespaces": lambda: _collection("namespaces", namespace_schema()),
    "object": object_schema,
    "objects": lambda: _collection("objects", object_schema()),
    "property": lambda: {"name": "property", **_named(property_definition())},
    "properties": lambda: {"name": "properties", "properties": {"properties": {
        "type": "object", "additionalProperties": property_definition()}}},
    "tag": tag_schema,
    "tags": lambda: _collection("tags", tag_schema()),
    "resource_type": resource_type_schema,
    "resource_types": lambda: _collection("resource_types", resource_type_schema()),
    "resource_type_association": association_schema,
    "resource_type_associations": lambda: _collection(
        "resource_type_associations", association_schema()),
}


@functools.lru_cache(maxsize=None)
def _validator(kind: str) -> jsonschema.Draft4Validator:
    schema = {"property": lambda: _named(property_definition())}.get(kind, PUBLISHED[kind])()
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def first_error(kind: str, document) -> str | None:
    """A message for the first problem of a request body, or None when it is valid."""
    errors = sorted(_validator(kind).iter_errors(document), key=lambda e: list(e.path))
    if not errors:
        return None
    error = errors[0]
    where = "/".join(str(p) for p in error.path)
    return f"Invalid {kind}{' at ' + where if where else ''}: {error.message}"
