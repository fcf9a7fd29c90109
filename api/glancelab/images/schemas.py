"""The JSON Schemas the API publishes under /v2/schemas and validates requests with."""

from __future__ import annotations

import copy
import functools

import jsonschema

# Glance's default disk and container formats are [image_format] options: declared there.
from glancelab.conf.options import CONTAINER_FORMATS, DISK_FORMATS

from glancelab.db.statuses import STATUSES
VISIBILITIES = ["community", "public", "private", "shared"]
MEMBER_STATUSES = ["pending", "accepted", "rejected"]
UUID_PATTERN = ("^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
                "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$")

READ_ONLY = {"status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size",
             "created_at", "updated_at", "direct_url", "self", "file", "stores", "schema"}
RESERVED = {"deleted", "deleted_at", "location"}


def _nullable(kind: str, **extra) -> dict:
    return {"type": ["null", kind], **extra}


def image_properties(disk_formats=None, container_formats=None) -> dict:
    disk_formats = disk_formats or DISK_FORMATS
    container_formats = container_formats or CONTAINER_FORMATS
    return {
        "id": {"type": "string", "description": "An identifier for the image",
               "pattern": UUID_PATTERN},
        "name": _nullable("string", description="Descriptive name for the image", maxLength=255),
        "status": {"type": "string", "readOnly": True, "description": "Status of the image",
                   "enum": STATUSES},
        "visibility": {"type": "string", "description": "Scope of image accessibility",
                       "enum": VISIBILITIES},
        "protected": {"type": "boolean",
                      "description": "If true, image will not be deletable."},
        "os_hidden": {"type": "boolean", "description":
                      "If true, image will not appear in default image list response."},
        "checksum": _nullable("string", readOnly=True, maxLength=32,
                              description="md5 hash of image contents."),
        "os_hash_algo": _nullable("string", readOnly=True, maxLength=64,
                                  description="Algorithm to calculate the os_hash_value"),
        "os_hash_value": _nullable("string", readOnly=True, maxLength=128, description=(
            "Hexdigest of the image contents using the algorithm specified by the os_hash_algo")),
        "owner": _nullable("string", maxLength=255, description="Owner of the image"),
        "size": _nullable("integer", readOnly=True, description="Size of image file in bytes"),
        "virtual_size": _nullable("integer", readOnly=True,
                                  description="Virtual size of image in bytes"),
        "container_format": {"type": ["null", "string"], "description": "Format of the container",
                             "enum": [None] + list(container_formats)},
        "disk_format": {"type": ["null", "string"], "description": "Format of the disk",
                        "enum": [None] + list(disk_formats)},
        "created_at": {"type": "string", "readOnly": True,
                       "description": "Date and time of image registration"},
        "updated_at": {"type": "string", "readOnly": True,
                       "description": "Date and time of the last image modification"},
        "tags": {"type": "array", "description": "List of strings related to the image",
                 "items": {"type": "string", "maxLength": 255}},
        "direct_url": {"type": "string", "readOnly": True,
                       "description": "URL to access the image file kept in external store"},
        "min_ram": {"type": "integer", "minimum": 0,
                    "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer", "minimum": 0,
                     "description": "Amount of disk space (in GB) required to boot image."},
        "self": {"type": "string", "readOnly": True, "description": "An image self url"},
        "file": {"type": "string", "readOnly": True, "description": "An image file url"},
        "stores": {"type": "string", "readOnly": True, "description": (
            "Store in which image data resides.  Only present when the operator has enabled "
            "multiple stores.  May be a comma-separated list of store identifiers.")},
        "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
        "locations": {
            "type": "array",
            "description": "A set of URLs to access the image file kept in external store",
            "items": {
                "type": "object",
                "properties": {
                    "url": {"type": "string", "maxLength": 255},
                    "metadata": {"type": "object"},
                    "validation_data": {
                        "type": "object", "writeOnly": True, "additionalProperties": False,
                        "properties": {
                            "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
                            "os_hash_algo": {"type": "string", "maxLength": 64},
                            "os_hash_value": {"type": "string", "maxLength": 128},
                        },
                        "required": ["os_hash_algo", "os_hash_value"],
                    },
                },
                "required": ["url", "metadata"],
            },
        },
    }


