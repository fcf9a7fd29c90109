"""GET /v2/images's query parameters, read into SQL conditions: filters on the image's
own columns, tag and property filters (kept apart: images/listing.py may walk one of
their tables), the sort keys."""

from __future__ import annotations

import csv
import datetime

import peewee

from glancelab import errors
from glancelab.db.models import Image, ImageProperty, ImageTag

SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at")
IN_FIELDS = ("id", "name", "status", "visibility", "owner", "container_format", "disk_format",
             "checksum", "os_hash_value")
TIME_FIELDS = ("created_at", "updated_at")
TIME_OPS = {"eq": "__eq__", "neq": "__ne__", "gt": "__gt__", "gte": "__ge__", "lt": "__lt__",
            "lte": "__le__"}
RESERVED_PARAMS = {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status", "tag"}
# Each property or tag filter is a subquery: a few dozen cover any real search, hundreds
# only load the database.
MAX_FILTERS = 50


def single(params: dict, key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, list):
        raise errors.bad_request(f"Parameter {key} may be given only once.")
    return value


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _parse_bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise errors.bad_request(f"Invalid value for {key}: {value!r}; use true or false.")
    return lowered == "true"


def _parse_int(key: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f"Invalid value for {key}: {value!r} is not an integer.") from None
    if not -(1 << 63) <= number < (1 << 63):
        raise errors.bad_request(f"Invalid value for {key}: {value} is out of range.")
    return number


def _parse_time(key: str, value: str) -> datetime.datetime:
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise errors.bad_request(f"Invalid time for {key}: {value!r}; use ISO 8601, e.g. "
                                 "2026-11-24T16:33:13Z.") from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        except OverflowError:
            raise errors.bad_request(f"Invalid time for {key}: {value!r} is out of "
                                     "range.") from None
    return moment


def _in_values(text: str) -> list[str]:
    # name=in:"a, b","c" : values may be quoted to carry commas.
    return [v.strip() for v in next(csv.reader([text], skipinitialspace=True)) if v.strip()]


def sorting(params: dict) -> list[tuple[str, str]]:
    def key_ok(key: str) -> str:
        if key not in SORT_KEYS:
            raise errors.bad_request(f"Invalid sort key: {key}. It must be one of the "
                                     f"following: {', '.join(SORT_KEYS)}.")
        return key

    def dir_ok(direction: str) -> str:
        if direction not in ("asc", "desc"):
            raise errors.bad_request(f"Invalid sort direction: {direction}")
        return direction

    if "sort" in params:
        if "sort_key" in params or "sort_dir" in params:
            raise errors.bad_request("Old and new sorting syntax cannot be combined")
        pairs = []
        for item in ",".join(_as_list(params["sort"])).split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key_ok(key.strip()), dir_ok(direction.strip() or "desc")))
        return pairs
    keys = [key_ok(k.strip()) for k in _as_list(params.get("sort_key"))] or ["created_at"]
    dirs = [dir_ok(d.strip()) for d in _as_list(params.get("sort_dir"))] or ["desc"]
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise errors.bad_request("Number of sort dirs does not match the number of sort keys")
    if len(dirs) == 1:
        dirs = dirs * len(keys)
    return list(zip(keys, dirs))


def filters(params: dict) -> tuple[list, list[tuple[type[peewee.Model], list]]]:
    """(conditions on the image's own columns, [(ImageTag or ImageProperty, conditions on
    one of its rows)] for each tag and property asked for)."""
    given = sum(len(_as_list(values)) for key, values in params.items()
                if key not in RESERVED_PARAMS - {"tag"} and key != "visibility")
    if given > MAX_FILTERS:
        raise errors.bad_request(f"Too many filters: {given}; a list takes at most "
                                 f"{MAX_FILTERS} filters and tags together.")
    clauses: list = []
    children: list[tuple[type[peewee.Model], list]] = []
    hidden_given = False
    for key, raw in params.items():
        if key in RESERVED_PARAMS or key == "visibility":
            continue
        if key == "changes-since":
            raise errors.bad_request('The "changes-since" filter is no longer available on v2.')
        values = _as_list(raw)
        for value in values:
            if key == "size_min":
                clauses.append(Image.size >= _parse_int(key, value))
            elif key == "size_max":
                clauses.append(Image.size <= _parse_int(key, value))
            elif key in ("protected", "os_hidden"):
                hidden_given |= key == "os_hidden"
                clauses.append(getattr(Image, key) == _parse_bool(key, value))
            elif key in TIME_FIELDS:
                op, sep, moment = value.partition(":")
                if not sep or op not in TIME_OPS:
                    op, moment = "eq", value
                column = getattr(Image, key)
                clauses.append(getattr(column, TIME_OPS[op])(_parse_time(key, moment)))
            elif key in IN_FIELDS:
                column = getattr(Image, key)
                if value.startswith("in:"):
                    clauses.append(column.in_(_in_values(value[3:])))
                else:
                    clauses.append(column == value)
            elif key in ("size", "min_ram", "min_disk", "virtual_size"):
                clauses.append(getattr(Image, key) == _parse_int(key, value))
            else:
                # Any other key filters on an extra property.
                children.append((ImageProperty, [ImageProperty.name == key,
                                                 ImageProperty.value == value]))
    if not hidden_given:
        clauses.append(Image.os_hidden == False)  # noqa: E712 - SQL expression
    children[:0] = [(ImageTag, [ImageTag.value == tag]) for tag in _as_list(params.get("tag"))]
    return clauses, children
