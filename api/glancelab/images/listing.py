"""GET /v2/images: filters, sorting and keyset pagination, all pushed down to SQL."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import functools
import operator

import peewee
from peewee import fn

from glancelab import errors
from glancelab.identity.context import RequestContext
from glancelab.db import QueryTimeout, pages, time_bounded
from glancelab.db.models import Image, ImageMember, ImageProperty, ImageTag
from glancelab.runtime import Runtime
from glancelab.identity import access

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


def _single(params: dict, key: str) -> str | None:
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


def _sorting(params: dict) -> list[tuple[str, str]]:
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


@dataclasses.dataclass(frozen=True)
class _SharedWithCaller:
    """The shared images the caller's project is a member of (any member status when
    `status` is None)."""
    project: str
    status: str | None

    def membership(self) -> list:
        conditions = [ImageMember.member == self.project]
        if self.status is not None:
            conditions.append(ImageMember.status == self.status)
        return conditions

    def clause(self):
        return (Image.visibility == "shared") & Image.id.in_(
            ImageMember.select(ImageMember.image).where(*self.membership()))


@dataclasses.dataclass(frozen=True)
class _OwnedByCaller:
    """The caller's project's images (of one visibility, when given)."""
    project: str
    visibility: str | None = None

    def clause(self):
        own = Image.owner == self.project
        return own if self.visibility is None else own & (Image.visibility == self.visibility)


def _visible_parts(ctx: RequestContext, visibility: str | None, member_status: str) -> list:
    """What the caller may list, as alternatives (any one admits an image); [] when
    nothing limits an admin."""
    if ctx.is_admin:
        return [] if visibility in (None, "all") else [Image.visibility == visibility]
    own = _OwnedByCaller(ctx.project_id)
    shared = _SharedWithCaller(ctx.project_id, None if member_status == "all" else member_status)
    if visibility is None:
        return [own, Image.visibility == "public", shared]
    if visibility == "all":
        return [own, Image.visibility == "public", Image.visibility == "community", shared]
    if visibility in ("public", "community"):
        return [Image.visibility == visibility]
    if visibility == "private":
        return [_OwnedByCaller(ctx.project_id, "private")]
    return [_OwnedByCaller(ctx.project_id, "shared"), shared]  # shared


def _either(parts: list) -> list:
    if not parts:
        return []
    clauses = [part.clause() if isinstance(part, (_OwnedByCaller, _SharedWithCaller)) else part
               for part in parts]
    return [functools.reduce(operator.or_, clauses)]


def _filters(params: dict) -> tuple[list, list[tuple[type[peewee.Model], list]]]:
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


def _having(model: type[peewee.Model], conditions: list):
    return Image.id.in_(model.select(model.image).where(*conditions))


def _also_having(model: type[peewee.Model], conditions: list):
    # EXISTS, not IN, beside a walk: SQLite would otherwise loop over the IN list (every
    # image with the tag) and sort them, instead of checking each image of the walk.
    return fn.EXISTS(model.select(peewee.SQL("1")).where(model.image == Image.id, *conditions))


def _creation_order(keys: list[tuple[str, str]]) -> str | None:
    """The direction when a page is in creation order (Glance's default), else None."""
    if [key for key, _ in keys] == ["created_at", "id"] and keys[0][1] == keys[1][1]:
        return keys[0][1]
    return None


def _copy_order(model: type[peewee.Model], direction: str) -> pages.Sorting:
    """Creation order read from a child table's copy of its image's created_at."""
    return pages.Sorting(((model.image_created_at, direction), (model.image, direction)),
                         anchor_names=("created_at", "id"))


def _walks(keys: list[tuple[str, str]], clauses: list, children: list,
           parts: list) -> list[tuple[peewee.Select, pages.Sorting]]:
    """The queries whose pages, merged, are the page asked for.

    In creation order each kind of visible image (own, public, shared with the caller)
    is its own query, and each query walks one index in that order and stops at the
    page's end, whatever the catalogue's size: the project's own images, the caller's
    shares (their copy of created_at), else the first tag or property asked for (its
    copy), else the image table; any other tag or property is checked on each image
    walked. An OR of them in one query would be planned as a sort of every match. Any
    other order is one query."""
    image_order = pages.Sorting(tuple((getattr(Image, key), direction)
                                      for key, direction in keys))
    direction = _creation_order(keys)
    if direction is None or (not children and len(parts) < 2):
        # (clauses always holds the os_hidden condition, so where() has one at least)
        return [(Image.select().where(*clauses, *[_having(*child) for child in children],
                                      *_either(parts)), image_order)]
    walks = []
    for part in parts or [None]:
        conditions, checked = list(clauses), children
        if isinstance(part, _OwnedByCaller):
            query, order = Image.select(), image_order
            conditions.append(part.clause())
        elif isinstance(part, _SharedWithCaller):
            query = Image.select().join(ImageMember, on=(ImageMember.image == Image.id))
            conditions += [*part.membership(), Image.visibility == "shared"]
            order = _copy_order(ImageMember, direction)
        else:
            if children:
                (model, child_conditions), checked = children[0], children[1:]
                query = Image.select().join(model, on=(model.image == Image.id))
                conditions += child_conditions
                order = _copy_order(model, direction)
            else:
                query, order = Image.select(), image_order
            if part is not None:
                conditions.append(part)
        walks.append((query.where(*conditions, *[_also_having(*child) for child in checked]),
                      order))
    return walks


def list_images(rt: Runtime, ctx: RequestContext, params: dict) -> dict:
    access.authorize(ctx, "get_images")
    limit = pages.limit_of(_single(params, "limit"), rt.settings.limit_param_default,
                           rt.settings.api_limit_max)
    member_status = _single(params, "member_status") or "accepted"
    if member_status not in ("pending", "accepted", "rejected", "all"):
        raise errors.bad_request(f"Invalid status: {member_status}")
    visibility = _single(params, "visibility")
    if visibility and visibility not in ("community", "public", "private", "shared", "all"):
        raise errors.bad_request(f"Invalid visibility value: {visibility}")
    keys = _sorting(params)
    if "id" not in [key for key, _ in keys]:
        keys.append(("id", keys[-1][1]))  # a total order, so pages never overlap
    clauses, children = _filters(params)
    walks = _walks(keys, clauses, children, _visible_parts(ctx, visibility, member_status))
    marker = None
    marker_id = _single(params, "marker")
    if marker_id is not None:
        marker = Image.get_or_none(Image.id == marker_id)
        if marker is None or not access.can_see(ctx, marker):
            raise errors.bad_request(f"marker {marker_id} could not be found.")
    try:
        with time_bounded(rt.settings.list_query_timeout):
            rows, more = pages.read_union(walks, limit, marker)
    except QueryTimeout:
        raise errors.unavailable(f"The image list did not finish within "
                                 f"{rt.settings.list_query_timeout:g} s; use fewer filters, "
                                 "or retry when the database is less busy.") from None
    page = pages.links("/v2/images", params, rows[-1].id if rows else None, more)
    return {"images": rows, **page, "schema": "/v2/schemas/images"}