def image_schema(disk_formats=None, container_formats=None) -> dict:
    return {
        "name": "image",
        "properties": image_properties(disk_formats, container_formats),
        # Any other key is an extra property, and its value must be a string.
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def images_schema(disk_formats=None, container_formats=None) -> dict:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema(disk_formats, container_formats)},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member_schema() -> dict:
    return {
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "image_id": {"type": "string", "description": "An identifier for the image",
                         "pattern": UUID_PATTERN},
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "status": {"type": "string", "description": "The status of this image member",
                       "enum": MEMBER_STATUSES},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "schema": {"type": "string", "readOnly": True},
        },
    }


def members_schema() -> dict:
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}],
    }


def task_schema() -> dict:
    text = {"type": "string"}
    return {
        "name": "task",
        "properties": {
            "id": {"type": "string", "pattern": UUID_PATTERN,
                   "description": "An identifier for the task"},
            "type": {"type": "string", "enum": ["import", "api_image_import"],
                     "description": "The type of task represented by this content"},
            "status": {"type": "string", "enum": ["pending", "processing", "success", "failure"],
                       "description": "The current status of this task"},
            "input": {"type": "object", "description": "The parameters required by task"},
            "result": {"type": ["object", "null"], "description": "The result of current task"},
            "owner": {**text, "description": "An identifier for the owner of this task"},
            "message": {**text, "description": "Human-readable informative message"},
            "image_id": {**text, "description": "Image associated with the task"},
            "request_id": {**text, "description": "Request that created the task"},
            "user_id": {**text, "description": "User that created the task"},
            "expires_at": {"type": ["null", "string"],
                           "description": "When the task record may be removed"},
            "created_at": {**text, "description": "Date and time of task creation"},
            "updated_at": {**text, "description": "Date and time of last modification of task"},
            "self": text, "schema": text,
        },
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}],
    }


def tasks_schema() -> dict:
    return {
        "name": "tasks",
        "properties": {
            "tasks": {"type": "array", "items": task_schema()},
            "schema": {"type": "string"}, "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }


# Request bodies that are not images. Glance reads only "member" and "status" from them
# and ignores the rest (openstacksdk sends the member id back with the status).
MEMBER_CREATE = {
    "type": "object",
    "properties": {"member": {"type": "string", "minLength": 1, "maxLength": 255}},
    "required": ["member"],
}
MEMBER_UPDATE = {
    "type": "object",
    "properties": {"status": {"type": "string", "enum": MEMBER_STATUSES}},
    "required": ["status"],
}


@functools.lru_cache(maxsize=8)
def _validator(kind: str, disk_formats: tuple, container_formats: tuple):
    schema = {
        "image": lambda: image_schema(disk_formats, container_formats),
        "member_create": lambda: copy.deepcopy(MEMBER_CREATE),
        "member_update": lambda: copy.deepcopy(MEMBER_UPDATE),
    }[kind]()
    if kind == "image":
        schema = {**schema, "type": "object"}
    return jsonschema.Draft4Validator(schema)


def _describe_first_error(validator, document, name: str) -> str | None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"Provided object does not match schema '{name}': {error.message}" + (
        f" (at '{where}')" if where else "")


def first_error_in(schema: dict, document, name: str) -> str | None:
    """Like first_error, for a schema given inline."""
    return _describe_first_error(jsonschema.Draft4Validator(schema), document, name)


def first_error(kind: str, document, disk_formats=None, container_formats=None) -> str | None:
    """A readable message for the first schema violation, or None when valid."""
    validator = _validator(kind, tuple(disk_formats or DISK_FORMATS),
                           tuple(container_formats or CONTAINER_FORMATS))
    return _describe_first_error(validator, document, kind.split("_")[0])
