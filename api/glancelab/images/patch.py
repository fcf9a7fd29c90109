"""JSON-patch (application/openstack-images-v2.1-json-patch) parsing and application.

Ops apply in order to a plain dict view of the image; the caller validates the result
against the image schema and saves it in one transaction, so a patch lands whole or not
at all.
"""

from __future__ import annotations

from typing import NamedTuple

from glancelab import errors
from glancelab.images import schemas

PATCH_MEDIA_TYPES = ("application/openstack-images-v2.1-json-patch",)
OPS = ("add", "replace", "remove")

# Core attributes a patch may change; removing one is refused (replace it instead).
CORE_WRITABLE = {"name", "visibility", "protected", "os_hidden", "owner", "container_format",
                 "disk_format", "min_ram", "min_disk", "tags"}


class Change(NamedTuple):
    op: str
    attribute: str
    value: object
    # For /locations/N and /locations/-: the list index (-1 for "-"); None otherwise.
    index: int | None = None


def unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def parse(document) -> list[Change]:
    """The changes a patch document asks for, or a 400/403 saying what is wrong."""
    if not isinstance(document, list):
        raise errors.bad_request("Request body must be a JSON array of operation objects.")
    changes = []
    for index, item in enumerate(document):
        if not isinstance(item, dict):
            raise errors.bad_request(f"Operation {index} must be a JSON object.")
        op = item.get("op")
        if op not in OPS:
            raise errors.bad_request(f"Operation {index}: op must be one of {', '.join(OPS)}"
                                     f" (got {op!r}).")
        path = item.get("path")
        if not isinstance(path, str) or not path.startswith("/") or len(path) < 2:
            raise errors.bad_request(f"Operation {index}: path must be a JSON pointer such as "
                                     f"'/name' (got {path!r}).")
        unknown = set(item) - {"op", "path", "value"}
        if unknown:
            raise errors.bad_request(f"Operation {index}: unexpected member(s) "
                                     f"{', '.join(sorted(unknown))}.")
        if op != "remove" and "value" not in item:
            raise errors.bad_request(f"Operation {index}: '{op}' needs a value.")
        parts = [unescape(p) for p in path[1:].split("/")]
        if parts[0] == "locations":
            changes.append(_location_change(op, path, parts, item.get("value")))
            continue
        if len(parts) != 1:
            raise errors.bad_request(f"Invalid JSON pointer for this resource: '{path}'")
        check_writable(parts[0])
        changes.append(Change(op, parts[0], item.get("value")))
    return changes


def _location_change(op: str, path: str, parts: list[str], value) -> Change:
    """replace /locations (whole list), add /locations/N|-, remove /locations/N."""
    if len(parts) == 1 and op == "replace":
        return Change(op, "locations", value)
    if len(parts) == 2 and op in ("add", "remove"):
        if parts[1] == "-" and op == "add":
            return Change(op, "locations", value, -1)
        if parts[1].isdigit():
            return Change(op, "locations", value, int(parts[1]))
    raise errors.bad_request(f"Invalid JSON pointer for this resource: '{path}': use "
                             "replace /locations, add /locations/- (or /N), remove /locations/N.")


# The length of a property name the image_properties table (Glance's too) holds.
MAX_PROPERTY_NAME = 255


def check_writable(attribute: str) -> None:
    if len(attribute) > MAX_PROPERTY_NAME:
        raise errors.bad_request(f"Property name {attribute[:40]}... is longer than "
                                 f"{MAX_PROPERTY_NAME} characters.")
    if attribute in schemas.READ_ONLY or attribute == "id":
        raise errors.forbidden(f"Attribute '{attribute}' is read-only.")
    if attribute in schemas.RESERVED or attribute == "locations" or \
            attribute.startswith("os_glance_"):
        raise errors.forbidden(f"Attribute '{attribute}' is reserved.")


def apply(view: dict, changes: list[Change]) -> dict:
    """Apply changes to a copy of view (core attributes and extra properties)."""
    result = dict(view)
    for op, attribute, value, _ in changes:
        if op == "remove":
            if attribute in CORE_WRITABLE:
                raise errors.forbidden(f"Attribute '{attribute}' is a core attribute and cannot "
                                       "be removed; replace it instead.")
            if attribute not in result:
                raise errors.conflict(f"Property {attribute} does not exist.")
            del result[attribute]
        elif op == "replace" and attribute not in CORE_WRITABLE and attribute not in result:
            raise errors.conflict(f"Property {attribute} does not exist.")
        else:
            result[attribute] = value
    return result
